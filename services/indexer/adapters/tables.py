"""The indexer's tables (SQLAlchemy Core). ``metadata.create_all(engine)`` creates them (bootstrap).

- ``files``: one row per conda file; ``record_json`` is the canonical repodata fragment (domain/records.py),
  ``name`` the package name of its record (its shard), ``run_exports_json`` its run_exports (NULL = unknown).
- ``file_labels``: labels carried by each file.
- ``stream_positions``: last applied sequence of each registry stream (the owner namespace).
- ``dirty``: channels to rebuild. A row is dirty while ``generation > published_generation``; marking bumps
  ``generation``, publishing sets ``published_generation`` to the generation it read before building, so a
  change that lands while an index is being built is never lost and a slower builder never overwrites a
  newer index. Rows are kept (cleared, not deleted) so generations only grow. ``changed_at`` is the newest
  ``occurred_at`` (epoch ms) of the events applied to the channel, ``public_changed_at`` of those that touched
  a public file: the ``created_at`` of the private and public shard indexes (so private activity never moves
  the public one).
- ``dirty_names``: package names whose shards must be rebuilt, with the channel generation that marked them;
  publishing generation G clears the names marked at G or before.
- ``published``: pointers to the current index blobs of each (owner, label, subdir, audience, filename).
- ``shards``: the shard of each (owner, label, subdir, audience, package name) that the current shard index
  lists (written in the transaction that flips the pointers).

PyPI tables are in pypi_tables.py (same ``metadata``).
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

metadata = MetaData()

files = Table(
    "indexer_files", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("package", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("basename", String(300), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("subdir", String(64), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("sha256", String(64), nullable=False),      # of the package file (downloads: lookup_file)
    Column("size", BigInteger, nullable=False),
    Column("blob_key", String(300), nullable=False),
    Column("record_json", Text, nullable=False),
    Column("name", String(200), nullable=False),
    Column("run_exports_json", Text, nullable=True),
    UniqueConstraint("owner", "package", "version", "basename", name="uq_indexer_files_ref"),
    Index("ix_indexer_files_owner_subdir", "owner", "subdir", "filename"),
    Index("ix_indexer_files_owner_subdir_name", "owner", "subdir", "name"),
)

file_labels = Table(
    "indexer_file_labels", metadata,
    Column("file_id", Integer, ForeignKey("indexer_files.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(200), primary_key=True),
    Index("ix_indexer_file_labels_label", "label", "file_id"),
)

stream_positions = Table(
    "indexer_stream_positions", metadata,
    Column("stream_id", String(200), primary_key=True),
    Column("last_sequence", Integer, nullable=False),
)

dirty = Table(
    "indexer_dirty", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("subdir", String(64), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("published_generation", Integer, nullable=False),
    Column("changed_at", BigInteger, nullable=False, server_default="0"),
    Column("public_changed_at", BigInteger, nullable=False, server_default="0"),
)

dirty_names = Table(
    "indexer_dirty_names", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("subdir", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("generation", Integer, nullable=False),
)

published = Table(
    "indexer_published", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("subdir", String(64), primary_key=True),
    Column("audience", String(16), primary_key=True),
    Column("filename", String(100), primary_key=True),
    Column("key", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)

shards = Table(
    "indexer_shards", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("subdir", String(64), primary_key=True),
    Column("audience", String(16), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("key", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_indexer_shards_sha256", "owner", "label", "subdir", "audience", "sha256"),
)

CONDA_TABLES = (file_labels, published, shards, dirty_names, dirty, stream_positions, files)   # children first
