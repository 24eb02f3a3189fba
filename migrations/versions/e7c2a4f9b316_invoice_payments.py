"""Payments back from Sage: each check Sage applied to a subcontractor invoice (invoice_payment,
unique per Sage payment) and the invoice's paid total and payment status.

Revision ID: e7c2a4f9b316
Revises: c4f1a9e2b7d3
Create Date: 2026-12-07 20:15:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e7c2a4f9b316'
down_revision = 'c4f1a9e2b7d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoice_payment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('sage_key', sa.String(length=40), nullable=False),
        sa.Column('check_number', sa.String(length=10), nullable=False),
        sa.Column('check_date', sa.Date(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('synced_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['subcontractor_invoice.id'],
                                name=op.f('fk_invoice_payment_invoice_id_subcontractor_invoice'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payment')),
        sa.UniqueConstraint('sage_key', name=op.f('uq_invoice_payment_sage_key')),
    )
    with op.batch_alter_table('invoice_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_payment_invoice_id'), ['invoice_id'], unique=False)
    with op.batch_alter_table('subcontractor_invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amount_paid', sa.Numeric(precision=14, scale=2), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('payment_status', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('subcontractor_invoice', schema=None) as batch_op:
        batch_op.drop_column('payment_status')
        batch_op.drop_column('amount_paid')
    with op.batch_alter_table('invoice_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_payment_invoice_id'))
    op.drop_table('invoice_payment')
