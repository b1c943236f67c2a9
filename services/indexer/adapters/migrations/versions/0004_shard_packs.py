"""Shard packs: a shard may be a byte range of a pack object (``pack_offset``; NULL: the whole object).
Encoded pointers: a published file may be stored compressed (``encoding``: "zstd"; NULL: as served).

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

COLUMNS = (("indexer_shards", "pack_offset", sa.BigInteger()),
           ("indexer_retired_shards", "pack_offset", sa.BigInteger()),
           ("indexer_published", "encoding", sa.String(length=16)))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column, type_ in COLUMNS:
        if column in {c["name"] for c in inspector.get_columns(table)}:
            continue   # a database made by create_all of this metadata, adopted (as the baseline does)
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, type_, nullable=True))


def downgrade() -> None:
    for table, column, _type in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
