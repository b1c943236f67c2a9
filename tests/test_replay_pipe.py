"""replay hands each page of the log to the indexer on a thread of its own (``_Pipe``): pages are applied in
order, and an indexer error stops the replay instead of being lost on that thread."""
import time

import pytest

from services.kernel.settings import Settings
from services.replay import ReplayFailed, _Pipe, _ProcessPipe

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)


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


@pytest.mark.parametrize("processes", [1, 2])
def test_replay_on_a_thread_or_in_a_process_rebuilds_the_same_indexes(tmp_path, processes):
    """``wharf replay`` with the indexer's side on a thread (one core) or in its own process: the same
    indexes as those published while the files were uploaded."""
    import hashlib
    import io

    from services.indexer.bootstrap import bootstrap as indexer_bootstrap
    from services.kernel.signing import blob_key_for
    from services.registry.bootstrap import bootstrap as registry_bootstrap
    from services.replay import publish_all, replay
    from services.storage.domain.conda import inspect_conda
    from services.storage.domain.inspection import Digests
    from tests.helpers.packages import make_conda_package

    settings = Settings.from_env({"WHARF_DATA_DIR": str(tmp_path / "data")})
    registry = registry_bootstrap(settings, publisher=None)
    indexer = indexer_bootstrap(settings, log_reader=registry.read_stream)
    for i in range(3):
        name = f"pkg{i}"
        data = make_conda_package(tmp_path / name, name, "1.0", subdir="linux-64", noarch=None).read_bytes()
        digests = Digests(sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(), size=len(data))
        insp = inspect_conda(io.BytesIO(data), f"linux-64/{name}-1.0-0.conda", name, "1.0", digests)
        registry.create_package("alice", name, public=i != 1, public_attrs={}, actor="alice")
        registry.create_release("alice", name, "1.0", attrs={}, actor="alice")
        staged = registry.stage("alice", name, "1.0", f"linux-64/{insp.filename}", distribution_type="conda",
                                sha256=digests.sha256, labels=["main"], actor="alice")
        registry.commit(staged["dist_id"], {"blob_key": blob_key_for(digests.sha256), "sha256": digests.sha256,
                                            "md5": digests.md5, "size": digests.size, "filename": insp.filename,
                                            "subdir": insp.subdir, "record": insp.record,
                                            "metadata": insp.metadata}, actor="alice")
    for wire in registry.read_stream("alice", 0, 100):
        indexer.handle(wire)
    publish_all(indexer)

    def indexes():
        return {aud: {fn: p["sha256"] for fn, p in indexer.get_index("alice", "main", "linux-64", aud)["files"].items()}
                for aud in ("public", "private")}

    before = indexes()
    assert before["public"] != before["private"]          # pkg1 is private
    counts = replay(settings, processes=processes)
    assert counts["indexes"] >= 1 and counts["events"] >= 9
    assert indexes() == before
