"""Edits are history: every edit of an item after it was first sent (erp_edit: who, when, each
field or line changed, old -> new), and what a resend changed since the rejection
(erp_item.resend_note, shown on the approver's tab row).

Revision ID: 14ce9ccb5351
Revises: 72d88b7bd591
Create Date: 2026-12-07 19:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '14ce9ccb5351'
down_revision = '72d88b7bd591'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'erp_edit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('erp_item_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_erp_edit_actor_id_user_account')),
        sa.ForeignKeyConstraint(['erp_item_id'], ['erp_item.id'], name=op.f('fk_erp_edit_erp_item_id_erp_item')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_edit')))
    with op.batch_alter_table('erp_edit') as batch_op:
        batch_op.create_index(batch_op.f('ix_erp_edit_erp_item_id'), ['erp_item_id'], unique=False)
    with op.batch_alter_table('erp_item') as batch_op:
        batch_op.add_column(sa.Column('resend_note', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('erp_item') as batch_op:
        batch_op.drop_column('resend_note')
    with op.batch_alter_table('erp_edit') as batch_op:
        batch_op.drop_index(batch_op.f('ix_erp_edit_erp_item_id'))
    op.drop_table('erp_edit')
