"""The embedded mode's wiring of the catch-up: events whose delivery was lost (relayed, never applied) are
applied from the registry's log by the indexer's catch-up thread, at its start and then every
``catch_up_interval`` seconds, without any later event of their stream."""
import time

from sqlalchemy import update

from services.embedded import Embedded
from services.kernel.adapters.db import make_engine
from services.kernel.settings import Settings
from services.registry.adapters.tables import events


def lose_deliveries(settings) -> None:
    """Mark every event relayed without delivering it (what the relay did before it waited for the indexer)."""
    engine = make_engine(settings.registry_db_url)
    with engine.begin() as conn:
        conn.execute(update(events).values(published=True))
    engine.dispose()


def wait_positions(system, expected: dict, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = system.indexer.verify_inventory()["streams"]
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_lost_deliveries_are_applied_at_start_and_periodically(tmp_path):
    settings = Settings(data_dir=str(tmp_path), catch_up_interval=0.2)
    assert Settings.from_env({"WHARF_DATA_DIR": str(tmp_path)}).catch_up_interval == 30
    system = Embedded(settings, start_threads=False)
    try:
        system.registry.create_package("alice", "demo", public=True, public_attrs={}, actor="alice")
        lose_deliveries(settings)
        system.catch_up.start()
        assert wait_positions(system, {"alice": 1}) == {"alice": 1}          # the round at start
        system.registry.create_release("alice", "demo", "1.0", {}, actor="alice")
        system.registry.create_package("bob", "tool", public=True, public_attrs={}, actor="bob")
        lose_deliveries(settings)
        assert wait_positions(system, {"alice": 2, "bob": 1}) == {"alice": 2, "bob": 1}   # a later round
        assert system.registry.verify_inventory()["unpublished"] == 0
    finally:
        system.stop()


def test_the_catch_up_interval_is_a_positive_number_of_seconds(tmp_path):
    import pytest

    from services.kernel.settings import ConfigurationError
    env = {"WHARF_DATA_DIR": str(tmp_path)}
    assert Settings.from_env({**env, "WHARF_CATCH_UP_INTERVAL": "2.5"}).catch_up_interval == 2.5
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ConfigurationError, match="WHARF_CATCH_UP_INTERVAL"):
            Settings.from_env({**env, "WHARF_CATCH_UP_INTERVAL": bad})
