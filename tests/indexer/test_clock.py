"""Issue 16: the indexer reads time through its ``Clock`` port (services/kernel/ports.py), injected by its
bootstrap, so tests of ages, lags and grace periods move a fake clock instead of sleeping."""
from __future__ import annotations

import time

import pytest

from services.indexer.bootstrap import bootstrap
from services.indexer.domain.records import epoch_millis
from services.kernel.clock import FakeClock, SystemClock
from services.kernel.events import Event
from services.kernel.settings import Settings


def test_bootstrap_injects_the_clock(tmp_path):
    settings = Settings(data_dir=str(tmp_path), secret_key="k", indexer_partitions=4)
    fake = FakeClock(start=1000.0)
    service = bootstrap(settings, clock=fake)
    assert service.clock is fake and service.partitions == 4
    assert isinstance(bootstrap(settings).clock, SystemClock)


def test_the_fake_clock_moves_only_when_told():
    clock = FakeClock(start=100.0)
    assert (clock.time(), clock.monotonic()) == (100.0, 0.0)
    clock.sleep(2.5)
    clock.advance(0.5)
    assert (clock.time(), clock.monotonic(), clock.slept) == (103.0, 3.0, [2.5])
    with pytest.raises(ValueError):
        clock.advance(-1)
    real = SystemClock()
    assert abs(real.time() - time.time()) < 5 and real.monotonic() <= time.monotonic()


def test_an_event_is_behind_once_the_clock_says_so(tmp_path):
    """``catch_up_lag``: an event delivered that long after its commit makes the indexer read ahead; the age is
    the indexer's clock minus the event's ``occurred_at``."""
    occurred = "2026-05-01T12:00:00.000Z"
    clock = FakeClock(start=epoch_millis(occurred) / 1000 + 0.5)
    service = bootstrap(Settings(data_dir=str(tmp_path), secret_key="k"), clock=clock)
    service.catch_up_lag = 1.0
    event = Event(type="package_created", stream_id="alice", sequence=1, occurred_at=occurred, data={},
                  event_id="e1", actor="alice", correlation_id=None)
    assert not service._behind(event)
    clock.advance(0.5)
    assert service._behind(event)
