"""Speed paths must not change results: ``handle_many`` (replay's bulk path) gives the same indexes as ``handle``
one event at a time, and a publish from the in-memory rows of the previous publish gives the same bytes as a
publish that reads every row again (also after a restart, from the rows ``warm`` read)."""
from __future__ import annotations

from services.indexer.adapters.repository import SqlIndexRepository
from services.indexer.adapters.uow import SqlUnitOfWork
from services.indexer.service_layer.service import IndexerService
from services.kernel.adapters.db import make_engine
from services.kernel.adapters.local_blobs import LocalBlobStore

from .support import RegistryLog, conda_record


def _history(log: RegistryLog) -> list[dict]:
    """Uploads (runs the bulk path takes), with a replacement, a removal, labels, a visibility change and PyPI
    files in between (events the bulk path must leave to their handlers)."""
    out = []
    for i in range(12):
        out.append(log.append("release_created", "alice", {"owner": "alice", "package": f"p{i % 4}",
                                                           "version": f"1.{i}", "attrs": {}}))
        out.append(log.upload("alice", f"p{i % 4}", f"1.{i}", labels=("main", "dev") if i % 3 else ("main",)))
    out.append(log.pypi("alice", "webthing", "1.0"))
    again = log.upload("alice", "p1", "1.1", record=conda_record("p1", "1.1", "py312_0", build_number=7))
    out.append(again)   # --force replacement of an existing file
    out.append(log.append("file_removed", "alice", {"owner": "alice", "package": "p2", "version": "1.2",
                                                    "basename": out[5]["data"]["basename"]}))
    out.append(log.append("files_labeled", "alice", {"owner": "alice", "label": "beta",
                                                     "files": [log.ref(out[1]), log.ref(out[3])]}))
    out.append(log.append("package_updated", "alice", {"owner": "alice", "package": "p3",
                                                       "changes": {"public": False}}))
    for i in range(12, 20):
        out.append(log.upload("alice", f"q{i % 3}", f"2.{i}", public=i % 2 == 0))
    out.append(log.upload("bob", "b", "0.1"))
    return out


def _service(tmp_path, name: str, db_url: str | None = None) -> IndexerService:
    uow = SqlUnitOfWork(make_engine(db_url or f"sqlite:///{tmp_path / (name + '.db')}"))
    uow.create_tables()
    return IndexerService(uow, LocalBlobStore(str(tmp_path / f"blobs-{name}")))


def _indexes(svc: IndexerService) -> dict:
    out = {}
    for owner in ("alice", "bob"):
        for label in ("main", "dev", "beta"):
            for subdir in svc.list_subdirs(owner, label):
                for audience in ("public", "private"):
                    got = svc.get_index(owner, label, subdir, audience)
                    out[(owner, label, subdir, audience)] = got and {k: v["sha256"] for k, v in got["files"].items()}
        out[(owner, "pypi")] = svc.get_pypi_page(owner, "main", None, "private")
    return out


def test_handle_many_equals_handle_one_by_one(tmp_path, db_url):
    log = RegistryLog()
    wires = _history(log)
    one = _service(tmp_path, "one")
    for w in wires:
        one.handle(w)
    one.publish_pending()
    many = _service(tmp_path, "many", db_url)
    for start in range(0, len(wires), 7):     # pages that split runs
        many.handle_many(wires[start:start + 7])
    many.handle_many(wires[:10])              # duplicates are skipped
    many.publish_pending()
    assert _indexes(many) == _indexes(one)
    assert any(v for v in _indexes(one).values())


def test_publish_from_cached_rows_equals_full_read(tmp_path, db_url):
    log = RegistryLog()
    wires = _history(log)
    warm = _service(tmp_path, "warm", db_url)
    for w in wires[:20]:                      # publish early and often: later publishes use cached rows
        warm.handle(w)
    warm.publish_pending()
    assert len(warm._rows._by_key) > 0
    for w in wires[20:]:
        warm.handle(w)
        warm.publish_pending()
    cold = _service(tmp_path, "cold")
    for w in wires:
        cold.handle(w)
    cold.publish_pending()
    assert _indexes(warm) == _indexes(cold)
    # a channel published by someone else (another replica, a replay) is read in full again
    other = IndexerService(warm.uow, warm.blobs)
    other.handle(log.upload("alice", "p0", "9.9"))
    other.publish_pending()
    warm.handle(log.upload("alice", "p1", "9.9"))
    warm.publish_pending()
    cold.handle(log.streams["alice"][-2])
    cold.handle(log.streams["alice"][-1])
    cold.publish_pending()
    assert _indexes(warm) == _indexes(cold)


def test_a_restarted_indexer_warms_its_rows_cache_and_publishes_the_same_bytes(tmp_path, db_url, monkeypatch):
    log = RegistryLog()
    wires = _history(log)
    first = _service(tmp_path, "first", db_url)
    for w in wires:
        first.handle(w)
    first.publish_pending()
    with first.uow.begin() as repo:
        channels = repo.published_channels()
    assert len(channels) >= 2

    restarted = IndexerService(first.uow, first.blobs)      # a new process: its cache starts empty
    assert restarted.warm() == len(channels)
    assert set(restarted._rows._by_key) == set(channels)
    full_reads = []
    original = SqlIndexRepository.channel_rows

    def spy(self, key, names=None):
        if names is None:
            full_reads.append(key)
        return original(self, key, names)

    monkeypatch.setattr(SqlIndexRepository, "channel_rows", spy)
    later = [log.upload("alice", "p0", "9.9"), log.upload("alice", "p3", "9.9", labels=("main", "dev")),
             log.upload("alice", "p9", "1.0", public=False)]
    for w in later:
        restarted.handle(w)
    restarted.publish_pending()
    assert full_reads == []          # the warmed rows served every publish

    cold = _service(tmp_path, "cold")
    for w in wires + later:
        cold.handle(w)
    cold.publish_pending()
    assert _indexes(restarted) == _indexes(cold)

    tiny = IndexerService(first.uow, first.blobs)
    tiny._rows.max_rows = 1          # no channel fits: nothing is read into it
    assert tiny.warm() == 0 and not tiny._rows._by_key
