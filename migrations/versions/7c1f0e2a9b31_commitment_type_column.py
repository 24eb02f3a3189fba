"""commitment.kind is named commitment_type (Sage's "Commitment Type": subcontract or purchase order)

Revision ID: 7c1f0e2a9b31
Revises: 35d4ecce713c
Create Date: 2026-12-07 06:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '7c1f0e2a9b31'
down_revision = '35d4ecce713c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('commitment') as batch_op:
        batch_op.alter_column('kind', new_column_name='commitment_type')


def downgrade():
    with op.batch_alter_table('commitment') as batch_op:
        batch_op.alter_column('commitment_type', new_column_name='kind')
