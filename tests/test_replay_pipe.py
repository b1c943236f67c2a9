"""replay hands each page of the log to the indexer on a thread of its own (``_Pipe``): pages are applied in
order, and an indexer error stops the replay instead of being lost on that thread."""
import time

import pytest

from services.kernel.settings import Settings
from services.replay import ReplayFailed, _Pipe, _ProcessPipe


def test_items_are_applied_in_order_and_close_waits_for_the_last():
    seen = []
    pipe = _Pipe(seen.append)
    for i in range(50):
        pipe(i)
    pipe.close()
    assert seen == list(range(50))


def test_an_error_is_raised_to_the_caller_and_nothing_after_it_is_applied():
    seen = []

    def apply(i):
        if i == 3:
            raise RuntimeError("indexer database gone")
        seen.append(i)

    pipe = _Pipe(apply)
    with pytest.raises(RuntimeError, match="indexer database gone"):
        for i in range(100):
            pipe(i)
        pipe.close()
    assert seen == [0, 1, 2]


def test_a_failing_indexer_process_fails_the_replay(tmp_path):
    """The indexer's side in its own process (what ``wharf replay`` uses on more than one core): when it
    cannot even start (its database is unreachable), the replay raises instead of waiting or finishing."""
    settings = Settings.from_env({"WHARF_DATA_DIR": str(tmp_path),
                                  "WHARF_INDEXER_DB_URL": "postgresql://nobody@127.0.0.1:1/none"})
    pipe = _ProcessPipe(settings)
    with pytest.raises(ReplayFailed, match="indexer side of the replay failed"):
        for _ in range(100):
            pipe([])
            time.sleep(0.1)
        pipe.close()
    assert not pipe._proc.is_alive()
