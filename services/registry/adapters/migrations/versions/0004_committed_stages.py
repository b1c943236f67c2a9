"""Committed stages: which file the commit of each dist_id created, so that a retried commit is answered with it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "committed_stages" in set(sa.inspect(op.get_bind()).get_table_names()):
        return   # a database made by create_all of this metadata, adopted (as the baseline does)
    op.create_table("committed_stages",
        sa.Column("dist_id", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("package", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("basename", sa.String(length=250), nullable=False),
        sa.Column("committed_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("dist_id")
    )
    op.create_index("ix_committed_stages_committed_at", "committed_stages", ["committed_at"])


def downgrade() -> None:
    op.drop_index("ix_committed_stages_committed_at", table_name="committed_stages")
    op.drop_table("committed_stages")
