"""Only a lost race on the event log (a unique violation of (stream_id, sequence)) is ``StaleStream``, which the
facade retries; any other integrity error is what it is: raised at once, not retried 20 times and reported as
"too many concurrent changes" (SQLite and PostgreSQL)."""
import dataclasses

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.kernel.errors import Conflict
from services.kernel.events import Event
from services.registry.adapters.tables import events
from services.registry.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.registry.domain.errors import StaleStream


@pytest.fixture
def event_inserts(engine):
    """How many INSERTs into the event log the engine ran (each attempt of a command makes one)."""
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            seen.append(statement)
    sa_event.listen(engine, "before_cursor_execute", count)
    yield seen
    sa_event.remove(engine, "before_cursor_execute", count)


def test_an_integrity_error_that_is_not_a_lost_race_is_raised_once(registry, engine, event_inserts):
    registry.create_package("alice", "numpy", public=True, public_attrs={}, actor="alice")
    with engine.connect() as conn:
        first = conn.execute(select(events.c.event_id)).scalar_one()
    # an event whose id the log holds already (a bug, not a concurrent change): UNIQUE(event_id) refuses it
    clash = dataclasses.replace(Event.new("package_updated", "alice", {"owner": "alice", "package": "numpy",
                                                                        "changes": {"summary": "s"}}),
                                event_id=first)
    event_inserts.clear()
    with pytest.raises(IntegrityError) as caught:
        registry._command("alice", lambda uow: [clash])
    assert not isinstance(caught.value, Conflict)
    assert len(event_inserts) == 1, "retried as if it were a lost race"
    # the registry still works, and the refused command left nothing behind
    registry.update_package("alice", "numpy", {"summary": "ok"}, actor="alice")
    with engine.connect() as conn:
        assert conn.execute(select(events.c.sequence).order_by(events.c.sequence)).scalars().all() == [1, 2]


def test_a_lost_race_on_the_stream_sequence_is_stale_stream(engine, registry):
    registry.create_package("alice", "numpy", public=True, public_attrs={}, actor="alice")
    uows = SqlUnitOfWorkFactory(engine, create_tables=False)
    ev = Event.new("package_updated", "alice", {"owner": "alice", "package": "numpy", "changes": {"summary": "s"}})
    with pytest.raises(StaleStream):
        with uows() as uow:
            uow.lock_stream("alice")              # last sequence 1, remembered by this transaction
            # another writer's sequence 2 (in this transaction, so that it needs no second connection)
            uow.conn.execute(insert(events).values(
                event_id="other-writer", stream_id="alice", sequence=2, type="package_updated", version=1,
                occurred_at=ev.occurred_at, actor="bob", correlation_id=None,
                data='{"owner": "alice", "package": "numpy", "changes": {}}', published=False))
            uow.append([ev])                      # sequence 2 again: the unique (stream_id, sequence)
            uow.commit()

