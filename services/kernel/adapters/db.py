"""SQLAlchemy engine creation for SQLite (embedded) and PostgreSQL (distributed, pg8000 driver, which
cooperates with eventlet's green sockets under nameko)."""
from __future__ import annotations

import json
import os

import orjson
from sqlalchemy import Float, Numeric, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from services.kernel.private_files import private_dir, private_sqlite


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


def unique_violation(exc: BaseException, table: str, columns: tuple[str, ...], constraint: str) -> bool:
    """Whether ``exc`` is a violation of the unique key ``constraint`` (``columns`` of ``table``), and not of
    any other constraint. PostgreSQL: SQLSTATE 23505 and the constraint's name (pg8000: field ``n`` of the
    server's error; psycopg: ``diag.constraint_name``). SQLite names no constraint, only its columns:
    "UNIQUE constraint failed: <table>.<col>, ..." (extended code SQLITE_CONSTRAINT_UNIQUE)."""
    if not isinstance(exc, IntegrityError):
        return False
    orig = exc.orig
    code = sqlstate(orig)
    if code is not None:
        if code != "23505":
            return False
        args = getattr(orig, "args", ())
        name = args[0].get("n") if args and isinstance(args[0], dict) else None
        diag = getattr(orig, "diag", None)
        name = name or getattr(diag, "constraint_name", None)
        return name == constraint
    message = str(orig)
    return message.startswith("UNIQUE constraint failed: ") and \
        message[len("UNIQUE constraint failed: "):] == ", ".join(f"{table}.{c}" for c in columns)


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+pg8000://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                private_dir(folder)          # a directory Wharf creates for its databases: 0700
            private_sqlite(path)             # the file (and so its -wal/-shm) 0600, created or tightened
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
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)

    @event.listens_for(engine, "connect")
    def _no_delay(dbapi_conn, _record):
        no_delay(getattr(dbapi_conn, "_usock", None))

    return engine


def no_delay(sock) -> None:
    """Turn Nagle's algorithm off on a driver socket. pg8000 writes a statement through a buffered file, so one
    larger than its buffer (8 KB: a bulk insert, a long IN list) leaves in several segments, and the last one
    waited for the server's delayed ACK: 40 ms per statement, most of a replay's time. libpq sets TCP_NODELAY;
    pg8000 does not."""
    import socket
    if sock is None or getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


# ------------------------------------------------------------------------------------------------ bulk loading
BULK_ROWS = 5000    # rows per statement: one JSON document of a few MB on PostgreSQL


def _document(table, rows: list[dict]) -> str:
    """The JSON document of ``rows`` for the server to parse: orjson writes it several times faster than the
    standard library (non-ASCII characters unescaped, which PostgreSQL reads alike); what orjson refuses
    (integers beyond 64 bits, lone surrogates, types it does not know) goes through ``json.dumps``, and so do
    the rows of a table with numeric columns, where orjson would write a NaN as null instead of failing."""
    if not any(isinstance(c.type, (Float, Numeric)) for c in table.columns):
        try:
            return orjson.dumps(rows).decode()
        except TypeError:       # orjson.JSONEncodeError
            pass
    return json.dumps(rows, separators=(",", ":"))


def bulk_insert(conn, table, rows: list[dict], return_ids: bool = False, conflict: tuple[str, ...] = (),
                update: tuple[str, ...] = ()) -> list[int]:
    """Insert ``rows`` (dicts over the same columns of ``table``, plain JSON values) in as few statements as
    possible; with ``return_ids`` the new ``id`` of each row, in row order. With ``conflict`` (the columns of a
    unique key) and ``update``, a row whose key exists updates those columns instead (an upsert).

    On PostgreSQL the rows travel as one JSON parameter per chunk, expanded by the server
    (``json_populate_recordset``): a bound parameter per value makes the pure-Python driver's statement
    rewriting and the server's parse cost grow with every value, which dominated replays of large logs. The ids
    come back in row order because the SELECT is ordered and the serial column is drawn row by row in that
    order (what SQLAlchemy's own "insertmanyvalues" relies on too). Elsewhere (SQLite, in-process) an
    executemany is already cheap."""
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        if conflict:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert
            stmt = sqlite_insert(table)
            conn.execute(stmt.on_conflict_do_update(index_elements=list(conflict),
                                                    set_={c: stmt.excluded[c] for c in update}), rows)
            return []
        if not return_ids:
            conn.execute(table.insert(), rows)
            return []
        return list(conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                                 rows).scalars())
    from sqlalchemy import text
    prep = conn.dialect.identifier_preparer
    cols = list(rows[0])
    names = ", ".join(prep.quote(c) for c in cols)
    tname = prep.format_table(table)
    sql = (f"INSERT INTO {tname} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{tname}, "
           f"CAST(:rows AS json)) WITH ORDINALITY AS r ORDER BY r.ordinality")
    if conflict:
        sets = ", ".join(f"{prep.quote(c)} = EXCLUDED.{prep.quote(c)}" for c in update)
        sql += f" ON CONFLICT ({', '.join(prep.quote(c) for c in conflict)}) DO UPDATE SET {sets}"
    if return_ids:
        sql += " RETURNING id"
    stmt = text(sql)
    ids: list[int] = []
    for start in range(0, len(rows), BULK_ROWS):
        doc = _document(table, rows[start:start + BULK_ROWS])
        result = conn.execute(stmt, {"rows": doc})
        if return_ids:
            ids += sorted(result.scalars())
    return ids
