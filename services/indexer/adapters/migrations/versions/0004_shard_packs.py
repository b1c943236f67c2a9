"""Shard packs: a shard may be a byte range of a pack object (``pack_offset``; NULL: the whole object).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("indexer_shards", "indexer_retired_shards")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        if "pack_offset" in {c["name"] for c in inspector.get_columns(table)}:
            continue   # a database made by create_all of this metadata, adopted (as the baseline does)
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("pack_offset", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("pack_offset")
