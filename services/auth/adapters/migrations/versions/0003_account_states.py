"""Account states and session tokens: ``accounts.disabled_at`` and ``deleted_at``; ``tokens.kind`` (``api`` or
``session``). Existing web sign-in tokens (note ``web-session-...``, created by the web UI and kept in its
cookie) become sessions, so they stop working as API tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    accounts = _columns("accounts")   # a database made by create_all of this metadata already has them: adopted
    with op.batch_alter_table("accounts") as batch:
        for name in ("disabled_at", "deleted_at"):
            if name not in accounts:
                batch.add_column(sa.Column(name, sa.DateTime(), nullable=True))
    if "kind" not in _columns("tokens"):
        with op.batch_alter_table("tokens") as batch:
            batch.add_column(sa.Column("kind", sa.String(length=8), nullable=False, server_default="api"))
        op.execute("UPDATE tokens SET kind = 'session' WHERE note LIKE 'web-session-%'")


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("disabled_at")
