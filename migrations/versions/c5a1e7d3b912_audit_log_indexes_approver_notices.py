"""The audit log page reads each audited table newest first from an index on (time, id); the
approvers' notices: a per-user daily summary opt-out and resent-notice choice, the daily
summary's once-a-day marker (daily_summary_run) and the lines waiting for a digest (digest_note).

Revision ID: c5a1e7d3b912
Revises: b41c7e9d2a13
Create Date: 2026-12-07 20:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5a1e7d3b912'
down_revision = 'b41c7e9d2a13'
branch_labels = None
depends_on = None

INDEXES = [
    ('erp_audit', 'ix_erp_audit_at_id', ['at', 'id']),
    ('erp_audit', 'ix_erp_audit_actor_at_id', ['actor_id', 'at', 'id']),
    ('erp_audit', 'ix_erp_audit_action_at_id', ['action', 'at', 'id']),
    ('setting_change', 'ix_setting_change_at_id', ['at', 'id']),
    ('sync_run', 'ix_sync_run_created_id', ['created_at', 'id']),
    ('outbox_mail', 'ix_outbox_mail_created_id', ['created_at', 'id']),
    ('api_token_audit', 'ix_api_token_audit_at_id', ['at', 'id']),
    ('sage_record', 'ix_sage_record_decided_id', ['decided_at', 'id']),
]


def upgrade():
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    # plain ADD COLUMN, never a batch copy: on SQLite that drops user_account, and with foreign
    # keys on the drop would cascade to every user's tokens and project memberships
    op.add_column('user_account', sa.Column('daily_summary', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('user_account', sa.Column('resent_notice', sa.String(length=10), nullable=False,
                                            server_default='email'))
    op.create_table(
        'daily_summary_run',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=False),
        sa.Column('sent', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_daily_summary_run')))
    op.create_table(
        'digest_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('erp_item_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('link', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('summary_day', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['erp_item_id'], ['erp_item.id'], name=op.f('fk_digest_note_erp_item_id_erp_item')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_digest_note_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_note')))
    op.create_index('ix_digest_note_pending', 'digest_note', ['user_id', 'summary_day'], unique=False)


def downgrade():
    op.drop_index('ix_digest_note_pending', table_name='digest_note')
    op.drop_table('digest_note')
    op.drop_table('daily_summary_run')
    op.drop_column('user_account', 'resent_notice')   # SQLite 3.35+ drops a column in place
    op.drop_column('user_account', 'daily_summary')
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
