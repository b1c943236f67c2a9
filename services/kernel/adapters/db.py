"""SQLAlchemy engine creation for SQLite (embedded) and PostgreSQL (distributed, pg8000 driver, which
cooperates with eventlet's green sockets under nameko)."""
from __future__ import annotations

import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool


# SQLSTATEs that mean "the server is not there right now", whatever exception class the driver picks for them
# (pg8000 raises ProgrammingError for all of these): class 08 (connection exception), admin_shutdown,
# crash_shutdown, cannot_connect_now (starting up, recovering), too_many_connections.
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")


def sqlstate(orig: BaseException | None) -> str | None:
    """The SQLSTATE of a driver exception (pg8000: the server's fields in ``args[0]``; psycopg: ``sqlstate``)."""
    if orig is None:
        return None
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code:
        return str(code)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], dict):
        return args[0].get("C")
    return None


def database_unavailable(exc: BaseException) -> bool:
    """Whether a SQLAlchemy error means the database cannot be reached (restarting, recovering, network) rather
    than a bad statement: callers answer 503 for these, and the client may retry. pg8000 lets a reset socket's
    ``ConnectionResetError`` (an OSError) through unwrapped when the server drops the connection first."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = sqlstate(exc.orig)
    return bool(code) and (code.startswith("08") or code in _UNAVAILABLE_STATES)


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+pg8000://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # let SQLAlchemy issue BEGIN itself so "BEGIN IMMEDIATE" serialises writers
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
