"""The nameko entrypoint of the indexer's catch-up (``IndexerService.catch_up``): a round as the service starts,
then ``WHARF_CATCH_UP_INTERVAL`` seconds after each round ends."""
from __future__ import annotations

import eventlet
from eventlet import Timeout
from nameko.messaging import QueueConsumer
from nameko.timer import Timer

from services.kernel.errors import Unavailable
from services.kernel.settings import Settings

RETRY = 2.0   # seconds before a round that failed is tried again, doubling while it fails (up to the interval)
CALL_TIMEOUT = 60.0   # seconds a round waits for one answer of the registry


def timed(call, seconds: float = CALL_TIMEOUT):
    """``call`` (an RPC proxy's method) bounded in time: ``Unavailable`` after ``seconds``. nameko's RPC waits
    for its reply forever, and a reply can be lost (the broker restarted meanwhile): a catch-up round must end,
    so that the next one comes."""
    def bounded(*args, **kwargs):
        try:
            with eventlet.Timeout(seconds):
                return call(*args, **kwargs)
        except eventlet.Timeout:
            raise Unavailable(f"no answer in {seconds:g} s") from None
    return bounded


class CatchUpTimer(Timer):
    """nameko's ``Timer``, eager (the first round when the service starts), with its interval read from the
    settings when the service is set up rather than when the module is imported, and the next round
    ``interval`` seconds after the previous one ended; a failed round is tried again after RETRY seconds,
    doubling while it keeps failing, rather than a whole interval later: at start the registry may not answer
    yet. The first round waits until the service consumes its queues: an RPC sent before its reply queue
    exists never gets its answer (seen: the eager round hung, and with it every later one)."""

    queue_consumer = QueueConsumer()     # shared with the RPC proxies' reply listener

    def __init__(self, **kwargs):
        super().__init__(interval=None, eager=True, **kwargs)
        self.failures = 0

    def setup(self):
        self.interval = Settings.from_env(mode="distributed").catch_up_interval

    def handle_result(self, worker_ctx, result, exc_info):
        self.failures = self.failures + 1 if exc_info is not None else 0
        return super().handle_result(worker_ctx, result, exc_info)

    def next_delay(self) -> float:
        if not self.failures:
            return self.interval
        return min(self.interval, RETRY * 2 ** min(self.failures - 1, 20))

    def _run(self):
        self.queue_consumer.start()      # returns once the consumers (the RPC reply queue's too) are ready
        delay = 0.0
        while True:
            with Timeout(delay, exception=False):
                self.should_stop.wait()
                break
            self.handle_timer_tick()
            self.worker_complete.wait()
            self.worker_complete.reset()
            delay = self.next_delay()


catch_up_timer = CatchUpTimer.decorator
