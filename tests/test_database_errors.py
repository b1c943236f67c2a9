"""Which database errors mean "unavailable, retry" (503) and which are bugs (500), classified on real errors
from the machine's PostgreSQL; and driver text never crosses the RPC boundary to a client."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.kernel.adapters.db import database_unavailable, make_engine, sqlstate
from services.kernel.errors import NotFound, Unavailable, WharfError, from_remote
from services.registry.adapters.unit_of_work import _translate


def _error_of(engine, sql: str) -> DBAPIError:
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as info:
            conn.execute(text(sql))
        conn.rollback()
    return info.value


def test_a_terminated_connection_is_unavailable(pg_url):
    """What every connection sees when the server shuts down: SQLSTATE 57P01, which pg8000 raises as a
    ProgrammingError, or, when the reset reaches the socket first, a bare ConnectionResetError. Either is
    unavailable, and the registry answers 503 for it."""
    engine = make_engine(pg_url)
    admin = make_engine(pg_url)
    try:
        conn = engine.connect()
        try:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                other.commit()
            with pytest.raises((DBAPIError, OSError)) as info:
                conn.execute(text("SELECT 1"))
        finally:
            try:
                conn.close()
            except (DBAPIError, OSError):
                pass     # the connection is gone: closing it may fail too
        err = info.value
        assert database_unavailable(err), repr(err)
        assert isinstance(_translate(err), Unavailable)
    finally:
        engine.dispose()
        admin.dispose()


def test_a_bad_statement_is_not_unavailable(pg_url):
    engine = make_engine(pg_url)
    try:
        err = _error_of(engine, "SELEC 1")
        assert sqlstate(err.orig) == "42601"
        assert not database_unavailable(err)
        assert _translate(err) is None
        err = _error_of(engine, "SELECT * FROM no_such_table")
        assert sqlstate(err.orig) == "42P01" and not database_unavailable(err)
    finally:
        engine.dispose()


def test_unknown_remote_errors_do_not_leak_their_text():
    leaked = from_remote("ProgrammingError", "(pg8000.dbapi.ProgrammingError) {'M': 'relation x'} host=db")
    assert type(leaked) is WharfError and leaked.status == 500
    assert leaked.to_dict() == {"error": "internal server error", "code": "InternalError"}
    known = from_remote("NotFound", "package alice/x not found")
    assert isinstance(known, NotFound) and known.message == "package alice/x not found"
    assert from_remote("Unavailable", "registry database unavailable").status == 503
