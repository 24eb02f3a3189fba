"""API tokens expire and are revoked at a time (api_token.expires_at, revoked_at instead of
revoked), and an audit of who created and revoked which token (api_token_audit). A token made
before keeps working until 90 days after this upgrade.

Revision ID: 72d88b7bd591
Revises: 8e2b4d6f1a07
Create Date: 2026-12-09 10:00:00

"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '72d88b7bd591'
down_revision = '8e2b4d6f1a07'
branch_labels = None
depends_on = None

EXISTING_TOKEN_DAYS = 90
UNNAMED = 'token made before names'

api_token = sa.table(
    'api_token',
    sa.column('name', sa.String), sa.column('expires_at', sa.DateTime),
    sa.column('revoked', sa.Boolean), sa.column('revoked_at', sa.DateTime))


def upgrade():
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with op.batch_alter_table('api_token') as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
    op.execute(api_token.update().values(expires_at=now + timedelta(days=EXISTING_TOKEN_DAYS)))
    op.execute(api_token.update().where(api_token.c.revoked == sa.true()).values(revoked_at=now))
    op.execute(api_token.update().where(sa.or_(api_token.c.name.is_(None), api_token.c.name == ''))
               .values(name=UNNAMED))
    with op.batch_alter_table('api_token') as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_column('revoked')
    op.create_table(
        'api_token_audit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'],
                                name=op.f('fk_api_token_audit_actor_id_user_account')),
        sa.ForeignKeyConstraint(['token_id'], ['api_token.id'],
                                name=op.f('fk_api_token_audit_token_id_api_token'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token_audit')))
    with op.batch_alter_table('api_token_audit') as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_audit_token_id'), ['token_id'], unique=False)


def downgrade():
    with op.batch_alter_table('api_token_audit') as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_audit_token_id'))
    op.drop_table('api_token_audit')
    with op.batch_alter_table('api_token') as batch_op:
        batch_op.add_column(sa.Column('revoked', sa.Boolean(), nullable=False, server_default=sa.false()))
    # An expired token was never revoked; it would work again, so it is revoked on the way down.
    now = datetime.now(UTC).replace(tzinfo=None)
    op.execute(api_token.update().where(sa.or_(api_token.c.revoked_at.is_not(None),
                                               api_token.c.expires_at <= now)).values(revoked=True))
    with op.batch_alter_table('api_token') as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
