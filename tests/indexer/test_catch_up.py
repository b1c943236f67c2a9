"""``IndexerService.catch_up``: whatever the registry's log holds beyond the indexer's stream positions is
applied, whether or not it was ever delivered (a delivery lost in a crash, a queue the broker dropped), in order,
a page per transaction, giving the indexes one delivery at a time gives; when nothing is behind, no stream is
read; a stream that cannot be read is left for the next round without holding back the others (SQLite and
PostgreSQL)."""
import pytest

from services.kernel.errors import Unavailable

from .conftest import make_service
from .support import CountingBlobs, names_in, repodata
from .test_ordering import _history, _published


def positions(service) -> dict:
    with service.uow.begin() as repo:
        return repo.stream_positions()


def test_streams_behind_the_log_are_caught_up(indexer, log, blobs):
    wires = _history(log)
    bob = log.upload("bob", "tool", "1.0", "noarch", "0")
    indexer.handle(wires[0])                 # the rest of alice's stream and bob's were never delivered
    assert indexer.catch_up(log.heads()) == len(wires) - 1 + 1
    assert positions(indexer) == {"alice": len(wires), "bob": 1}
    assert sorted(log.reads) == [("alice", 1), ("bob", 0)]    # read from each stream's position
    got = _published(indexer, blobs)
    assert got[("main", "linux-64")] == {"numpy-2.0.2-py312_0.conda", "scipy-1.14.0-py312_0.conda"}
    assert got[("main", "noarch")] == {"tool-1.0-0.conda"}
    assert names_in(repodata(indexer, blobs, "bob", "main", "noarch")) == {"tool-1.0-0.conda"}
    # late deliveries of what was caught up are duplicates: nothing changes, nothing is read
    for w in wires + [bob]:
        indexer.handle(w)
    assert indexer.publish_pending() == []


def test_nothing_behind_reads_no_stream(indexer, log):
    wires = _history(log)
    for w in wires:
        indexer.handle(w)
    assert indexer.catch_up(log.heads()) == 0
    assert indexer.catch_up({}) == 0
    assert log.reads == []


def test_caught_up_indexes_equal_one_delivery_at_a_time(db_url, blobs, publisher, log, tmp_path):
    from services.kernel.adapters.local_blobs import LocalBlobStore
    wires = _history(log)
    caught = make_service(db_url, blobs, publisher, log)
    caught.catch_up(log.heads())
    expected = _published(caught, blobs)
    caught.reset()
    other = CountingBlobs(LocalBlobStore(str(tmp_path / "other")))
    one_by_one = make_service(db_url, other, publisher, log)
    for w in wires:
        one_by_one.handle(w)
    assert _published(one_by_one, other) == expected


def test_a_long_stream_is_caught_up_a_page_at_a_time(indexer, log, blobs):
    for i in range(7):
        log.upload("alice", "pkg", f"1.{i}", "noarch", "0")
    pages = []

    def small_pages(stream_id, after):
        pages.append(after)
        return log.read_stream(stream_id, after, limit=3)
    indexer.log_reader = small_pages
    assert indexer.catch_up(log.heads()) == 7
    assert pages == [0, 3, 6]
    indexer.publish_pending()
    assert len(names_in(repodata(indexer, blobs, "alice", "main", "noarch"))) == 7


def test_a_stream_that_cannot_be_read_waits_for_the_next_round(indexer, log):
    log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0")
    log.upload("bob", "tool", "1.0", "noarch", "0")
    first = log.streams["alice"].pop(0)      # the registry cannot serve alice's sequence 1 (yet)
    heads = dict(log.heads(), alice=2)
    assert indexer.catch_up(heads) == 1      # bob's
    assert positions(indexer) == {"bob": 1}       # alice's transaction rolled back
    log.streams["alice"].insert(0, first)
    assert indexer.catch_up(log.heads()) == 2
    assert positions(indexer) == {"alice": 2, "bob": 1}


def test_a_log_that_cannot_be_read_at_all_applies_nothing(indexer, log):
    log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")

    def down(stream_id, after_sequence):
        raise Unavailable("registry down")
    indexer.log_reader = down
    assert indexer.catch_up(log.heads()) == 0
    assert positions(indexer) == {}
    assert indexer.publish_pending() == []


@pytest.mark.parametrize("ahead", [0, 3])
def test_an_indexer_ahead_of_the_heads_it_was_given_reads_nothing(indexer, log, ahead):
    """Heads read before events the indexer has applied since (a delivery won the race): nothing is behind."""
    wires = [log.upload("alice", "pkg", f"1.{i}", "noarch", "0") for i in range(3)]
    for w in wires:
        indexer.handle(w)
    assert indexer.catch_up({"alice": 3 - ahead}) == 0
    assert log.reads == []
