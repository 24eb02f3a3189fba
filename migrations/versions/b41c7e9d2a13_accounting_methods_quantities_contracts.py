"""Accounting methods and quantities (issue 13, part 1): a commitment's accounting method
(amount / unit), a change order line's Qty and Unit Cost, the quantity an invoice line bills
this period, a prime contract's accounting method chosen before import, and the Sage contract
(and units, unit cost) of each prime contract item, so several Sage contracts can be imported
into one prime contract.

Revision ID: b41c7e9d2a13
Revises: 5b8e1c7d2f40
Create Date: 2026-12-07 20:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b41c7e9d2a13'
down_revision = '5b8e1c7d2f40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('commitment') as batch:
        batch.add_column(sa.Column('accounting_method', sa.String(10), nullable=False, server_default='amount'))
    with op.batch_alter_table('invoice_line') as batch:
        batch.add_column(sa.Column('quantity', sa.Numeric(14, 4), nullable=True))
    with op.batch_alter_table('cco_line') as batch:
        batch.add_column(sa.Column('units', sa.Numeric(14, 4), nullable=True))
        batch.add_column(sa.Column('unit_cost', sa.Numeric(14, 4), nullable=True))
    with op.batch_alter_table('prime_contract') as batch:
        batch.add_column(sa.Column('accounting_method', sa.String(10), nullable=False, server_default='amount'))
    with op.batch_alter_table('prime_contract_item') as batch:
        batch.add_column(sa.Column('sage_contract_id', sa.String(20), nullable=True))
        batch.add_column(sa.Column('units', sa.Numeric(14, 4), nullable=True))
        batch.add_column(sa.Column('unit_cost', sa.Numeric(14, 4), nullable=True))


def downgrade():
    with op.batch_alter_table('prime_contract_item') as batch:
        batch.drop_column('unit_cost')
        batch.drop_column('units')
        batch.drop_column('sage_contract_id')
    with op.batch_alter_table('prime_contract') as batch:
        batch.drop_column('accounting_method')
    with op.batch_alter_table('cco_line') as batch:
        batch.drop_column('unit_cost')
        batch.drop_column('units')
    with op.batch_alter_table('invoice_line') as batch:
        batch.drop_column('quantity')
    with op.batch_alter_table('commitment') as batch:
        batch.drop_column('accounting_method')
