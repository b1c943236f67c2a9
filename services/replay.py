"""``wharf replay``: rebuild the registry's read tables from its event log and, from the same read of the log,
every channel index of a reset indexer. Deterministic: the indexes come out byte-identical. The index blobs
stay in the bucket, but the reset drops the indexer's pointers to them at the start, so a channel is not
served from the reset until the final publish flips it (the runbook stops the indexers meanwhile); a replay
that fails part-way is simply run again.

The registry reads the log once, in pages, and each page it has applied goes on to the indexer, which applies
it (its own database, its own transaction per page) while the registry goes on with the next pages. On a
machine with more than one core the indexer runs in a process of its own (``_ProcessPipe``: each page travels
as the one text the log gave for it, read again into the same events there), so the two rebuilds use two cores
instead of sharing one interpreter; on one core, on a thread.
Once the registry's rebuild has committed, the indexer publishes every index it rebuilt. Callers of ``replay``
run it from a script whose main module is guarded by ``if __name__ == "__main__"`` (the ``wharf`` command is):
the spawned process imports that module again."""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import multiprocessing
import os
import queue
import threading
import traceback

from services.indexer.bootstrap import bootstrap as indexer_bootstrap
from services.kernel.events import Event
from services.kernel.settings import Settings
from services.registry.adapters.unit_of_work import replay_events
from services.registry.bootstrap import bootstrap as registry_bootstrap


def replay(settings: Settings, processes: int | None = None) -> dict:
    """``processes``: 2 runs the indexer's side in a process of its own, 1 on a thread (default: 2 when the
    machine has more than one core)."""
    with _rare_collections():
        return _replay(settings, processes)


def _replay(settings: Settings, processes: int | None) -> dict:
    registry = registry_bootstrap(settings, publisher=None)
    indexer_bootstrap(settings, publisher=_Null()).reset()
    two = (processes or (2 if (os.cpu_count() or 1) > 1 else 1)) > 1
    if two:
        feed = _ProcessPipe(settings)
        each_page = feed.send
    else:
        feed = _Pipe(_IndexerSide(settings))
        each_page = lambda events, _text: feed(events)  # noqa: E731
    try:
        events = registry.rebuild_projections(each_page=each_page)
    except BaseException:
        feed.abandon()
        raise
    return {"events": events, "indexes": feed.close()}


GC_THRESHOLDS = (200_000, 50, 1000)


@contextlib.contextmanager
def _rare_collections():
    """A replay allocates millions of objects (events, rows, JSON documents) that are freed by reference
    counting at the end of their page; with the default thresholds (a collection every 700 net allocations)
    the cyclic collector walks the growing heap again and again: a quarter of replay's CPU, measured on both
    sides. It is made to collect rarely, not disabled, for the duration of the replay."""
    old = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*old)


class _IndexerSide:
    """The indexer's part of a replay: apply pages of events, then publish every index."""

    def __init__(self, settings: Settings):
        publisher = None
        if settings.mode == "distributed":
            from services.kernel.adapters.amqp_publisher import AmqpEventPublisher
            publisher = AmqpEventPublisher(settings.amqp_uri)
        registry = registry_bootstrap(settings, publisher=None)      # reads the log where a stream has a gap
        # no rows cache: this process ends after its one publish of each index
        self.indexer = indexer_bootstrap(dataclasses.replace(settings, index_cache_rows=0),
                                         publisher=publisher or _Null(), log_reader=registry.read_stream)

    def __call__(self, page) -> None:
        self.indexer.handle_many(page)

    def finish(self) -> int:
        return publish_all(self.indexer)


def _child(settings: Settings, pages, results) -> None:
    """The indexer's process: pages until None, then publish; the outcome goes back through ``results``."""
    gc.set_threshold(*GC_THRESHOLDS)        # see _rare_collections; this process ends with the replay
    try:
        side = _IndexerSide(settings)
        while (page := pages.get()) is not None:
            side(replay_events(page))
        results.put(("ok", side.finish()))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        results.put(("error", traceback.format_exc()))


class ReplayFailed(RuntimeError):
    pass


class _ProcessPipe:
    """Hands pages to ``_child`` in a spawned process, at most ``depth`` pages ahead of it. A failure of the
    child is raised by the next call or by ``close`` (which returns how many indexes it published)."""

    def __init__(self, settings: Settings, depth: int = 4):
        ctx = multiprocessing.get_context("spawn")       # no copy of this process's connections and threads
        self._pages = ctx.Queue(maxsize=depth)
        self._results = ctx.Queue()
        self._proc = ctx.Process(target=_child, args=(settings, self._pages, self._results),
                                 name="wharf-replay-indexer", daemon=True)
        self._proc.start()
        self._outcome: tuple | None = None

    def _check(self, block: bool = False) -> None:
        if self._outcome is None:
            try:
                self._outcome = self._results.get(block=block, timeout=1 if block else None)
            except queue.Empty:
                if not self._proc.is_alive():
                    self._outcome = ("error", f"the indexer's process exited with {self._proc.exitcode}")
        if self._outcome is not None and self._outcome[0] == "error":
            self.abandon()
            raise ReplayFailed("indexer side of the replay failed:\n" + str(self._outcome[1]))

    def send(self, _events: list[Event], page_text: str) -> None:
        """A page of the registry's rebuild (``each_page``), as the log's text of it: one string to pickle,
        which ``_child`` reads into the same events (``replay_events``)."""
        self(page_text)

    def __call__(self, page) -> None:
        while True:
            self._check()
            try:
                self._pages.put(page, timeout=1)
                return
            except queue.Full:
                continue

    def close(self) -> int:
        self.__call__(None)
        while self._outcome is None:
            self._check(block=True)       # raises the child's failure
        self._proc.join(30)
        return int(self._outcome[1])

    def abandon(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(30)


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

    def close(self):
        """Wait for the last item; then ``fn.finish()`` if ``fn`` has one (its result is returned)."""
        self._queue.put(_DONE)
        self._thread.join()
        self._raise()
        finish = getattr(self._fn, "finish", None)
        return finish() if finish is not None else None

    def abandon(self) -> None:
        self._error = self._error or RuntimeError("abandoned")
        self._queue.put(_DONE)


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
