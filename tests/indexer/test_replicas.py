"""Several indexer replicas on one database (the distributed mode's scaling): one publisher per index at a time
(the ``exclusive`` lock), a publication log in per-channel generation order, per-stream ordering when replicas
receive a stream's events out of order, and the metrics they count. The process-level test with real replicas
is tests/system/test_indexer_replicas.py."""
from __future__ import annotations

import threading

from prometheus_client import REGISTRY

from services.indexer.domain.keys import ChannelKey

from .conftest import make_service
from .support import names_in, repodata


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_replica_leaves_an_index_whose_lock_another_holds(db_url, blobs, publisher, log):
    one = make_service(db_url, blobs, publisher, log)
    two = make_service(db_url, blobs, publisher, log)
    one.replica, two.replica = "one", "two"
    key = ChannelKey("alice", "main", "linux-64")
    one.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    busy = _sample("wharf_indexer_publishes_skipped_total", kind="conda", reason="busy")
    with one.uow.exclusive("conda:alice/main/linux-64") as held:     # replica one is building this index
        assert held
        with two.uow.exclusive("conda:alice/main/linux-64") as also:
            assert not also                                        # the lock is shared through the database
        assert {p["subdir"] for p in two.publish_pending()} == {"noarch"}   # two skips linux-64 ...
    assert _sample("wharf_indexer_publishes_skipped_total", kind="conda", reason="busy") == busy + 1
    assert two.publication_log("alice", "main", "linux-64") == []
    assert {p["subdir"] for p in one.publish_pending()} == {"linux-64"}     # ... which stays dirty for the holder
    log_rows = one.publication_log("alice", "main", "linux-64")
    assert [(r["generation"], r["replica"]) for r in log_rows] == [(1, "one")]
    assert log_rows[0]["latency_ms"] is not None and log_rows[0]["latency_ms"] >= 0
    with two.uow.exclusive("conda:alice/main/linux-64") as held:
        assert held                                                # released after the build


def test_a_replica_that_listed_an_index_another_published_does_not_rebuild_it(db_url, blobs, publisher, log):
    one = make_service(db_url, blobs, publisher, log)
    two = make_service(db_url, blobs, publisher, log)
    key = ChannelKey("alice", "main", "linux-64")
    one.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    with two.uow.begin() as repo:
        listed = dict(repo.dirty())[key]          # two lists the dirty channel ...
    assert one._publish_one(key, listed)          # ... one publishes it first
    stale = _sample("wharf_indexer_publishes_skipped_total", kind="conda", reason="stale")
    assert two._publish_one(key, listed) == []    # two sees it under the lock and builds nothing
    assert _sample("wharf_indexer_publishes_skipped_total", kind="conda", reason="stale") == stale  # no flip tried
    assert [r["generation"] for r in one.publication_log("alice", "main", "linux-64")] == [listed]


def test_concurrent_replicas_publish_every_channel_in_generation_order(db_url, blobs, publisher, log):
    replicas = [make_service(db_url, blobs, publisher, log) for _ in range(3)]
    for i, r in enumerate(replicas):
        r.replica = f"r{i}"
    wires = [log.upload(owner, f"pkg{i}", "1.0", subdir, "0")
             for i in range(6) for owner in ("alice", "bob") for subdir in ("linux-64", "noarch")]
    errors = []

    def work(replica, mine):
        try:
            for w in mine:
                replica.handle(w)
                replica.publish_pending()
            replica.publish_pending()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    # events dealt round-robin, so each replica sees every stream's events with gaps (filled from the log)
    threads = [threading.Thread(target=work, args=(r, wires[i::3])) for i, r in enumerate(replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    while replicas[0].publish_pending():
        pass
    by_channel: dict = {}
    for row in replicas[0].publication_log():
        by_channel.setdefault((row["owner"], row["label"], row["subdir"]), []).append(row["generation"])
    assert set(by_channel) == {(o, "main", s) for o in ("alice", "bob") for s in ("linux-64", "noarch")}
    for channel, gens in by_channel.items():
        assert gens == sorted(set(gens)), (channel, gens)
    for owner in ("alice", "bob"):
        for subdir in ("linux-64", "noarch"):
            assert names_in(repodata(replicas[1], blobs, owner, "main", subdir)) == \
                {f"pkg{i}-1.0-0.conda" for i in range(6)}


def test_applied_events_are_counted_once(indexer, log):
    before = _sample("wharf_indexer_events_applied_total", type="file_uploaded")
    dup = _sample("wharf_indexer_events_duplicate_total")
    gaps = _sample("wharf_indexer_events_gap_filled_total")
    first = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    second = log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0")
    indexer.handle(second)        # fills the gap: applies first, then second
    indexer.handle(first)         # duplicate
    indexer.handle(second)        # duplicate
    assert _sample("wharf_indexer_events_applied_total", type="file_uploaded") == before + 2
    assert _sample("wharf_indexer_events_duplicate_total") == dup + 2
    assert _sample("wharf_indexer_events_gap_filled_total") == gaps + 1
