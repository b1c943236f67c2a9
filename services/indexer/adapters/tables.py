"""The indexer's tables (SQLAlchemy Core). Alembic revisions in ``migrations/`` create them (schema.py,
``wharf migrate indexer``); the revisions must give exactly this metadata (tests/deploy/test_migrations.py).

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
- ``publications``: the publication log: one row per pointer flip of a conda channel (generation, replica,
  epoch ms, latency from the newest included change), written in the flip's transaction while the channel's
  ``dirty`` row is locked, so per channel the ids follow the publish order; the last ``PUBLICATIONS_KEPT``
  rows of each channel are kept (operators: who published what, when; tests: order and work sharing).
- ``shards``: the shard of each (owner, label, subdir, audience, package name) that the current shard index
  lists (written in the transaction that flips the pointers).
- ``retired_shards``: shards a flip replaced, with when (epoch ms). They stay readable for the shard grace
  period, because a client (or the gateway's cache) may hold the previous shard index a little longer and must
  not get a 404 for a shard it names; a name that leaves an audience's view takes its retired shards with it.
- ``dead_letters``: per stream, the event it is stopped at (parked): one the indexer cannot apply, malformed
  (``reason`` "malformed") or of a version newer than its code knows ("newer_version"), with the error, the
  payload as received and how often it was tried. The stream's position stays before it, so nothing after it
  is applied (those events wait in the registry's log); every catch-up round and ``wharf events retry`` read
  the stream again from the log, and the row goes once the event applies (dead_letters.py).

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
    Column("encoding", String(16), nullable=True),    # "zstd": `key` holds these bytes compressed
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
    Column("pack_offset", BigInteger, nullable=True),     # the shard's first byte in the pack `key`; None: whole
    Index("ix_indexer_shards_sha256", "owner", "label", "subdir", "audience", "sha256"),
)

retired_shards = Table(
    "indexer_retired_shards", metadata,
    Column("owner", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("subdir", String(64), primary_key=True),
    Column("audience", String(16), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key", String(300), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=False),          # epoch ms
    Column("pack_offset", BigInteger, nullable=True),
    Index("ix_indexer_retired_shards_at", "retired_at"),
)

publications = Table(
    "indexer_publications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("label", String(200), nullable=False),
    Column("subdir", String(64), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("replica", String(200), nullable=False),
    Column("published_at", BigInteger, nullable=False),        # epoch ms
    Column("latency_ms", BigInteger, nullable=True),           # published_at - newest included change
    Index("ix_indexer_publications_channel", "owner", "label", "subdir", "id"),
)
PUBLICATIONS_KEPT = 100

dead_letters = Table(
    "indexer_dead_letters", metadata,
    Column("stream_id", String(200), primary_key=True),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("reason", String(32), nullable=False),       # "malformed" | "newer_version"
    Column("error", Text, nullable=False),
    Column("payload", Text, nullable=False),            # the event as received (JSON)
    Column("parked_at", BigInteger, nullable=False),    # epoch ms
    Column("tried_at", BigInteger, nullable=False),     # epoch ms of the last attempt
    Column("attempts", Integer, nullable=False),
)

# children first
CONDA_TABLES = (file_labels, published, shards, retired_shards, dirty_names, dirty, stream_positions, files,
                publications, dead_letters)
