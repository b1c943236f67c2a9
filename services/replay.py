"""``wharf replay``: rebuild the registry's read tables from its event log and, from the same read of the log,
every channel index of a reset indexer. Deterministic: the indexes come out byte-identical. The published
indexes stay the last good ones until the final publish; a replay that fails part-way is simply run again."""
from __future__ import annotations

import queue
import threading

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
    # one read of the log, each event loaded once: every page the registry's rebuild applies goes on to the
    # indexer (its own database, its own transaction per page), which applies it while the registry goes on
    # with the next pages (most of either side's time is spent waiting for its database)
    feed = _Pipe(indexer.handle_many)
    try:
        events = registry.rebuild_projections(each_page=feed)
    finally:
        feed.close()
    return {"events": events, "indexes": publish_all(indexer)}


class _Pipe:
    """Calls ``fn(item)`` for each item given, in order, on a thread of its own, at most ``depth`` items behind.
    ``close`` waits for the last one; an error of ``fn`` is raised by the next call or by ``close``, and no
    item is applied after it."""

    def __init__(self, fn, depth: int = 2):
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="wharf-replay-indexer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._fn(item)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __call__(self, item) -> None:
        self._raise()
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        self._raise()


_DONE = object()


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
