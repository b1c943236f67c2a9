"""What the registry tells `wharf gc` and `wharf verify`, and how staged uploads age (SQLite and PostgreSQL):
removals record the blobs they release (and a replay keeps them), stages expire after the TTL (commit refused
with 410, expiry releases the declared blob), one user can hold only so many open stages (429), and the
reference re-check sees files, wheels' core metadata and staged uploads."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from services.kernel.errors import StageExpired, TooManyRequests
from services.kernel.signing import blob_key_for
from services.registry.adapters.tables import released_blobs
from services.registry.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.registry.domain.staging import iso
from services.registry.service_layer.service import RegistryService

from .conftest import blob_meta, upload

T0 = 1_800_000_000.0          # the registry's clock in these tests (epoch seconds)
TTL = 3600


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def reg(engine, clock):
    r = RegistryService(SqlUnitOfWorkFactory(engine), stage_ttl=TTL, max_staged=3, clock=clock)
    r.create_package("alice", "demo", public=True, actor="alice")
    r.create_release("alice", "demo", "1.0", {}, actor="alice")
    r.create_release("alice", "demo", "2.0", {}, actor="alice")
    return r


def key(content: bytes) -> str:
    return blob_key_for(hashlib.sha256(content).hexdigest())


def released(engine) -> dict:
    with engine.connect() as c:
        return dict(c.execute(select(released_blobs.c.blob_key, released_blobs.c.released_at)).all())


def stage(reg, basename, content: bytes | None, actor="alice", version="1.0"):
    sha = hashlib.sha256(content).hexdigest() if content is not None else None
    return reg.stage("alice", "demo", version, basename, "pypi", sha, [], {}, None, None, actor)["dist_id"]


def test_removals_release_their_blobs_and_a_replay_keeps_that(reg, engine):
    wheel_meta = {"core_metadata_key": key(b"METADATA"), "core_metadata_sha256": "x"}
    upload(reg, "alice", "demo", "1.0", "a-1.0.tar.gz", "pypi", content=b"a")
    st = stage(reg, "w-1.0-py3-none-any.whl", b"w")
    reg.commit(st, dict(blob_meta(b"w", "w-1.0-py3-none-any.whl"), metadata=wheel_meta), "alice")
    upload(reg, "alice", "demo", "2.0", "b-2.0.tar.gz", "pypi", content=b"b")
    assert released(engine) == {}
    reg.remove_file("alice", "demo", "1.0", "a-1.0.tar.gz", actor="alice")
    [ev] = [e for e in reg.read_stream("alice") if e["type"] == "file_removed"]
    assert released(engine) == {key(b"a"): ev["occurred_at"]}
    reg.remove_release("alice", "demo", "1.0", actor="alice")          # the wheel and its core metadata
    reg.remove_package("alice", "demo", actor="alice")                  # b
    got = released(engine)
    assert set(got) == {key(b"a"), key(b"w"), key(b"METADATA"), key(b"b")}
    assert reg.gc_inventory()["released"] == got and reg.gc_inventory()["referenced"] == []
    reg.rebuild_projections()
    assert released(engine) == got


def test_a_replaced_file_releases_the_old_blob(reg, engine):
    upload(reg, "alice", "demo", "1.0", "a-1.0.tar.gz", "pypi", content=b"old")
    reg.copy_files("alice", "demo", "1.0", to_owner="bob")                      # the same blob, shared
    reg.copy_files("alice", "demo", "1.0", to_owner="bob", mode="replace")      # bob's record replaced
    assert key(b"old") in released(engine)
    assert key(b"old") in reg.gc_inventory()["referenced"]             # released once, named still: live
    assert reg.blob_references([key(b"old"), key(b"new")]) == [key(b"old")]


def test_blob_references_sees_records_core_metadata_and_stages(reg):
    meta = {"core_metadata_key": key(b"METADATA")}
    st = stage(reg, "w-1.0-py3-none-any.whl", b"w")
    assert reg.blob_references([key(b"w"), key(b"METADATA")]) == [key(b"w")]       # the stage declared it
    reg.commit(st, dict(blob_meta(b"w", "w-1.0-py3-none-any.whl"), metadata=meta), "alice")
    assert reg.blob_references([key(b"w"), key(b"METADATA"), key(b"x")]) == sorted([key(b"w"), key(b"METADATA")])
    assert set(reg.gc_inventory()["referenced"]) == {key(b"w"), key(b"METADATA")}


def test_an_expired_stage_cannot_be_committed_and_its_blobs_are_released(reg, engine, clock):
    st = stage(reg, "a-1.0.tar.gz", b"a")
    clock.now += TTL - 1
    assert reg.get_staged(st)["dist_id"] == st                           # still open
    clock.now += 2
    with pytest.raises(StageExpired) as refused:
        reg.get_staged(st)
    assert refused.value.status == 410 and "expired" in refused.value.message
    with pytest.raises(StageExpired):
        reg.commit(st, blob_meta(b"a", "a-1.0.tar.gz"), "alice")
    assert [f["basename"] for f in reg.get_release("alice", "demo", "1.0")["distributions"]] == []
    # what storage had already stored for the refused commit is released now, so gc may reclaim it later
    assert released(engine) == {key(b"a"): iso(clock.now)}


def test_expire_stages_removes_expired_ones_and_releases_their_declared_blobs(reg, engine, clock):
    old = stage(reg, "a-1.0.tar.gz", b"a")
    undeclared = stage(reg, "c-1.0.tar.gz", None)
    clock.now += TTL + 10
    fresh = stage(reg, "b-1.0.tar.gz", b"b")
    stages = {s["dist_id"]: s for s in reg.gc_inventory()["stages"]}
    assert {d: s["expired"] for d, s in stages.items()} == {old: True, undeclared: True, fresh: False}
    assert stages[old]["blob_key"] == key(b"a") and stages[undeclared]["blob_key"] is None
    assert stages[old]["staging_key"] == f"staging/{old}"
    dry = reg.expire_stages(dry_run=True)
    assert sorted(s["dist_id"] for s in dry) == sorted([old, undeclared]) and reg.get_staged(fresh)
    assert len(reg.gc_inventory()["stages"]) == 3 and released(engine) == {}
    gone = reg.expire_stages()
    assert sorted(s["dist_id"] for s in gone) == sorted([old, undeclared])
    assert [s["dist_id"] for s in reg.gc_inventory()["stages"]] == [fresh]
    assert released(engine) == {key(b"a"): iso(clock.now)}
    assert reg.expire_stages() == []


def test_one_user_may_hold_only_so_many_open_stages(reg, clock):
    first = [stage(reg, f"f{i}-1.0.tar.gz", b"%d" % i) for i in range(3)]
    with pytest.raises(TooManyRequests) as refused:
        stage(reg, "f3-1.0.tar.gz", b"3")
    assert refused.value.status == 429 and "at most 3" in refused.value.message
    assert refused.value.retry_after == TTL                           # when the oldest expires
    stage(reg, "other-1.0.tar.gz", b"o", actor="bob")                # another user has room of their own
    reg.commit(first[0], blob_meta(b"0", "f0-1.0.tar.gz"), "alice")   # committing makes room
    second = stage(reg, "f3-1.0.tar.gz", b"3")
    with pytest.raises(TooManyRequests):
        stage(reg, "f4-1.0.tar.gz", b"4")
    clock.now += TTL + 1                                              # expired stages hold no room
    assert stage(reg, "f4-1.0.tar.gz", b"4") and second


def test_the_migration_backfills_blobs_released_before_it(db_url):
    """Revision 0003: a blob an upload in the log named and no record names now was released by a removal
    before the table existed: recorded as released at the upgrade (so gc waits a grace period from then, and
    verify does not take it for an orphan)."""
    import json

    from sqlalchemy import text

    from services.kernel.adapters.db import make_engine
    from services.kernel.adapters.migrations import upgrade
    from services.registry.adapters.schema import SCHEMA
    engine = make_engine(db_url)
    try:
        upgrade(engine, SCHEMA, "0002")
        meta = {"core_metadata_key": key(b"GONE-METADATA")}
        uploads = [("file_uploaded", {"blob_key": key(b"kept"), "metadata": {}}),
                   ("file_uploaded", {"blob_key": key(b"gone"), "metadata": meta}),
                   ("package_received", {"files": [{"blob_key": key(b"moved"), "metadata": {}}]})]
        with engine.begin() as c:
            for seq, (kind, data) in enumerate(uploads, 1):
                c.execute(text("INSERT INTO events (event_id, stream_id, sequence, type, version, occurred_at, "
                               "actor, data, published) VALUES (:i, 'alice', :s, :t, 1, '2026-01-01T00:00:00Z', "
                               "'alice', :d, true)"), {"i": f"e{seq}", "s": seq, "t": kind, "d": json.dumps(data)})
            for name in (b"kept", b"moved"):
                c.execute(text("INSERT INTO files (owner, package, version, basename, file_id, filename, "
                               "distribution_type, blob_key, sha256, md5, size, attrs, metadata, upload_time, "
                               "uploader, created_pos) VALUES ('alice', :p, '1', 'f', 'id', 'f', 'conda', :k, "
                               "'s', 'm', 1, '{}', '{}', 't', 'alice', 1)"), {"p": name.decode(), "k": key(name)})
        upgrade(engine, SCHEMA)
        got = released(engine)
        assert set(got) == {key(b"gone"), key(b"GONE-METADATA")}
        assert all(at > "2026-01-01" for at in got.values())
    finally:
        engine.dispose()
