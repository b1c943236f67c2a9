"""The in-memory bus of the embedded mode: ``publish`` returns once every subscribed handler has handled the
events (nothing in memory is durable: the relay may mark them relayed only then), in publish order, on the
bus's own thread; a handler that keeps failing makes ``publish`` raise ``Unavailable``; a handler publishing on
the same bus does not wait for itself; ``stop`` releases publishers still waiting."""
import threading

import pytest

from services.kernel.bus import InMemoryBus
from services.kernel.errors import Unavailable
from services.kernel.events import Event


def events(n, type_="package_created"):
    return [Event(type=type_, data={"i": i}, stream_id="alice") for i in range(n)]


@pytest.fixture
def bus():
    b = InMemoryBus(max_attempts=2)
    yield b
    b.stop()


def test_publish_returns_once_handled_in_order_on_the_bus_thread(bus):
    seen = []
    bus.subscribe("package_created", lambda ev: seen.append((ev.data["i"], threading.current_thread().name)))
    bus.subscribe("package_created", lambda ev: seen.append(("second", ev.data["i"])))
    bus.publish(events(3))
    assert seen == [(0, "wharf-bus"), ("second", 0), (1, "wharf-bus"), ("second", 1), (2, "wharf-bus"),
                    ("second", 2)]
    bus.publish(events(1, "release_created"))      # nobody subscribed: delivered to no one, at once


def test_a_handler_that_keeps_failing_makes_publish_unavailable_after_the_batch(bus):
    seen = []

    def handler(ev):
        seen.append(ev.data["i"])
        if ev.data["i"] == 1:
            raise RuntimeError("database is locked")
    bus.subscribe("package_created", handler)
    with pytest.raises(Unavailable, match="1 of 3 events were not delivered"):
        bus.publish(events(3))
    assert seen == [0, 1, 1, 2]                  # two attempts at the failing one; the batch went on
    assert bus.drain(1)


def test_a_handler_publishing_on_its_own_bus_does_not_wait_for_itself(bus):
    seen = []

    def handler(ev):
        seen.append(ev.type)
        if ev.type == "package_created":
            bus.publish(events(1, "package_updated"))
    bus.subscribe("package_created", handler)
    bus.subscribe("package_updated", handler)
    bus.publish(events(1))
    assert bus.drain(5) and seen == ["package_created", "package_updated"]


def test_stop_releases_a_publisher_waiting_behind_a_stuck_handler():
    bus = InMemoryBus(stop_timeout=0.1)
    entered, release = threading.Event(), threading.Event()

    def stuck(ev):
        entered.set()
        release.wait(30)
    bus.subscribe("package_created", stuck)
    outcome = []

    def publish():
        try:
            bus.publish(events(2))
            outcome.append("delivered")
        except Unavailable:
            outcome.append("unavailable")
    t = threading.Thread(target=publish)
    t.start()
    assert entered.wait(10)
    bus.stop()            # the first event is in the handler; the second is dropped, never handled
    release.set()
    t.join(10)
    assert outcome == ["unavailable"]
    with pytest.raises(Unavailable):
        bus.publish(events(1))
