"""Released blobs: which blobs a file record or a stage stopped naming, and when (``wharf gc``, ``wharf verify``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Backfill: every blob an upload in the log named (``file_uploaded``, ``package_received``; the package blob and
a wheel's core metadata) that no file record names now was released by some removal before this revision
existed; it is recorded as released now, so ``wharf gc`` keeps it for a whole grace period from the upgrade and
``wharf verify`` does not take it for an orphan.
"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PAGE = 5000


def _named(data: dict) -> list:
    out = []
    for f in [data] if "blob_key" in data else data.get("files") or []:
        if not isinstance(f, dict):
            continue
        meta = f.get("metadata") if isinstance(f.get("metadata"), dict) else {}
        out += [k for k in (f.get("blob_key"), meta.get("core_metadata_key")) if isinstance(k, str) and k]
    return out


def upgrade() -> None:
    conn = op.get_bind()
    if "released_blobs" not in set(sa.inspect(conn).get_table_names()):
        op.create_table("released_blobs",
            sa.Column("blob_key", sa.String(length=250), nullable=False),
            sa.Column("released_at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("blob_key")
        )
    ever: set = set()
    after = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT position, data FROM events WHERE position > :after AND type IN ('file_uploaded', "
            "'package_received') ORDER BY position LIMIT :n"), {"after": after, "n": PAGE}).all()
        if not rows:
            break
        for position, data in rows:
            after = position
            try:
                ever.update(_named(json.loads(data)))
            except (ValueError, AttributeError):
                continue
    if not ever:
        return
    now: set = set()
    for blob_key, metadata in conn.execute(sa.text("SELECT blob_key, metadata FROM files")):
        now.add(blob_key)
        try:
            meta = json.loads(metadata) if metadata else {}
        except ValueError:
            meta = {}
        if isinstance(meta, dict) and isinstance(meta.get("core_metadata_key"), str):
            now.add(meta["core_metadata_key"])
    known = set(conn.execute(sa.text("SELECT blob_key FROM released_blobs")).scalars())
    at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rows = [{"k": k, "t": at} for k in sorted(ever - now - known)]
    if rows:
        conn.execute(sa.text("INSERT INTO released_blobs (blob_key, released_at) VALUES (:k, :t)"), rows)


def downgrade() -> None:
    op.drop_table("released_blobs")
