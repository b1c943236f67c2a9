"""Additive schema upgrade of an indexer database created before sharded repodata and before Alembic (which
then adopts it with its baseline revision: uow.prepare_schema).

``metadata.create_all`` creates missing tables but never adds columns to existing ones. ``upgrade`` adds the
columns that appeared since (``indexer_files.name`` and ``run_exports_json``, ``indexer_dirty.changed_at``
and ``public_changed_at``),
backfills ``name`` from each stored record, and reports whether it changed anything, so the caller can mark
every channel dirty to publish its shards. ``run_exports`` of old rows stays unknown (NULL) until re-upload or
``wharf replay``.
"""
from __future__ import annotations

import json

from sqlalchemy import inspect, select, update
from sqlalchemy.engine import Engine

from .tables import files

ADDED = {
    "indexer_files": (("name", "VARCHAR(200)"), ("run_exports_json", "TEXT")),
    "indexer_dirty": (("changed_at", "BIGINT NOT NULL DEFAULT 0"), ("public_changed_at", "BIGINT NOT NULL DEFAULT 0")),
}


def upgrade(engine: Engine) -> bool:
    insp = inspect(engine)
    missing = []
    for table, columns in ADDED.items():
        if insp.has_table(table):
            have = {c["name"] for c in insp.get_columns(table)}
            missing += [(table, col, ddl) for col, ddl in columns if col not in have]
    if not missing:
        return False
    guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
    with engine.begin() as conn:
        for table, col, ddl in missing:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {guard}{col} {ddl}")
        rows = conn.execute(select(files.c.id, files.c.package, files.c.record_json)
                            .where(files.c.name.is_(None))).all()
        for fid, package, record_json in rows:
            try:
                name = json.loads(record_json).get("name") or package
            except (ValueError, AttributeError):
                name = package
            conn.execute(update(files).where(files.c.id == fid).values(name=str(name)))
    return True
