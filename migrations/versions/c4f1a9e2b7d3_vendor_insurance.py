"""Vendor insurance certificates synced from Sage's AP Vendor Insurance (vendor_insurance), for
the compliance gate on subcontractor invoices and commitments.

Revision ID: c4f1a9e2b7d3
Revises: c5a1e7d3b912
Create Date: 2026-12-07 20:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4f1a9e2b7d3'
down_revision = 'c5a1e7d3b912'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'vendor_insurance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('vendor_id', sa.Integer(), nullable=False),
        sa.Column('insurance_type', sa.String(length=30), nullable=False),
        sa.Column('policy_number', sa.String(length=20), nullable=False),
        sa.Column('carrier', sa.String(length=30), nullable=False),
        sa.Column('limit_amount', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('effective_date', sa.Date(), nullable=True),
        sa.Column('expiration_date', sa.Date(), nullable=True),
        sa.Column('synced_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['vendor_id'], ['vendor.id'], name=op.f('fk_vendor_insurance_vendor_id_vendor'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_insurance')),
        sa.UniqueConstraint('vendor_id', 'insurance_type', name=op.f('uq_vendor_insurance_vendor_id')),
    )
    with op.batch_alter_table('vendor_insurance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_insurance_vendor_id'), ['vendor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vendor_insurance_expiration_date'), ['expiration_date'], unique=False)


def downgrade():
    with op.batch_alter_table('vendor_insurance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_insurance_expiration_date'))
        batch_op.drop_index(batch_op.f('ix_vendor_insurance_vendor_id'))
    op.drop_table('vendor_insurance')
