"""``wharf replay``: rebuild the registry's read tables from its event log, then rebuild every channel index by
feeding the whole log to a reset indexer. Deterministic: the indexes come out byte-identical."""
from __future__ import annotations

from services.indexer.bootstrap import bootstrap as indexer_bootstrap
from services.kernel.settings import Settings
from services.registry.bootstrap import bootstrap as registry_bootstrap


def replay(settings: Settings, publisher=None) -> dict:
    if publisher is None and settings.mode == "distributed":
        from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
        publisher = AmqpEventPublisher(settings.amqp_uri)
    registry = registry_bootstrap(settings, publisher=None)
    events = registry.rebuild_projections()
    indexer = indexer_bootstrap(settings, publisher=publisher or _Null(), log_reader=registry.read_stream)
    indexer.reset()
    return {"events": events, "indexes": rebuild_indexes(indexer, registry.read_log)}


def rebuild_indexes(indexer, read_log) -> int:
    """Feed the whole log (``read_log(after_position, limit)``, in pages) to ``indexer`` and publish until
    nothing is dirty; returns how many indexes were published. ``wharf replay`` and ``wharf verify`` (into a
    scratch indexer) both rebuild through this."""
    after = 0
    while True:
        batch = read_log(after, 1000)
        if not batch:
            break
        indexer.handle_many(batch)
        after = batch[-1]["position"] if "position" in batch[-1] else after + len(batch)
    published = 0
    while True:
        done = indexer.publish_pending()
        if not done:
            break
        published += len(done)
    return published


class _Null:
    def publish(self, events):
        return None
