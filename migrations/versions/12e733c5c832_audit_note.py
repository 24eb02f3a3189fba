"""The audit log's search of reasons and Sage's messages reads an index: each rejection's and failed
export's words, lowercased, in erp_audit.note (filled for the rows already there), and the action
index carries it (ix_erp_audit_action_at_id_note replaces ix_erp_audit_action_at_id), so a search
tests each row from the index instead of reading its JSON detail.

Revision ID: 12e733c5c832
Revises: 0551c704e1c4
Create Date: 2026-12-07 23:36:28.223448

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '12e733c5c832'
down_revision = '0551c704e1c4'
branch_labels = None
depends_on = None

TEXT_ACTIONS = ("reject", "export_failed")
NOTE_MAX = 500   # as portal.domain.lifecycle.NOTE_MAX when this was written
CHUNK = 1000


def note_of(detail):
    """portal.domain.lifecycle.search_note as it was when this was written."""
    if not isinstance(detail, dict):
        return None
    words = [str(v) for v in detail.values() if isinstance(v, str | int | float) and not isinstance(v, bool)]
    return " · ".join(w for w in words if w).lower()[:NOTE_MAX] or None


def upgrade():
    with op.batch_alter_table('erp_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_erp_audit_action_at_id'))

    audit = sa.table('erp_audit', sa.column('id', sa.Integer), sa.column('action', sa.String),
                     sa.column('detail', sa.JSON), sa.column('note', sa.Text))
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(audit.c.id, audit.c.detail).where(
            audit.c.action.in_(TEXT_ACTIONS), audit.c.id > last).order_by(audit.c.id).limit(CHUNK)).all()
        if not rows:
            break
        notes = [{"row_id": i, "note": note_of(detail)} for i, detail in rows]
        conn.execute(audit.update().where(audit.c.id == sa.bindparam("row_id")).values(note=sa.bindparam("note")),
                     [n for n in notes if n["note"] is not None] or [{"row_id": 0, "note": None}])
        last = rows[-1][0]

    with op.batch_alter_table('erp_audit', schema=None) as batch_op:
        batch_op.create_index('ix_erp_audit_action_at_id_note', ['action', 'at', 'id', 'note'], unique=False)


def downgrade():
    with op.batch_alter_table('erp_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_erp_audit_action_at_id_note')
        batch_op.create_index(batch_op.f('ix_erp_audit_action_at_id'), ['action', 'at', 'id'], unique=False)
        batch_op.drop_column('note')
