"""Retired shards: shards a publication replaced stay readable for a grace period.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "indexer_retired_shards" in set(sa.inspect(op.get_bind()).get_table_names()):
        return   # a database made by create_all of this metadata, adopted (as the baseline does)
    op.create_table("indexer_retired_shards",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("subdir", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "label", "subdir", "audience", "sha256")
    )
    op.create_index("ix_indexer_retired_shards_at", "indexer_retired_shards", ["retired_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_indexer_retired_shards_at", table_name="indexer_retired_shards")
    op.drop_table("indexer_retired_shards")
