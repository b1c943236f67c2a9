"""Download counters per file (not derived from the event log; kept by rebuild_projections).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "downloads" in set(sa.inspect(op.get_bind()).get_table_names()):
        return   # a database made by create_all of this metadata, adopted (as the baseline does)
    op.create_table("downloads",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("file_id")
    )


def downgrade() -> None:
    op.drop_table("downloads")
