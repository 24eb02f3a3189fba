"""retries of transient Sage faults (erp_item.retries, retry_at) and mail due times
(outbox_mail.next_attempt_at): the reaper, not RQ's scheduler, runs what is due

Revision ID: 8e2b4d6f1a07
Revises: 7c1f0e2a9b31
Create Date: 2026-12-07 17:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '8e2b4d6f1a07'
down_revision = '7c1f0e2a9b31'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('erp_item') as batch_op:
        batch_op.add_column(sa.Column('retries', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('retry_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('outbox_mail') as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_outbox_mail_due', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_mail') as batch_op:
        batch_op.drop_index('ix_outbox_mail_due')
        batch_op.drop_column('next_attempt_at')
    with op.batch_alter_table('erp_item') as batch_op:
        batch_op.drop_column('retry_at')
        batch_op.drop_column('retries')
