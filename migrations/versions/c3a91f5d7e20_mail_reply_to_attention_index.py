"""A rejection mail's Reply-To (outbox_mail.reply_to: the approver who rejected the item), and
the index the Needs attention desk reads (erp_item state, project_id).

Revision ID: c3a91f5d7e20
Revises: 14ce9ccb5351
Create Date: 2026-12-07 19:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3a91f5d7e20'
down_revision = '14ce9ccb5351'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))
    with op.batch_alter_table('erp_item', schema=None) as batch_op:
        batch_op.create_index('ix_erp_item_attention', ['state', 'project_id'], unique=False)


def downgrade():
    with op.batch_alter_table('erp_item', schema=None) as batch_op:
        batch_op.drop_index('ix_erp_item_attention')
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
