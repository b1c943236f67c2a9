"""Publishing: O(change) rebuilds, coalescing, noarch, atomic pointer flips, deterministic replay."""
import pytest

from services.indexer.domain.keys import ChannelKey
from services.kernel.errors import Unavailable

from .support import names_in, read_blob, read_pointer, repodata, shard_index


def snapshot(indexer, owner_labels):
    out = {}
    for owner, label in owner_labels:
        for subdir in indexer.list_subdirs(owner, label):
            for audience in ("public", "private"):
                files = indexer.get_index(owner, label, subdir, audience)["files"]
                out[(owner, label, subdir, audience)] = {fn: p["sha256"] for fn, p in files.items()}
    return out


def test_only_dirty_subdirs_are_rebuilt(indexer, log, blobs):
    for subdir in ("linux-64", "osx-64", "win-64", "noarch"):
        indexer.handle(log.upload("alice", "zlib", "1.3.1", subdir, "h4ab18f5_1"))
    indexer.publish_pending()
    before = snapshot(indexer, [("alice", "main")])
    blobs.puts.clear()
    assert indexer.publish_pending() == [] and blobs.puts == []      # nothing dirty, nothing written

    indexer.handle(log.upload("alice", "zlib", "1.3.2", "osx-64", "h4ab18f5_0"))
    published = indexer.publish_pending()
    assert [(p["subdir"], sorted(p["files"])) for p in published] == [
        ("osx-64", ["public/repodata.json", "public/repodata.json.zst", "public/repodata_shards.msgpack.zst"]),
        ("osx-64", ["private/repodata.json", "private/repodata.json.zst", "private/repodata_shards.msgpack.zst"])]
    # public and private are identical here: one .zst (repodata.json's pointer names it too), one shard index
    # and the zlib shard
    assert len(blobs.puts) == 3
    osx = indexer.get_index("alice", "main", "osx-64", "public")["files"]
    assert set(blobs.puts) - {p["key"] for p in osx.values()} == {
        indexer.get_shard("alice", "main", "osx-64", "public", sha)["key"]
        for sha in shard_index(blobs, osx)["shards"].values()}
    after = snapshot(indexer, [("alice", "main")])
    assert {k for k in after if after[k] != before[k]} == {("alice", "main", "osx-64", "public"),
                                                           ("alice", "main", "osx-64", "private")}


def test_a_burst_is_coalesced_into_one_rebuild(indexer, log, blobs):
    for i in range(25):
        indexer.handle(log.upload("alice", "pkg", f"0.{i}", "linux-64", "0"))
    published = indexer.publish_pending()
    assert sorted((p["subdir"], next(iter(p["files"])).split("/")[0]) for p in published) == [
        ("linux-64", "private"), ("linux-64", "public"), ("noarch", "private"), ("noarch", "public")]
    assert len(names_in(repodata(indexer, blobs, "alice", "main", "linux-64"))) == 25


def test_noarch_is_published_once_per_label_not_on_every_change(indexer, log, blobs):
    indexer.handle(log.upload("alice", "tool", "1.0", "linux-64", "0", labels=["main", "beta"]))
    published = indexer.publish_pending()
    assert {(p["label"], p["subdir"]) for p in published} == {
        ("main", "linux-64"), ("main", "noarch"), ("beta", "linux-64"), ("beta", "noarch")}
    assert repodata(indexer, blobs, "alice", "beta", "noarch") == {
        "info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "removed": [], "repodata_version": 1}
    indexer.handle(log.upload("alice", "tool", "1.1", "linux-64", "0"))
    assert {(p["label"], p["subdir"]) for p in indexer.publish_pending()} == {("main", "linux-64")}


def test_replay_after_reset_gives_byte_identical_indexes(indexer, log, blobs):
    a = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0", description="naïve “quotes” \\ \"")
    log.upload("alice", "numpy", "2.0.1", "osx-arm64", "py312_0", ext=".tar.bz2")
    log.upload("alice", "secret", "1.0", "noarch", "0", public=False, labels=["main", "dev"])
    log.append("label_copied", "alice", {"owner": "alice", "from_label": "main", "to_label": "rc",
                                         "files": [log.ref(a)]})
    log.upload("bob", "tool", "3.0", "linux-aarch64", "0")
    log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)})
    log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0")
    for w in log.all():
        indexer.handle(w)
    indexer.publish_pending()
    owners = [("alice", "main"), ("alice", "dev"), ("alice", "rc"), ("bob", "main")]
    first = snapshot(indexer, owners)
    assert len(first) == 2 * (3 + 1 + 2 + 2)

    indexer.reset()
    assert indexer.get_index("alice", "main", "linux-64", "public") is None
    for w in reversed(log.all()):          # any delivery order gives the same result
        indexer.handle(w)
    indexer.publish_pending()
    assert snapshot(indexer, owners) == first

    indexer.reset()
    for w in log.all():
        indexer.handle(w)
    indexer.publish_all()                  # what `wharf replay` may call instead
    assert snapshot(indexer, owners) == first


def test_reset_empties_every_table(indexer, log):
    """On PostgreSQL one TRUNCATE of every table (each table a foreign key names must be in it); elsewhere
    DELETEs. Nothing is left either way, and the indexer takes the log again from the start."""
    from sqlalchemy import func, select

    from services.indexer.adapters.pypi_tables import PYPI_TABLES
    from services.indexer.adapters.tables import CONDA_TABLES
    log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0", labels=["main", "dev"])
    log.upload("alice", "secret", "1.0", "noarch", "0", public=False)
    log.pypi("alice", "demo", "1.0")
    for w in log.all():
        indexer.handle(w)
    indexer.publish_pending()

    def counts():
        with indexer.uow.begin() as repo:
            return {t.name: repo.conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in CONDA_TABLES + PYPI_TABLES}
    assert counts()["indexer_files"] and counts()["indexer_pypi_files"] and counts()["indexer_published"]
    indexer.reset()
    assert set(counts().values()) == {0}
    for w in log.all():
        indexer.handle(w)
    assert counts()["indexer_files"] == 2


def test_a_crash_before_the_pointer_flip_keeps_the_last_good_index(indexer, log, blobs):
    indexer.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    indexer.publish_pending()
    good = indexer.get_index("alice", "main", "linux-64", "public")
    indexer.handle(log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0"))
    blobs.fail_puts = True
    with pytest.raises(Unavailable):
        indexer.publish_pending()
    assert indexer.get_index("alice", "main", "linux-64", "public") == good
    assert len(names_in(repodata(indexer, blobs, "alice", "main", "linux-64"))) == 1
    blobs.fail_puts = False
    assert {p["subdir"] for p in indexer.publish_pending()} == {"linux-64"}
    assert len(names_in(repodata(indexer, blobs, "alice", "main", "linux-64"))) == 2


def test_a_failed_announcement_is_retried(indexer, log, blobs, publisher):
    indexer.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    publisher.fail = True
    with pytest.raises(Unavailable):
        indexer.publish_pending()
    publisher.fail = False
    blobs.puts.clear()
    published = indexer.publish_pending()
    assert {(p["subdir"]) for p in published} == {"linux-64", "noarch"}
    # linux-64 (built before the broker failed): same bytes, nothing rewritten (only marked as used again, for
    # `wharf gc`: services/kernel/blob_gc.py), only announced; noarch (sorted after it) had not been built yet
    linux = {p["key"] for p in indexer.get_index("alice", "main", "linux-64", "private")["files"].values()}
    noarch = {p["key"] for p in indexer.get_index("alice", "main", "noarch", "private")["files"].values()}
    written = {k for k in blobs.puts if not k.startswith("gc/used/")}
    assert written == noarch and not linux & noarch
    assert {k for k in blobs.puts if k.startswith("gc/used/")} <= {f"gc/used/{k}" for k in linux}
    assert [e.data for e in publisher.events] == published


def test_a_change_during_a_build_is_not_lost_and_a_stale_build_never_wins(indexer, log, blobs):
    key = ChannelKey("alice", "main", "linux-64")
    indexer.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    with indexer.uow.begin() as repo:
        gen = dict(repo.dirty())[key]
    # a second upload lands while the builder works from generation `gen`
    indexer.handle(log.upload("alice", "numpy", "2.0.2", "linux-64", "py312_0"))
    assert indexer._publish_one(key, gen)             # published, but the newer change stays dirty
    with indexer.uow.begin() as repo:
        assert dict(repo.dirty())[key] == gen + 1
    assert {p["subdir"] for p in indexer.publish_pending()} == {"linux-64", "noarch"}
    newest = indexer.get_index("alice", "main", "linux-64", "private")
    assert indexer._publish_one(key, gen) == []       # a slow replica finishing an old build: ignored
    assert indexer.get_index("alice", "main", "linux-64", "private") == newest
    assert len(names_in(repodata(indexer, blobs, "alice", "main", "linux-64"))) == 2


def test_index_blobs_are_content_addressed(indexer, log, blobs):
    indexer.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    indexer.publish_pending()
    files = indexer.get_index("alice", "main", "linux-64", "private")["files"]
    for name, p in files.items():
        if name == "repodata.json":     # stored only compressed: its pointer names the .zst blob
            assert p["encoding"] == "zstd" and p["key"] == files["repodata.json.zst"]["key"]
            assert len(read_pointer(blobs, p)) == p["size"]
            continue
        assert "encoding" not in p
        assert p["key"] == f"indexes/sha256/{p['sha256'][:2]}/{p['sha256']}"
        assert len(read_blob(blobs, p["key"])) == p["size"]
