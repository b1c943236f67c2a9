"""The registry's tables.

- ``events``: the event log, which is also the transactional outbox (``published``). Append-only.
- ``streams``: one row per stream holding its last sequence; locked (``FOR UPDATE``) by every command on
  PostgreSQL so that commands on one owner serialise and sequences stay 1..n without gaps.
- read tables (projections, rebuilt from the log): ``packages``, ``releases``, ``files``, ``file_labels``,
  ``label_locks``, ``collaborators``.
- ``staged``: uploads between ``stage`` and ``commit``; not events, not a projection.
- ``committed_stages``: which file each committed stage became (``file_id``), kept for a day so that a retried
  commit of the same ``dist_id`` answers with that file instead of a 404; not events, not a projection.
- ``released_blobs``: blobs a file record or a stage stopped naming, and when; kept by replay (see below).

JSON values are stored as text (portable between SQLite and PostgreSQL). ``*_pos`` columns hold the log position
of the event that created the row, so ordering is deterministic and identical after a replay.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text, false,
                        UniqueConstraint)

metadata = MetaData()

_Position = BigInteger().with_variant(Integer(), "sqlite")   # SQLite autoincrements INTEGER PRIMARY KEY only

events = Table(
    "events", metadata,
    Column("position", _Position, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("stream_id", String(200), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("correlation_id", String(200), nullable=True),
    Column("data", Text, nullable=False),
    Column("published", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("stream_id", "sequence", name="uq_events_stream_sequence"),
    Index("ix_events_published_position", "published", "position"),
)

streams = Table(
    "streams", metadata,
    Column("stream_id", String(200), primary_key=True),
    Column("last_sequence", Integer, nullable=False, default=0),
)

packages = Table(
    "packages", metadata,
    Column("owner", String(64), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("package_id", String(64), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("summary", Text, nullable=True),
    Column("public_attrs", Text, nullable=False),
    Column("package_types", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("modified_at", String(40), nullable=False),
    Column("created_pos", BigInteger, nullable=False),
)

releases = Table(
    "releases", metadata,
    Column("owner", String(64), primary_key=True),
    Column("package", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("attrs", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("modified_at", String(40), nullable=False),
    Column("created_pos", BigInteger, nullable=False),
)

files = Table(
    "files", metadata,
    Column("owner", String(64), primary_key=True),
    Column("package", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("basename", String(250), primary_key=True),
    Column("file_id", String(64), nullable=False),
    Column("filename", String(250), nullable=False),
    Column("distribution_type", String(32), nullable=False),
    Column("subdir", String(32), nullable=True),
    Column("blob_key", String(250), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("md5", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("record", Text, nullable=True),
    Column("attrs", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("upload_time", String(40), nullable=False),
    Column("uploader", String(200), nullable=False),
    Column("created_pos", BigInteger, nullable=False),
)

file_labels = Table(
    "file_labels", metadata,
    Column("owner", String(64), primary_key=True),
    Column("package", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("basename", String(250), primary_key=True),
    Column("label", String(64), primary_key=True),
    Index("ix_file_labels_owner_label", "owner", "label"),
)

label_locks = Table(
    "label_locks", metadata,
    Column("owner", String(64), primary_key=True),
    Column("label", String(64), primary_key=True),
    Column("locked", Boolean, nullable=False),
)

collaborators = Table(
    "collaborators", metadata,
    Column("owner", String(64), primary_key=True),
    Column("package", String(128), primary_key=True),
    Column("login", String(64), primary_key=True),
    Column("created_pos", BigInteger, nullable=False),
    Index("ix_collaborators_login", "login"),
)

staged = Table(
    "staged", metadata,
    Column("dist_id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("package", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("basename", String(250), nullable=False),
    Column("distribution_type", String(32), nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("labels", Text, nullable=False),
    Column("attrs", Text, nullable=False),
    Column("dependencies", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("actor", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)

# a stage's outcome: the commit of ``dist_id`` created the file ``file_id`` (the id of its file_uploaded event);
# read by a retried commit, pruned after COMMITTED_STAGE_RETENTION. Moved with its package like ``staged``.
committed_stages = Table(
    "committed_stages", metadata,
    Column("dist_id", String(64), primary_key=True),
    Column("file_id", String(64), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("package", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("basename", String(250), nullable=False),
    Column("committed_at", String(40), nullable=False),
    Index("ix_committed_stages_committed_at", "committed_at"),
)

# download counters per file (``file_id`` = the id of the event that uploaded it, so it survives replay and
# transfer). Not derived from the log, so not a read table: rebuild_projections keeps it.
downloads = Table(
    "downloads", metadata,
    Column("file_id", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# blobs that stopped being named by a file record (file removed or replaced, release or package removed: written
# by the projector with the event's occurred_at), by an expired stage or by a refused commit (with the time it
# happened), the latest time per blob. What explains an unreferenced blob to `wharf verify` and dates it for
# `wharf gc`. Not a read table: rebuild_projections keeps it (replayed removals write the same times again, and
# expiries and refusals are not in the log).
released_blobs = Table(
    "released_blobs", metadata,
    Column("blob_key", String(250), primary_key=True),
    Column("released_at", String(40), nullable=False),      # ISO 8601 UTC, as occurred_at
)

# truncated and re-applied by rebuild_projections, children first
READ_TABLES = (file_labels, files, releases, collaborators, packages, label_locks)
