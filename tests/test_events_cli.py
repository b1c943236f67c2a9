"""Events the indexer cannot apply, in the embedded mode's real wiring (registry log, outbox relay, in-memory bus,
indexer on SQLite) and through ``wharf events list-stuck`` / ``wharf events retry``: a newer version and a
malformed event in the registry's log are parked, not applied (nor dropped), their streams stop there while the
others flow and the relay is not held up; ``retry`` applies them once they can be (newer code, a corrected row)."""
import json
import uuid

import pytest
from sqlalchemy import insert, update

from services.cli import main as wharf
from services.embedded import Embedded
from services.kernel import metrics
from services.kernel.adapters.db import make_engine
from services.kernel.events import CURRENT_VERSION, utcnow_iso
from services.kernel.settings import Settings
from services.registry.adapters.tables import events, streams


def write_raw(settings, stream_id: str, type_: str, version: int, data: dict) -> int:
    """Append an event to the registry's log as other code would have written it (not through Event.new)."""
    engine = make_engine(settings.registry_db_url)
    try:
        with engine.begin() as conn:
            last = conn.execute(streams.select().where(streams.c.stream_id == stream_id)).first()
            seq = (last.last_sequence if last else 0) + 1
            if last is None:
                conn.execute(insert(streams).values(stream_id=stream_id, last_sequence=seq))
            else:
                conn.execute(update(streams).where(streams.c.stream_id == stream_id).values(last_sequence=seq))
            conn.execute(insert(events).values(
                event_id=uuid.uuid4().hex, stream_id=stream_id, sequence=seq, type=type_, version=version,
                occurred_at=utcnow_iso(), actor="system", correlation_id=None, data=json.dumps(data),
                published=False))
        return seq
    finally:
        engine.dispose()


def fix_row(settings, stream_id: str, sequence: int, data: dict) -> None:
    engine = make_engine(settings.registry_db_url)
    with engine.begin() as conn:
        conn.execute(update(events).where(events.c.stream_id == stream_id, events.c.sequence == sequence)
                     .values(data=json.dumps(data)))
    engine.dispose()


@pytest.fixture
def system(tmp_path, monkeypatch):
    monkeypatch.setenv("WHARF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WHARF_MODE", "embedded")
    for name in ("WHARF_AUTH_DB_URL", "WHARF_REGISTRY_DB_URL", "WHARF_INDEXER_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    system = Embedded(Settings.from_env(catch_up_interval=3600))
    yield system
    system.stop()


def test_stuck_streams_are_listed_and_retried(system, capsys, monkeypatch):
    settings, reg = system.settings, system.registry
    reg.create_package("alice", "a", public=True, public_attrs={}, actor="alice")
    assert system.settle()
    newer = write_raw(settings, "alice", "package_created", CURRENT_VERSION["package_created"] + 1,
                      {"owner": "alice", "package": "b", "public": True})
    poison = write_raw(settings, "carol", "file_removed", 1, {"owner": "carol"})     # no package, version...
    reg.create_package("alice", "c", public=True, public_attrs={}, actor="alice")
    reg.create_package("bob", "tool", public=True, public_attrs={}, actor="bob")
    assert system.settle(), "the relay must not be held up by events the indexer cannot apply"
    assert reg.verify_inventory()["unpublished"] == 0
    assert system.indexer.verify_inventory()["streams"] == {"alice": 1, "bob": 1, "carol": 0}
    assert metrics.STREAMS_STUCK._value.get() == 2
    capsys.readouterr()

    assert wharf(["events", "list-stuck"]) == 1
    out = capsys.readouterr().out
    assert f"alice stopped at #{newer}: package_created v2 (newer_version)" in out
    assert f"carol stopped at #{poison}: file_removed v1 (malformed)" in out
    assert wharf(["events", "list-stuck", "--json"]) == 1
    assert [(d["stream_id"], d["reason"]) for d in json.loads(capsys.readouterr().out)] == \
        [("alice", "newer_version"), ("carol", "malformed")]

    assert wharf(["events", "retry"]) == 1                      # nothing changed: both still stuck
    assert "alice: still stopped at #2" in capsys.readouterr().out
    assert wharf(["events", "retry", "nobody"]) == 2            # not stuck: an error, not a crash

    monkeypatch.setitem(CURRENT_VERSION, "package_created", CURRENT_VERSION["package_created"] + 1)
    assert wharf(["events", "retry", "alice"]) == 0             # the code that knows version 2
    assert "alice: resumed at #2, 2 events applied" in capsys.readouterr().out
    fix_row(settings, "carol", poison, {"owner": "carol", "package": "x", "version": "1",
                                        "basename": "noarch/x-1-0.conda"})
    assert wharf(["events", "retry"]) == 0
    assert system.indexer.verify_inventory()["streams"] == {"alice": 3, "bob": 1, "carol": 1}
    assert wharf(["events", "list-stuck"]) == 0
    assert "no stream is stuck" in capsys.readouterr().out
    assert system.indexer.count_stuck() == 0 and metrics.STREAMS_STUCK._value.get() == 0
