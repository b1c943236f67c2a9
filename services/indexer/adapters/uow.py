"""Unit of work: one database transaction around an ``SqlIndexRepository``; driver errors that mean "the
database is unreachable" become ``Unavailable`` (the message is requeued, the caller retries).

``exclusive(name)`` is the per-index publishing lock shared by every indexer replica: a PostgreSQL session
advisory lock (``pg_try_advisory_lock``) held on its own connection for the whole rebuild, released at the end
or, if the replica dies, when its connection closes. SQLite (embedded mode: one process) uses an in-process lock.
"""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from services.kernel.adapters.db import database_unavailable
from services.kernel.adapters.migrations import prepare as prepare_with_alembic
from services.kernel.errors import Unavailable

from .migrate import upgrade
from .repository import SqlIndexRepository
from .schema import SCHEMA

SCHEMA_LOCK = 0x7768_6172_665F_6978   # "wharf_ix": advisory lock key of the indexer's schema changes
_LOCAL_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


@contextmanager
def _unavailable_as_503() -> Iterator[None]:
    """Driver errors that mean "the database is unreachable" become ``Unavailable``; the rest propagate."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        if database_unavailable(exc):
            raise Unavailable(f"indexer database unavailable: {exc.__class__.__name__}") from exc
        raise


class SqlUnitOfWork:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        """Bring the schema to the newest Alembic revision (``wharf migrate indexer``)."""
        self.prepare_schema(auto_migrate=True)

    def prepare_schema(self, auto_migrate: bool = True) -> None:
        """Migrate (or, without ``auto_migrate``, require head). A database created before sharded repodata and
        before Alembic first gets its missing columns (migrate.py), is then adopted by the baseline revision,
        and every channel is republished (with shards)."""
        if self.engine.dialect.name != "postgresql":
            return self._prepare(auto_migrate)
        with self.engine.connect() as conn:   # replicas starting together take turns (also for migrate.py)
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK})
            conn.commit()
            try:
                self._prepare(auto_migrate)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK})
                conn.commit()

    def _prepare(self, auto_migrate: bool) -> None:
        upgraded = upgrade(self.engine) if auto_migrate else False
        prepare_with_alembic(self.engine, SCHEMA, auto_migrate)
        if upgraded:
            with self.begin() as repo:
                repo.mark_dirty(repo.known_channels() | repo.channels_with_files())
                repo.mark_names_dirty(k.shard for k in repo.conda.all_touched())

    @contextmanager
    def begin(self) -> Iterator[SqlIndexRepository]:
        with _unavailable_as_503(), self.engine.begin() as conn:
            yield SqlIndexRepository(conn)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Try to take the lock ``name`` without waiting; yields whether this caller holds it."""
        if self.engine.dialect.name != "postgresql":
            with _LOCAL_GUARD:     # per database file and name, shared by every unit of work of the process
                lock = _LOCAL_LOCKS.setdefault((str(self.engine.url), name), threading.Lock())
            got = lock.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    lock.release()
            return
        key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        with _unavailable_as_503():
            conn = self.engine.connect()
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()      # session lock: it outlives the transaction; no transaction stays open
        try:
            yield got
        finally:
            try:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            except Exception:  # noqa: BLE001 - never hand a locked session back to the pool
                conn.invalidate()
            finally:
                conn.close()
