"""Concurrent commands on one stream (threads, each with its own connection): sequences stay 1..n without gaps
or duplicates, and a race for the same name has exactly one winner. Runs on SQLite (BEGIN IMMEDIATE
serialises writers) and on PostgreSQL (stream row locked FOR UPDATE; unique constraint + retry as safety net)."""
import threading

from sqlalchemy import func, select

from services.kernel.errors import Conflict
from services.registry.adapters.tables import events, packages

from .conftest import upload

THREADS = 8


def run_threads(fn, n=THREADS):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - collected and inspected by the test
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def test_concurrent_appends_get_gapless_sequences(make_registry, engine):
    regs = [make_registry() for _ in range(THREADS)]
    per_thread = 6

    def work(i):
        for j in range(per_thread):
            regs[i].create_package("alice", f"p{i}-{j}", public=True, public_attrs={}, actor="alice")
        regs[i].create_package("bob", f"b{i}", public=True, public_attrs={}, actor="bob")
    _, errors = run_threads(work)
    assert errors == []
    alice = regs[0].read_stream("alice", 0, limit=10_000)
    assert [e["sequence"] for e in alice] == list(range(1, THREADS * per_thread + 1))
    assert len({e["event_id"] for e in alice}) == len(alice)
    bob = regs[0].read_stream("bob", 0)
    assert [e["sequence"] for e in bob] == list(range(1, THREADS + 1))
    positions = [e["position"] for e in regs[0].read_log(0, limit=10_000)]
    assert positions == sorted(set(positions)) and len(positions) == THREADS * (per_thread + 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(packages)).scalar() == THREADS * (per_thread + 1)


def test_race_for_one_name_has_one_winner(make_registry):
    regs = [make_registry() for _ in range(THREADS)]
    results, errors = run_threads(
        lambda i: regs[i].create_package("alice", "same", public=True, public_attrs={"summary": str(i)},
                                         actor=f"u{i}"))
    assert len([r for r in results if r is not None]) == 1
    assert len(errors) == THREADS - 1 and all(isinstance(e, Conflict) for e in errors)
    assert [e["type"] for e in regs[0].read_stream("alice", 0)] == ["package_created"]


def test_concurrent_uploads_to_one_release(make_registry, engine):
    regs = [make_registry() for _ in range(THREADS)]
    regs[0].create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    regs[0].create_release("alice", "demo", "1.0", {}, actor="alice")
    _, errors = run_threads(lambda i: upload(regs[i], "alice", "demo", "1.0", f"linux-64/demo-1.0-{i}.conda"))
    assert errors == []
    evs = regs[0].read_stream("alice", 0)
    assert [e["sequence"] for e in evs] == list(range(1, THREADS + 3))
    assert len(regs[0].get_release("alice", "demo", "1.0")["distributions"]) == THREADS
    with engine.connect() as conn:
        assert conn.execute(select(func.max(events.c.sequence))).scalar() == THREADS + 2


def test_cross_owner_copies_in_both_directions_do_not_deadlock(make_registry, engine):
    """Copies alice -> bob and bob -> alice at once lock both streams, always in the same order."""
    regs = [make_registry() for _ in range(THREADS)]
    for owner in ("alice", "bob"):
        regs[0].create_package(owner, f"{owner}pkg", public=True, public_attrs={}, actor=owner)
        for i in range(THREADS):
            regs[0].create_release(owner, f"{owner}pkg", str(i), {}, actor=owner)
            upload(regs[0], owner, f"{owner}pkg", str(i), f"noarch/{owner}pkg-{i}-0.tar.bz2", actor=owner)

    def work(i):
        src, dst = ("alice", "bob") if i % 2 == 0 else ("bob", "alice")
        for version in (str(i), str((i + 2) % THREADS)):
            regs[i].copy_files(src, f"{src}pkg", version, to_owner=dst, mode="update", actor=dst)
        regs[i].add_collaborator(dst, f"{src}pkg", f"u{i}", actor=dst)
    _, errors = run_threads(work)
    assert errors == []
    for owner in ("alice", "bob"):
        seqs = [e["sequence"] for e in regs[0].read_stream(owner, 0, limit=10_000)]
        assert seqs == list(range(1, len(seqs) + 1))
        other = "bob" if owner == "alice" else "alice"
        assert regs[0].get_package(owner, f"{other}pkg", False)["versions"]
    assert len(regs[0].list_collaborators("bob", "alicepkg")) == THREADS // 2
