"""Events the indexer cannot apply (SQLite and PostgreSQL): an event of a newer version than the code knows and a
malformed (poison) event are never applied nor skipped. Each is parked in the dead-letter table, its stream stops
there (later events wait in the registry's log, none is lost), ``wharf_stream_stuck`` counts the stopped
streams, other streams go on, and once the event can be applied (newer code, a fix) a catch-up round or
``retry_parked`` applies it and the rest of its stream."""
import pytest

from services.kernel import metrics
from services.kernel.errors import BadRequest
from services.kernel.events import CURRENT_VERSION

from .support import names_in, repodata


def positions(service) -> dict:
    with service.uow.begin() as repo:
        return repo.stream_positions()


def stuck_gauge() -> float:
    return metrics.STREAMS_STUCK._value.get()


def published(indexer, blobs, owner="alice", subdir="noarch") -> set:
    indexer.publish_pending()
    return names_in(repodata(indexer, blobs, owner, "main", subdir))


def test_an_event_of_a_newer_version_waits_for_the_code_that_knows_it(indexer, log, blobs, monkeypatch):
    a = log.upload("alice", "a", "1.0", "noarch", "0")
    newer = log.upload("alice", "b", "1.0", "noarch", "0")
    newer["version"] = CURRENT_VERSION["file_uploaded"] + 1      # written by newer code (in the log too)
    c = log.upload("alice", "c", "1.0", "noarch", "0")
    bob = log.upload("bob", "tool", "1.0", "noarch", "0")

    indexer.handle(a)
    with pytest.raises(BadRequest, match="version 2"):
        indexer.handle(newer)                # parked, not applied: the delivery is not done
    indexer.handle(c)                        # waits behind it
    indexer.handle(bob)                      # other streams go on
    assert positions(indexer) == {"alice": 1, "bob": 1}
    [letter] = indexer.dead_letters()
    assert (letter["stream_id"], letter["sequence"], letter["reason"], letter["version"]) == \
        ("alice", 2, "newer_version", 2)
    assert letter["payload"]["data"]["package"] == "b"
    assert stuck_gauge() == 1
    assert published(indexer, blobs) == {"a-1.0-0.conda"}
    assert published(indexer, blobs, "bob") == {"tool-1.0-0.conda"}

    assert indexer.catch_up(log.heads()) == 0      # still unknown: tried again, still parked
    assert indexer.dead_letters()[0]["attempts"] == 2
    assert positions(indexer) == {"alice": 1, "bob": 1}

    monkeypatch.setitem(CURRENT_VERSION, "file_uploaded", CURRENT_VERSION["file_uploaded"] + 1)   # newer code
    assert indexer.catch_up(log.heads()) == 2
    assert positions(indexer) == {"alice": 3, "bob": 1}
    assert indexer.dead_letters() == [] and stuck_gauge() == 0
    assert published(indexer, blobs) == {"a-1.0-0.conda", "b-1.0-0.conda", "c-1.0-0.conda"}


def test_a_newer_version_of_a_type_the_indexer_does_not_read_is_not_skipped(indexer, log):
    log.upload("alice", "a", "1.0", "noarch", "0")
    created = log.append("package_created", "alice", {"owner": "alice", "package": "b", "public": True})
    created["version"] = CURRENT_VERSION["package_created"] + 1
    with pytest.raises(BadRequest):
        indexer.handle(created)              # gap-fills #1, parks #2
    assert positions(indexer) == {"alice": 1}
    assert [(d["sequence"], d["reason"]) for d in indexer.dead_letters()] == [(2, "newer_version")]


def test_a_poison_event_stops_its_stream_without_losing_what_follows(indexer, log, blobs):
    a = log.upload("alice", "a", "1.0", "noarch", "0")
    bad = log.upload("alice", "bad", "1.0", "noarch", "0")
    good_data = dict(bad["data"])
    bad["data"] = {"owner": "alice"}         # in the log too: no package, version, ...
    later = [log.upload("alice", p, "1.0", "noarch", "0") for p in ("c", "d")]
    bob = log.upload("bob", "tool", "1.0", "noarch", "0")

    for wire in [a, bad] + later + [bob]:
        try:
            indexer.handle(wire)
        except BadRequest:
            assert wire is bad
    assert positions(indexer) == {"alice": 1, "bob": 1}
    [letter] = indexer.dead_letters()
    assert (letter["stream_id"], letter["sequence"], letter["reason"]) == ("alice", 2, "malformed")
    assert "invalid file_uploaded event" in letter["error"]
    assert stuck_gauge() == 1
    assert published(indexer, blobs) == {"a-1.0-0.conda"}
    assert published(indexer, blobs, "bob") == {"tool-1.0-0.conda"}

    assert indexer.catch_up(log.heads()) == 0          # still malformed: stays parked
    assert indexer.retry_parked(log.heads()) == [
        {"stream_id": "alice", "sequence": 2, "applied": 0, "stuck": True, "error": letter["error"]}]

    bad["data"] = good_data                            # resolved (a code fix, an upcaster)
    assert indexer.retry_parked(log.heads(), "alice") == [
        {"stream_id": "alice", "sequence": 2, "applied": 3, "stuck": False, "error": None}]
    assert positions(indexer) == {"alice": 4, "bob": 1}
    assert indexer.dead_letters() == [] and stuck_gauge() == 0
    assert published(indexer, blobs) == {f"{p}-1.0-0.conda" for p in ("a", "bad", "c", "d")}
    for wire in [a, bad] + later:                       # late deliveries are duplicates
        indexer.handle(wire)
    assert positions(indexer) == {"alice": 4, "bob": 1}


def test_a_gap_filled_into_a_poison_event_applies_what_precedes_it(indexer, log, blobs):
    log.upload("alice", "a", "1.0", "noarch", "0")
    bad = log.upload("alice", "bad", "1.0", "noarch", "0")
    bad["data"] = {"owner": "alice"}
    last = log.upload("alice", "c", "1.0", "noarch", "0")
    indexer.handle(last)                     # #1 and #2 are read from the log: #1 applies, #2 is parked
    assert positions(indexer) == {"alice": 1}
    assert [d["sequence"] for d in indexer.dead_letters()] == [2]
    assert published(indexer, blobs) == {"a-1.0-0.conda"}


def test_a_delivery_the_log_does_not_hold_is_discarded_by_a_retry(indexer, log):
    """A message the registry never wrote (its log ends before it) parks nothing for ever."""
    log.upload("alice", "a", "1.0", "noarch", "0")
    stray = dict(log.upload("alice", "b", "1.0", "noarch", "0"), data={"owner": "alice"})
    log.streams["alice"].pop()
    indexer.handle(log.streams["alice"][0])
    with pytest.raises(BadRequest):
        indexer.handle(stray)
    assert [d["sequence"] for d in indexer.dead_letters()] == [2]
    assert indexer.retry_parked(log.heads()) == [
        {"stream_id": "alice", "sequence": 2, "applied": 0, "stuck": False, "error": None}]
    assert indexer.dead_letters() == []
    real = log.upload("alice", "b", "1.0", "noarch", "0")     # the registry's own #2 applies as usual
    indexer.handle(real)
    assert positions(indexer) == {"alice": 2}


def test_a_restarted_indexer_retries_parked_events_at_start(db_url, blobs, publisher, log, monkeypatch):
    from .conftest import make_service
    first = make_service(db_url, blobs, publisher, log)
    newer = log.upload("alice", "a", "1.0", "noarch", "0")
    newer["version"] = CURRENT_VERSION["file_uploaded"] + 1
    log.upload("alice", "b", "1.0", "noarch", "0")
    log.upload("bob", "tool", "1.0", "noarch", "0")
    assert first.catch_up(log.heads()) == 1              # bob's; alice stops at #1
    assert positions(first) == {"alice": 0, "bob": 1}
    monkeypatch.setitem(CURRENT_VERSION, "file_uploaded", CURRENT_VERSION["file_uploaded"] + 1)
    restarted = make_service(db_url, blobs, publisher, log)    # the newer code, same database
    assert restarted.catch_up(log.heads()) == 2
    assert positions(restarted) == {"alice": 2, "bob": 1} and restarted.dead_letters() == []


def test_an_unknown_envelope_names_no_stream_and_parks_nothing(indexer):
    with pytest.raises(BadRequest, match="invalid event envelope"):
        indexer.handle({"type": "file_uploaded", "data": {}})
    assert indexer.dead_letters() == [] and positions(indexer) == {}


def test_a_reset_forgets_the_dead_letters(indexer, log):
    bad = log.upload("alice", "bad", "1.0", "noarch", "0")
    bad["data"] = {}
    with pytest.raises(BadRequest):
        indexer.handle(bad)
    indexer.reset()
    assert indexer.dead_letters() == []
