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


def _history(log):
    """Uploads, a removal, a label copy and a transfer-free mix on one stream, plus another owner's upload."""
    a = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    b = log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0")
    removed = log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)})
    c = log.upload("alice", "scipy", "1.14.0", "linux-64", "py312_0", labels=("dev",))
    copied = log.append("label_copied", "alice", {"owner": "alice", "from_label": "dev", "to_label": "main",
                                                  "files": [log.ref(c)]})
    d = log.upload("alice", "tool", "1.0", "noarch", "0")
    return [a, b, removed, c, copied, d]


def _published(service, blobs):
    service.publish_pending()
    return {(lbl, sd): names_in(repodata(service, blobs, "alice", lbl, sd))
            for lbl in ("main", "dev") for sd in ("linux-64", "noarch")}


def test_a_replica_behind_reads_ahead_and_applies_the_rest_in_one_go(db_url, blobs, publisher, log):
    """An event delivered ``catch_up_lag`` or more after its commit (the log's are months old) makes the
    replica apply the events after it from the log in the same transaction; their deliveries are then
    duplicates. The indexes equal those of a replica fed one delivery at a time."""
    wires = _history(log)
    behind = make_service(db_url, blobs, publisher, log)
    behind.catch_up_lag = 1.0
    behind.handle(wires[0])
    assert log.reads == [("alice", 1)]
    with behind.uow.begin() as repo:
        assert repo.lock_stream("alice") == len(wires)        # everything after the first, applied with it
    for w in wires:
        behind.handle(w)                                      # all duplicates now: nothing more is read
    assert log.reads == [("alice", 1)]
    got = _published(behind, blobs)
    assert got[("main", "linux-64")] == {"numpy-2.0.2-py312_0.conda", "scipy-1.14.0-py312_0.conda"}
    assert got[("dev", "linux-64")] == {"scipy-1.14.0-py312_0.conda"}
    assert got[("main", "noarch")] == {"tool-1.0-0.conda"}


def test_one_delivery_at_a_time_gives_the_same_indexes(db_url, blobs, publisher, log, tmp_path):
    from services.kernel.adapters.local_blobs import LocalBlobStore

    from .support import CountingBlobs
    wires = _history(log)
    ahead = make_service(db_url, blobs, publisher, log)
    ahead.catch_up_lag = 0.0
    ahead.handle(wires[0])
    expected = _published(ahead, blobs)
    ahead.reset()
    other = CountingBlobs(LocalBlobStore(str(tmp_path / "other")))
    one_by_one = make_service(db_url, other, publisher, log)      # catch_up_lag None: never reads ahead
    reads = len(log.reads)
    for w in wires:
        one_by_one.handle(w)
    assert len(log.reads) == reads
    assert _published(one_by_one, other) == expected


def test_a_recent_event_is_not_read_ahead(indexer, log):
    wires = _history(log)
    indexer.catch_up_lag = 10 ** 9          # every event of the log is more recent than that
    indexer.handle(wires[0])
    assert log.reads == []
    with indexer.uow.begin() as repo:
        assert repo.lock_stream("alice") == 1


def test_reading_ahead_stops_at_what_cannot_be_read(indexer, log):
    """A malformed event later in the log is left to its own delivery (which reports it), and a log that
    cannot be read leaves the delivered event applied alone."""
    from services.kernel.errors import BadRequest
    wires = _history(log)                     # sequences 1..6, then the malformed 7 and a good 8
    bad = log.upload("alice", "broken", "1.0", "noarch", "0")
    bad["data"] = {"owner": "alice"}          # in the log too: no package, version, ...
    after = log.upload("alice", "late", "1.0", "noarch", "0")
    indexer.catch_up_lag = 0.0
    indexer.handle(wires[0])
    with indexer.uow.begin() as repo:
        assert repo.lock_stream("alice") == 6
    with pytest.raises(BadRequest):
        indexer.handle(bad)
    with indexer.uow.begin() as repo:
        assert repo.lock_stream("alice") == 6

    def broken(stream_id, after_sequence):
        raise Unavailable("registry down")
    indexer.log_reader = broken
    log2 = log.upload("bob", "solo", "1.0", "noarch", "0")
    log.upload("bob", "solo", "1.1", "noarch", "0")
    indexer.handle(log2)
    with indexer.uow.begin() as repo:
        assert repo.lock_stream("bob") == 1
    assert (bad["sequence"], after["sequence"]) == (7, 8)
