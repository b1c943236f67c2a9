"""``kernel.adapters.db.bulk_insert``: what replay and publishing load rows with. On PostgreSQL the rows travel as
one JSON document per chunk; the table must come out exactly as with plain INSERTs, on both databases."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table, Text, select

from services.kernel.adapters import db as dbmod
from services.kernel.adapters.db import bulk_insert, make_engine

meta = MetaData()
things = Table(
    "bulk_things", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("public", Boolean, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
)

AWKWARD = ["", "\\N", "tab\there", "line\nbreak", 'quote " and \'', "ünïcødé ✓", "NULL", "a,b", "\\\\"]


def _rows(n: int, offset: int = 0) -> list[dict]:
    return [{"name": f"n{offset + i:05d}", "public": i % 2 == 0, "size": (i + 1) * 10 ** 12,
             "note": None if i % 7 == 0 else AWKWARD[i % len(AWKWARD)]} for i in range(n)]


def _table(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(things.c.name, things.c.public, things.c.size,
                                                      things.c.note).order_by(things.c.name))]


def test_rows_and_ids_come_back_exactly_and_in_order(db_url, monkeypatch):
    monkeypatch.setattr(dbmod, "BULK_ROWS", 7)          # several chunks
    engine = make_engine(db_url)
    meta.create_all(engine)
    rows = _rows(30)
    rows.reverse()                                      # ids must follow row order, not name order
    with engine.begin() as conn:
        ids = bulk_insert(conn, things, rows, return_ids=True)
    assert len(ids) == len(set(ids)) == 30
    with engine.connect() as conn:
        by_id = {r.id: r.name for r in conn.execute(select(things.c.id, things.c.name))}
    assert [by_id[i] for i in ids] == [r["name"] for r in rows]
    assert _table(engine) == sorted((r["name"], r["public"], r["size"], r["note"]) for r in rows)
    assert {r[3] for r in _table(engine)} >= set(AWKWARD) | {None}
    engine.dispose()


def test_upsert_updates_only_the_named_columns(db_url):
    engine = make_engine(db_url)
    meta.create_all(engine)
    with engine.begin() as conn:
        bulk_insert(conn, things, _rows(5))
        changed = [{"name": "n00001", "public": True, "size": 1, "note": "new"},
                   {"name": "n00009", "public": False, "size": 2, "note": None}]
        bulk_insert(conn, things, changed, conflict=("name",), update=("size", "note"))
    got = {r[0]: r for r in _table(engine)}
    assert got["n00001"] == ("n00001", False, 1, "new")            # public kept: not in `update`
    assert got["n00009"] == ("n00009", False, 2, None)
    assert len(got) == 6
    engine.dispose()


def test_a_failing_chunk_leaves_nothing(db_url, monkeypatch):
    """A duplicate in the third chunk fails the statement; the transaction leaves no row of any chunk."""
    monkeypatch.setattr(dbmod, "BULK_ROWS", 4)
    engine = make_engine(db_url)
    meta.create_all(engine)
    rows = _rows(10) + [_rows(1)[0]]
    try:
        with engine.begin() as conn:
            bulk_insert(conn, things, rows)
    except Exception as exc:   # IntegrityError from either database
        assert "unique" in str(exc).lower() or "duplicate" in str(exc).lower()
    else:
        raise AssertionError("a duplicate key was accepted")
    assert _table(engine) == []
    assert bulk_insert(engine.connect(), things, []) == []
    engine.dispose()


def test_postgresql_connections_do_not_wait_for_delayed_acks(pg_url):
    """pg8000 does not set TCP_NODELAY; a statement larger than its write buffer then waited ~40 ms for the
    server's delayed ACK. Every PostgreSQL connection Wharf opens has Nagle's algorithm off."""
    import socket
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        sock = conn.connection.dbapi_connection._usock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    engine.dispose()


def test_a_nan_is_refused_not_stored_as_null(db_url):
    """orjson would write a NaN as null; the rows of a table with numeric columns go through ``json.dumps``,
    whose NaN PostgreSQL refuses, so no NaN turns into NULL on the way. (SQLite rows take no JSON document.)"""
    import math

    import pytest
    from sqlalchemy import Float
    from sqlalchemy.exc import DBAPIError
    floats = Table("bulk_floats", meta, Column("id", Integer, primary_key=True), Column("x", Float, nullable=True))
    assert "NaN" in dbmod._document(floats, [{"id": 1, "x": float("nan")}])
    engine = make_engine(db_url)
    meta.create_all(engine)
    try:
        if engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError), engine.begin() as conn:
                bulk_insert(conn, floats, [{"id": 1, "x": float("nan")}])
        with engine.begin() as conn:
            bulk_insert(conn, floats, [{"id": 2, "x": 0.1}])
        with engine.connect() as conn:
            assert [r.id for r in conn.execute(select(floats.c.id))] == [2]
            assert math.isclose(conn.execute(select(floats.c.x)).scalar(), 0.1)
    finally:
        floats.drop(engine)
        meta.remove(floats)
        engine.dispose()
