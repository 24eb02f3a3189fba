"""Default cost types per standard cost code (standard_cost_code.default_category): the guide's
"Assign Default Cost Types To ERP Standard Cost Codes".

Revision ID: 5b8e1c7d2f40
Revises: c3a91f5d7e20
Create Date: 2026-12-07 20:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5b8e1c7d2f40'
down_revision = 'c3a91f5d7e20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('standard_cost_code') as batch_op:
        batch_op.add_column(sa.Column('default_category', sa.String(length=3), nullable=True))


def downgrade():
    with op.batch_alter_table('standard_cost_code') as batch_op:
        batch_op.drop_column('default_category')
