"""Alembic, run without alembic.ini or env.py: each service owns a script directory
(``services/<service>/adapters/migrations``) and a version table of its own (``alembic_version_<service>``), so
the three databases (auth, registry, indexer) are migrated independently, even if an operator points two of them
at the same database.

``upgrade(engine, schema)`` brings a database to the newest revision in one transaction. On PostgreSQL it first
takes a transaction-level advisory lock keyed by the version table, so replicas starting together (or a
migrations Job racing a pod) run the migrations once and the others find the schema at head. On SQLite the
engine's ``BEGIN IMMEDIATE`` serialises writers the same way.

``status(engine, schema)`` reads the current revision without changing anything (``wharf migrate --check``,
services started with ``WHARF_AUTO_MIGRATE=false``).
"""
from __future__ import annotations

import dataclasses
import logging
import zlib
from pathlib import Path

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine


log = logging.getLogger("wharf.migrations")


class SchemaOutOfDate(RuntimeError):
    """The database is not at the newest revision and this process was told not to migrate it."""


@dataclasses.dataclass(frozen=True)
class Schema:
    """One service's migrations: where its revision scripts are, its version table, its target metadata."""
    service: str
    script_location: str
    metadata: MetaData

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.service}"

    def config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", self.script_location)
        return cfg

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def head(self) -> str:
        return self.script().get_current_head()


def script_location(package_file: str) -> str:
    """The ``migrations`` directory next to a service's adapters module (``__file__`` of that module)."""
    return str(Path(package_file).resolve().parent / "migrations")


def _context(conn: Connection, schema: Schema, **opts) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": schema.version_table,
                                                  "target_metadata": schema.metadata, **opts})


def current(conn: Connection, schema: Schema) -> str | None:
    return _context(conn, schema).get_current_revision()


def status(engine: Engine, schema: Schema) -> tuple[str | None, str]:
    """(current revision or None for an unmigrated database, head revision)."""
    with engine.connect() as conn:
        return current(conn, schema), schema.head()


def require_head(engine: Engine, schema: Schema) -> None:
    cur, head = status(engine, schema)
    if cur != head:
        raise SchemaOutOfDate(f"the {schema.service} database is at revision {cur or 'none'}, not {head}: "
                              f"run `wharf migrate {schema.service}` (or let it migrate itself: "
                              f"WHARF_AUTO_MIGRATE=true)")


def _lock(conn: Connection, schema: Schema) -> None:
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(schema.version_table.encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def prepare(engine: Engine, schema: Schema, auto_migrate: bool) -> None:
    """At service start: migrate (``auto_migrate``), else refuse to run on a database that is not at head."""
    if auto_migrate:
        before, after = upgrade(engine, schema)
        if before != after:
            log.info("migrated the %s database: %s -> %s", schema.service, before or "none", after)
    else:
        require_head(engine, schema)


def upgrade(engine: Engine, schema: Schema, destination: str = "heads") -> tuple[str | None, str | None]:
    """Upgrade to ``destination`` (default: the newest revision); returns (revision before, revision after)."""
    cfg = schema.config()
    script = ScriptDirectory.from_config(cfg)
    with engine.begin() as conn:
        _lock(conn, schema)
        before = current(conn, schema)

        def do_upgrade(rev, _context):
            return script._upgrade_revs(destination, rev)

        env = EnvironmentContext(cfg, script, fn=do_upgrade, destination_rev=destination)
        env.configure(connection=conn, target_metadata=schema.metadata, version_table=schema.version_table,
                      render_as_batch=conn.dialect.name == "sqlite", transactional_ddl=False)
        with env:
            env.run_migrations()
        after = current(conn, schema)
    return before, after
