"""replay hands each page of the log to the indexer on a thread of its own (``_Pipe``): pages are applied in
order, and an indexer error stops the replay instead of being lost on that thread."""
import pytest

from services.replay import _Pipe


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
