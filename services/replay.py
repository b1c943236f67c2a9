"""``wharf replay``: rebuild the registry's read tables from its event log and, from the same read of the log,
every channel index of a reset indexer. Deterministic: the indexes come out byte-identical. The published
indexes stay the last good ones until the final publish; a replay that fails part-way is simply run again."""
from __future__ import annotations

from services.indexer.bootstrap import bootstrap as indexer_bootstrap
from services.kernel.settings import Settings
from services.registry.bootstrap import bootstrap as registry_bootstrap


def replay(settings: Settings, publisher=None) -> dict:
    if publisher is None and settings.mode == "distributed":
        from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
        publisher = AmqpEventPublisher(settings.amqp_uri)
    registry = registry_bootstrap(settings, publisher=None)
    indexer = indexer_bootstrap(settings, publisher=publisher or _Null(), log_reader=registry.read_stream)
    indexer.reset()
    # one read of the log, each event validated once: every page the registry's rebuild applies goes on to the
    # indexer (its own database, its own transaction per page)
    events = registry.rebuild_projections(each_page=indexer.handle_many)
    return {"events": events, "indexes": publish_all(indexer)}


def rebuild_indexes(indexer, read_log) -> int:
    """Feed the whole log (``read_log(after_position, limit)``, in pages) to ``indexer`` and publish until
    nothing is dirty; returns how many indexes were published. ``wharf verify`` rebuilds into a scratch indexer
    through this."""
    after = 0
    while True:
        batch = read_log(after, 1000)
        if not batch:
            break
        indexer.handle_many(batch)
        after = batch[-1]["position"] if "position" in batch[-1] else after + len(batch)
    return publish_all(indexer)


def publish_all(indexer) -> int:
    """Publish until nothing is dirty; returns how many indexes were published."""
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
