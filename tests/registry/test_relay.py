"""The outbox relay with publishers we own: publishes committed events in log order and marks them published
only after the publisher returned; leaves them pending when the transport is unavailable; two relays at once
neither lose, duplicate nor reorder events."""
import threading
import time

import pytest
from sqlalchemy import select

from services.kernel.bus import InMemoryBus
from services.kernel.errors import Unavailable
from services.kernel.events import REGISTRY_EVENT_TYPES
from services.registry.adapters.tables import events

from services.kernel.adapters.db import make_engine
from services.registry.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.registry.service_layer.service import RegistryService

from .conftest import ListPublisher, upload


def published_flags(engine):
    with engine.connect() as conn:
        return [bool(r.published) for r in conn.execute(select(events.c.published).order_by(events.c.position))]


def make_history(reg):
    reg.create_package("alice", "demo", public=True, public_attrs={"summary": "s"}, actor="alice")
    reg.create_release("alice", "demo", "1.0", {}, actor="alice")
    reg.create_package("bob", "tool", public=False, public_attrs={}, actor="bob")
    upload(reg, "alice", "demo", "1.0", "linux-64/demo-1.0-0.conda")
    reg.remove_file("alice", "demo", "1.0", "linux-64/demo-1.0-0.conda", actor="alice")


def test_relay_publishes_in_log_order_and_marks(registry, publisher, engine):
    make_history(registry)
    assert published_flags(engine) == [False] * 5
    assert registry.relay_pending() == 5
    log = registry.read_log(0)
    assert [e.event_id for e in publisher.published] == [e["event_id"] for e in log]
    assert [e.to_wire() for e in publisher.published] == [{k: v for k, v in e.items() if k != "position"}
                                                          for e in log]
    assert published_flags(engine) == [True] * 5
    assert registry.relay_pending() == 0 and len(publisher.published) == 5
    registry.create_release("alice", "demo", "2.0", {}, actor="alice")
    assert registry.relay_pending() == 1
    assert publisher.published[-1].type == "release_created" and publisher.published[-1].sequence == 5


def test_stream_heads_are_each_streams_last_sequence(registry):
    assert registry.stream_heads() == {}
    make_history(registry)
    assert registry.stream_heads() == {"alice": 4, "bob": 1}
    registry.create_release("bob", "tool", "1.0", {}, actor="bob")
    assert registry.stream_heads() == {"alice": 4, "bob": 2}


def consumed_by(bus: InMemoryBus, consumer) -> InMemoryBus:
    for t in REGISTRY_EVENT_TYPES:
        bus.subscribe(t, consumer)
    return bus


def test_with_the_in_memory_bus_events_are_relayed_once_the_consumer_applied_them(make_registry, engine):
    """Nothing in memory survives a crash, so the relay marks events relayed only after the bus delivered them:
    its publish returns once the consumer returned. The consumer reads the registry meanwhile, as the indexer
    does to fill a gap (on SQLite the relay must not hold the database while it waits)."""
    seen = []
    bus = InMemoryBus()
    reg = make_registry(pub=bus)

    def consumer(ev):
        seen.append((ev.event_id, published_flags(engine).count(True), len(reg.read_stream(ev.stream_id, 0))))
    consumed_by(bus, consumer)
    make_history(reg)
    try:
        assert reg.relay_pending() == 5
    finally:
        bus.stop()
    assert [e for e, _, _ in seen] == [e["event_id"] for e in reg.read_log(0)]
    assert {relayed for _, relayed, _ in seen} == {0}          # none was marked before it was applied
    assert published_flags(engine) == [True] * 5


def test_with_the_in_memory_bus_what_the_consumer_could_not_apply_stays_unrelayed(make_registry, engine):
    """A consumer that keeps failing (the indexer's database locked, the process about to die): the relay marks
    nothing, and relays the events again at its next round."""
    failing = [True]
    bus = InMemoryBus(max_attempts=2)
    reg = make_registry(pub=bus)

    def consumer(ev):
        if failing[0] and ev.type == "file_uploaded":
            raise RuntimeError("database is locked")
    consumed_by(bus, consumer)
    make_history(reg)
    try:
        assert reg.relay_pending() == 0
        assert published_flags(engine) == [False] * 5
        failing[0] = False
        assert reg.relay_pending() == 5
        assert published_flags(engine) == [True] * 5
        bus.stop()
        reg.create_release("alice", "demo", "2.0", {}, actor="alice")
        assert reg.relay_pending() == 0      # a stopped bus delivers nothing: nothing is marked
        assert published_flags(engine) == [True] * 5 + [False]
    finally:
        bus.stop()


def test_relay_limit_pages_through_the_log(registry, publisher, engine):
    make_history(registry)
    assert registry.relay_pending(limit=2) == 2
    assert published_flags(engine) == [True, True, False, False, False]
    assert registry.relay_pending(limit=2) == 2 and registry.relay_pending(limit=2) == 1
    assert [e.type for e in publisher.published] == [e["type"] for e in registry.read_log(0)]


def test_unavailable_publisher_marks_nothing(registry, publisher, engine):
    make_history(registry)
    publisher.fail = Unavailable("broker down")
    assert registry.relay_pending() == 0
    assert published_flags(engine) == [False] * 5 and publisher.published == []
    publisher.fail = None
    assert registry.relay_pending() == 5
    assert published_flags(engine) == [True] * 5


def test_other_publisher_errors_propagate_and_mark_nothing(registry, publisher, engine):
    make_history(registry)
    publisher.fail = RuntimeError("bug in transport")
    with pytest.raises(RuntimeError):
        registry.relay_pending()
    assert published_flags(engine) == [False] * 5


def test_relay_without_publisher_is_a_clear_error(make_registry):
    reg = make_registry(pub=None)
    reg.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
    with pytest.raises(RuntimeError, match="EventPublisher"):
        reg.relay_pending()


class SlowPublisher(ListPublisher):
    """Shared by two relays; slow enough that their batches overlap in time."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def publish(self, evs):
        time.sleep(0.05)
        with self.lock:
            self.published.extend(evs)


def test_two_relays_at_once_keep_order_without_duplicates(make_registry, engine):
    shared = SlowPublisher()
    writer = make_registry()
    relays = [make_registry(pub=shared), make_registry(pub=shared)]
    total = 60
    for i in range(total):
        writer.create_package("alice" if i % 2 else "bob", f"p{i}", public=True, public_attrs={}, actor="x")
    stop = threading.Event()
    errors = []

    def loop(reg):
        try:
            while not stop.is_set():
                if reg.relay_pending(limit=7) == 0:
                    time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=loop, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while not all(published_flags(engine)) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert errors == []
    assert [e.event_id for e in shared.published] == [e["event_id"] for e in writer.read_log(0, limit=1000)]
    assert all(published_flags(engine))


def test_relay_stops_at_the_first_event_another_relay_holds(pg_url):
    """The interleaving behind a CI failure, made deterministic (PostgreSQL only: SQLite's BEGIN IMMEDIATE
    serialises relays): another relay holds events 2-4 while this one scans; it may take event 1 but not 5-7,
    which would leave before 2-4."""
    engine = make_engine(pg_url)
    try:
        publisher = ListPublisher()
        writer = RegistryService(SqlUnitOfWorkFactory(engine), publisher=None)
        relay = RegistryService(SqlUnitOfWorkFactory(engine), publisher=publisher)
        for i in range(7):
            writer.create_package("alice", f"p{i}", public=True, public_attrs={}, actor="x")
        log = writer.read_log(0)
        with engine.connect() as other:
            other.begin()
            other.execute(select(events.c.position).where(events.c.position.in_([e["position"] for e in log[1:4]]))
                          .with_for_update())
            assert relay.relay_pending(limit=7) == 1
            assert [e.event_id for e in publisher.published] == [log[0]["event_id"]]
            assert relay.relay_pending(limit=7) == 0          # 2-4 still held: nothing may overtake them
            other.rollback()
        assert relay.relay_pending(limit=7) == 6
        assert [e.event_id for e in publisher.published] == [e["event_id"] for e in log]
        assert all(published_flags(engine))
    finally:
        engine.dispose()
