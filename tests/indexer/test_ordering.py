"""At-least-once, unordered delivery: duplicates are ignored, gaps are filled from the registry's log, and two
indexer replicas never apply one stream concurrently (SQLite and PostgreSQL)."""
import random
import threading

import pytest

from services.kernel.errors import Unavailable

from .conftest import make_service
from .support import names_in, repodata


def test_duplicates_are_ignored(indexer, log, blobs):
    a = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    removed = log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)})
    b = log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0")
    for w in (a, a, removed, a, b, removed, b, a):
        indexer.handle(w)
    assert log.reads == []
    indexer.publish_pending()
    # had the redelivered upload been applied after its removal, 2.0.1 would be back
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {"numpy-2.0.2-py312_0.conda"}
    for w in (a, removed, b):
        indexer.handle(w)
    assert indexer.publish_pending() == []


def test_out_of_order_delivery_fills_the_gap_from_the_log(indexer, log, blobs):
    a = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    b = log.upload("alice", "numpy", "2.0.1", "linux-64", "py311_0")
    removed = log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)})
    c = log.upload("alice", "scipy", "1.14.0", "linux-64", "py312_0")
    later = log.upload("alice", "scipy", "1.14.1", "linux-64", "py312_0")   # sequence 5, not yet delivered
    other = log.upload("bob", "tool", "1.0", "noarch", "0")
    indexer.handle(c)                  # sequence 4 first: 1..3 are read from the log and applied in order
    assert log.reads == [("alice", 0)]
    for w in (b, removed, a, other):   # late deliveries of what was already applied are duplicates
        indexer.handle(w)
    assert log.reads == [("alice", 0)]
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {
        "numpy-2.0.1-py311_0.conda", "scipy-1.14.0-py312_0.conda"}     # 5 is beyond the delivered event
    indexer.handle(later)
    indexer.publish_pending()
    assert "scipy-1.14.1-py312_0.conda" in names_in(repodata(indexer, blobs, "alice", "main", "linux-64"))
    assert names_in(repodata(indexer, blobs, "bob", "main", "noarch")) == {"tool-1.0-0.conda"}


def test_gap_fill_pages_through_a_limited_reader(db_url, blobs, publisher, log):
    wires = [log.upload("alice", "pkg", f"1.{i}", "noarch", "0") for i in range(7)]
    reads = []

    def small_pages(stream_id, after):
        reads.append(after)
        return log.read_stream(stream_id, after, limit=2)

    service = make_service(db_url, blobs, publisher, log)
    service.log_reader = small_pages
    service.handle(wires[-1])
    assert reads == [0, 2, 4]
    service.publish_pending()
    assert len(names_in(repodata(service, blobs, "alice", "main", "noarch"))) == 7


def test_an_unfillable_gap_applies_nothing(indexer, log, blobs):
    log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    second = log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0")
    first = log.streams["alice"].pop(0)      # the registry cannot serve sequence 1 (yet)
    with pytest.raises(Unavailable):
        indexer.handle(second)
    assert indexer.publish_pending() == []   # the transaction rolled back: nothing applied, nothing dirty
    log.streams["alice"].insert(0, first)
    indexer.handle(second)                   # the redelivery succeeds once the log serves the gap
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {
        "numpy-2.0.1-py312_0.conda", "numpy-2.0.2-py312_0.conda"}


def test_two_replicas_racing_on_one_stream(db_url, blobs, publisher, log):
    """Both replicas get every event (redeliveries), shuffled; the result is the log applied once, in order."""
    wires = []
    for i in range(12):
        w = log.upload("alice", "pkg", f"1.{i}", "linux-64", "0", labels=["main", "dev"])
        wires.append(w)
        if i % 3 == 2:
            wires.append(log.append("file_removed", "alice", {"owner": "alice", **log.ref(w)}))
    replicas = [make_service(db_url, blobs, publisher, log) for _ in range(2)]
    errors = []

    def deliver(service, order):
        for w in order:
            for _attempt in range(50):
                try:
                    service.handle(w)
                    break
                except Unavailable as exc:   # SQLite busy / PostgreSQL deadlock victim: the broker redelivers
                    errors.append(exc)
            else:
                raise AssertionError("event never applied")

    rng = random.Random(7)
    threads = []
    for service in replicas:
        order = list(wires)
        rng.shuffle(order)
        threads.append(threading.Thread(target=deliver, args=(service, order)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    replicas[0].publish_pending()
    replicas[1].publish_pending()
    expected = {f"pkg-1.{i}-0.conda" for i in range(12) if i % 3 != 2}
    for label in ("main", "dev"):
        assert names_in(repodata(replicas[1], blobs, "alice", label, "linux-64")) == expected
