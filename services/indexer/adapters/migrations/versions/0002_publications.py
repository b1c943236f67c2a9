"""Publication log: one row per pointer flip of a conda channel (which replica, when, latency).

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
    if "indexer_publications" in set(sa.inspect(op.get_bind()).get_table_names()):
        return   # a database made by create_all of this metadata, adopted (as the baseline does)
    op.create_table("indexer_publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("subdir", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("replica", sa.String(length=200), nullable=False),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_indexer_publications_channel", "indexer_publications",
                    ["owner", "label", "subdir", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_indexer_publications_channel", table_name="indexer_publications")
    op.drop_table("indexer_publications")
