"""Recording released blobs (``tables.released_blobs``): one upsert keeping the latest time per blob, safe when
two transactions release the same blob at once."""
from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from .tables import files, released_blobs

_CHUNK = 500


def release(conn: Connection, keys, at: str) -> None:
    """Record that ``keys`` (blob keys) stopped being named at ``at`` (ISO 8601 UTC); an earlier time is moved
    to ``at``, a later one stays."""
    rows = [{"blob_key": k, "released_at": at} for k in sorted({k for k in keys if k})]
    if not rows:
        return
    pg = conn.dialect.name == "postgresql"
    stmt = (postgresql if pg else sqlite).insert(released_blobs)
    latest = (func.greatest if pg else func.max)(released_blobs.c.released_at, stmt.excluded.released_at)
    stmt = stmt.on_conflict_do_update(index_elements=["blob_key"], set_={"released_at": latest})
    for i in range(0, len(rows), _CHUNK):
        conn.execute(stmt, rows[i:i + _CHUNK])


def file_blob_keys(blob_key: str, metadata_text: str | None) -> list[str]:
    """The blobs a file row names: its package blob and, for a wheel, its core metadata (PEP 658)."""
    meta = json.loads(metadata_text) if metadata_text else {}
    extra = meta.get("core_metadata_key") if isinstance(meta, dict) else None
    return [blob_key] + ([extra] if isinstance(extra, str) and extra else [])


def release_files(conn: Connection, where, at: str) -> None:
    """Record the blobs of the file rows matching ``where`` (about to be deleted) as released at ``at``."""
    keys: list[str] = []
    for r in conn.execute(select(files.c.blob_key, files.c.metadata).where(where)):
        keys += file_blob_keys(r.blob_key, r.metadata)
    release(conn, keys, at)
