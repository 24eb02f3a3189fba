"""Join the two heads main gained from two merges on the same day (the audit log's note index and
invoice entry and review both follow 0551c704e1c4): no schema change, one head again, so
`flask db upgrade` (scripts/run, the tests) knows where to go.

Revision ID: 976a794c83ca
Revises: 12e733c5c832, 76e1810c183a
Create Date: 2026-12-08 00:06:43.571472

"""

# revision identifiers, used by Alembic.
revision = '976a794c83ca'
down_revision = ('12e733c5c832', '76e1810c183a')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
