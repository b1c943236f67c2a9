"""CEP-16 sharded repodata: shards decode back to the repodata.json records (md5/sha256 as raw bytes, CEP-21
run_exports when known), only touched shards are rewritten, replays give the same bytes, private shards never
appear in (or are readable through) the public index. SQLite and PostgreSQL."""
import hashlib
import json

import msgpack
import pytest
import zstandard

from services.indexer.domain.keys import ChannelKey
from services.indexer.domain.records import epoch_millis
from services.indexer.domain.shards import iso_millis

from .support import checked_blob, names_in, read_blob, read_pointer, repodata, shard_index, shards

RUN_EXPORTS = {"weak": ["zlib >=1.3.1,<2.0a0"], "strong": ["libgcc >=13"]}


def feed(indexer, *wires):
    for w in wires:
        indexer.handle(w)


def as_shard_record(rec: dict) -> dict:
    return dict(rec, md5=bytes.fromhex(rec["md5"]), sha256=bytes.fromhex(rec["sha256"]))


def with_run_exports(log, wire: dict, run_exports) -> dict:
    """The same upload with ``metadata.run_exports`` (storage copies info/run_exports.json there)."""
    stream = log.streams[wire["stream_id"]]
    assert stream[-1] is wire
    stream[-1] = dict(wire, data=dict(wire["data"], metadata={"run_exports": run_exports}))
    return stream[-1]


def test_shards_decode_to_the_repodata_records(indexer, log, blobs):
    a = with_run_exports(log, log.upload("alice", "zlib", "1.3.1", "linux-64", "h4ab18f5_1"), RUN_EXPORTS)
    b = log.upload("alice", "zlib", "1.2.13", "linux-64", "h4ab18f5_0", ext=".tar.bz2")
    c = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0", depends=["zlib >=1.3", "python"])
    d = log.upload("alice", "secret", "1.0", "linux-64", "0", public=False)
    bad = with_run_exports(log, log.upload("alice", "odd", "1.0", "linux-64", "0"), ["not", "a", "dict"])
    feed(indexer, a, b, c, d, bad, log.upload("alice", "other", "1.0", "osx-64", "0"))
    indexer.publish_pending()
    for audience in ("public", "private"):
        doc = repodata(indexer, blobs, "alice", "main", "linux-64", audience)
        files = indexer.get_index("alice", "main", "linux-64", audience)["files"]
        index = shard_index(blobs, files)
        newest = max(epoch_millis(w["occurred_at"]) for w in (a, b, c, d, bad))   # not the osx-64 upload
        assert index["version"] == 1
        assert index["info"] == {"subdir": "linux-64", "base_url": "", "shards_base_url": "./shards/",
                                 "created_at": iso_millis(newest)}
        got = shards(indexer, blobs, "alice", "main", "linux-64", audience)
        assert set(got) == {doc[s][fn]["name"] for s in ("packages", "packages.conda") for fn in doc[s]}
        for name, shard in got.items():
            assert set(shard) == {"packages", "packages.conda"}
            for section in ("packages", "packages.conda"):
                expected = {fn: as_shard_record(r) for fn, r in doc[section].items() if r["name"] == name}
                if name == "zlib" and section == "packages.conda":
                    expected = {fn: dict(r, run_exports=RUN_EXPORTS) for fn, r in expected.items()}
                assert shard[section] == expected
        assert set(got["zlib"]["packages"]) == {"zlib-1.2.13-h4ab18f5_0.tar.bz2"}
        assert "run_exports" not in got["zlib"]["packages"]["zlib-1.2.13-h4ab18f5_0.tar.bz2"]   # unknown
        assert "run_exports" not in got["odd"]["packages.conda"]["odd-1.0-0.conda"]         # malformed: unknown
        assert ("secret" in got) == (audience == "private")


def test_shard_bytes_are_sorted_msgpack_named_by_their_hash(indexer, log, blobs):
    feed(indexer, with_run_exports(log, log.upload("alice", "zlib", "1.3.1", "linux-64", "h0_1",
                                                   license_family="Other", about={"z": 1, "a": [2]}), RUN_EXPORTS))
    indexer.publish_pending()
    files = indexer.get_index("alice", "main", "linux-64", "public")["files"]
    sha = shard_index(blobs, files)["shards"]["zlib"]
    pointer = indexer.get_shard("alice", "main", "linux-64", "public", sha)
    assert pointer["key"] == f"indexes/sha256/{sha[:2]}/{sha}"
    data = checked_blob(blobs, pointer)
    assert hashlib.sha256(data).hexdigest() == sha
    raw = zstandard.ZstdDecompressor().decompress(data)
    decoded = msgpack.unpackb(raw, raw=False)

    def resorted(v):
        return {k: resorted(v[k]) for k in sorted(v)} if isinstance(v, dict) else v
    assert msgpack.packb(resorted(decoded), use_bin_type=True) == raw     # every map already in sorted order
    index_raw = zstandard.ZstdDecompressor().decompress(checked_blob(blobs, files["repodata_shards.msgpack.zst"]))
    assert msgpack.packb(resorted(msgpack.unpackb(index_raw, raw=False)), use_bin_type=True) == index_raw


def test_only_touched_shards_are_rewritten(indexer, log, blobs):
    for name in ("alpha", "beta", "gamma"):
        feed(indexer, log.upload("alice", name, "1.0", "linux-64", "0"))
    feed(indexer, log.upload("alice", "tool", "1.0", "noarch", "0"))
    indexer.publish_pending()
    before = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])["shards"]
    blobs.puts.clear()

    feed(indexer, log.upload("alice", "beta", "1.1", "linux-64", "0"))
    published = indexer.publish_pending()
    assert {p["subdir"] for p in published} == {"linux-64"}
    files = indexer.get_index("alice", "main", "linux-64", "public")["files"]
    after = shard_index(blobs, files)["shards"]
    assert {n for n in after if after[n] != before[n]} == {"beta"} and set(after) == set(before)
    new_beta = indexer.get_shard("alice", "main", "linux-64", "public", after["beta"])
    # public == private here: the .zst (repodata.json's pointer names it too), the shard index and the one
    # rebuilt shard
    assert sorted(blobs.puts) == sorted({p["key"] for p in files.values()} | {new_beta["key"]})
    # superseded, but a client may still hold the previous shard index: readable for the grace period
    assert indexer.get_shard("alice", "main", "linux-64", "public", before["beta"])["sha256"] == before["beta"]
    assert indexer.get_shard("alice", "main", "linux-64", "public", before["alpha"]) is not None

    blobs.puts.clear()
    feed(indexer, log.append("package_removed", "alice", {"owner": "alice", "package": "gamma"}))
    indexer.publish_pending()
    files = indexer.get_index("alice", "main", "linux-64", "public")["files"]
    assert shard_index(blobs, files)["shards"] == {k: v for k, v in after.items() if k != "gamma"}
    assert sorted(blobs.puts) == sorted({p["key"] for p in files.values()})     # no shard written
    assert indexer.get_shard("alice", "main", "linux-64", "public", after["gamma"]) is None


def test_many_new_shards_are_packed_and_read_back_by_range(indexer, log, blobs, monkeypatch):
    """A publish making PACK_MIN or more shards stores them in pack objects (few PUTs); each shard is its byte
    range of a pack, with the same sha256 and bytes as unpacked. A later small publish stores its shard on its
    own; the packed shard it replaced stays readable through the grace period."""
    from services.indexer.service_layer import shard_publishing
    monkeypatch.setattr(shard_publishing, "PACK_BYTES", 2000)        # several packs
    names = [f"pkg{i:02d}" for i in range(shard_publishing.PACK_MIN + 4)]
    for name in names:
        feed(indexer, log.upload("alice", name, "1.0", "linux-64", "0", depends=["python >=3.9"] * 3))
    indexer.publish_pending()
    files = indexer.get_index("alice", "main", "linux-64", "public")["files"]
    index = shard_index(blobs, files)["shards"]
    assert set(index) == set(names)
    pointers = {n: indexer.get_shard("alice", "main", "linux-64", "public", sha) for n, sha in index.items()}
    packs = {p["key"] for p in pointers.values()}
    assert all(p.get("offset") is not None for p in pointers.values())
    assert 1 < len(packs) < len(names) / 2
    index_files = {p["key"] for subdir in ("linux-64", "noarch") for audience in ("public", "private")
                   for p in indexer.get_index("alice", "main", subdir, audience)["files"].values()}
    shard_puts = [k for k in blobs.puts if k not in index_files]
    assert sorted(shard_puts) == sorted(packs)          # the packs of the linux-64 publish, each stored once
    for name, pointer in pointers.items():
        data = checked_blob(blobs, pointer)              # sha256 and size of the range
        assert msgpack.unpackb(zstandard.ZstdDecompressor().decompress(data))["packages.conda"]
    got = shards(indexer, blobs, "alice", "main", "linux-64")
    assert set(got) == set(names) and got == shards(indexer, blobs, "alice", "main", "linux-64", "private")

    feed(indexer, log.upload("alice", names[3], "1.1", "linux-64", "0"))
    indexer.publish_pending()
    after = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])["shards"]
    fresh = indexer.get_shard("alice", "main", "linux-64", "public", after[names[3]])
    assert "offset" not in fresh and fresh["key"].endswith(after[names[3]])
    old = indexer.get_shard("alice", "main", "linux-64", "public", index[names[3]])     # retired, in grace
    assert old == pointers[names[3]] and hashlib.sha256(checked_blob(blobs, old)).hexdigest() == index[names[3]]
    assert indexer.get_shard("alice", "main", "linux-64", "public", index[names[0]]) == pointers[names[0]]


@pytest.mark.parametrize("whole", [False, True])
def test_replaced_shards_stay_readable_for_the_grace_period_only(indexer, log, blobs, monkeypatch, whole, clock):
    """A client that fetched the shard index just before a publish asks for the shard it names: it gets it for
    ``shard_grace`` seconds (not a 404 that fails its solve); after that, or with no grace, it is gone. (Both
    ways of finding the replaced shards: by name, and by reading the channel's shards whole.)"""
    if whole:
        from services.indexer.adapters import shard_repository
        monkeypatch.setattr(shard_repository, "RETIRE_BY_NAME", 0)
    feed(indexer, log.upload("alice", "beta", "1.0", "linux-64", "0"))
    indexer.publish_pending()
    first = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])["shards"]["beta"]
    feed(indexer, log.upload("alice", "beta", "1.1", "linux-64", "0"))
    indexer.publish_pending()
    second = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])["shards"]["beta"]
    assert first != second
    for audience in ("public", "private"):
        old = indexer.get_shard("alice", "main", "linux-64", audience, first)
        assert old["sha256"] == first and hashlib.sha256(checked_blob(blobs, old)).hexdigest() == first
    assert indexer.get_shard("alice", "main", "linux-64", "public", second) is not None
    assert indexer.get_shard("alice", "main", "dev", "public", first) is None          # only where it was listed

    indexer.shard_grace_ms = 0         # no grace: only what the current index lists
    assert indexer.get_shard("alice", "main", "linux-64", "public", first) is None
    indexer.shard_grace_ms = 50
    clock.advance(0.045)               # retired 45 ms ago: still in the grace period
    assert indexer.get_shard("alice", "main", "linux-64", "public", first) is not None
    clock.advance(0.010)               # retired 55 ms ago: expired (the indexer's clock, no sleep)
    assert indexer.get_shard("alice", "main", "linux-64", "public", first) is None
    assert indexer.get_shard("alice", "main", "linux-64", "public", second) is not None


def test_a_package_made_private_takes_its_retired_public_shards_with_it(indexer, log, blobs):
    feed(indexer, log.upload("alice", "beta", "1.0", "linux-64", "0"))
    indexer.publish_pending()
    first = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])["shards"]["beta"]
    feed(indexer, log.upload("alice", "beta", "1.1", "linux-64", "0"))
    indexer.publish_pending()
    public = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])["shards"]
    assert indexer.get_shard("alice", "main", "linux-64", "public", first) is not None     # retired, in grace
    feed(indexer, log.append("package_updated", "alice", {"owner": "alice", "package": "beta",
                                                          "changes": {"public": False}}))
    indexer.publish_pending()
    assert "beta" not in shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"]
                                     ).get("shards", {})
    for sha in (first, public["beta"]):
        assert indexer.get_shard("alice", "main", "linux-64", "public", sha) is None
    assert indexer.get_shard("alice", "main", "linux-64", "private", public["beta"]) is not None


def test_private_shards_stay_out_of_the_public_index(indexer, log, blobs):
    feed(indexer, log.upload("alice", "requests", "2.32.3", "noarch", "pyh_0"),
         log.upload("alice", "secret-sauce", "1.0", "noarch", "py_0", public=False))
    indexer.publish_pending()
    pub = shard_index(blobs, indexer.get_index("alice", "main", "noarch", "public")["files"])["shards"]
    priv = shard_index(blobs, indexer.get_index("alice", "main", "noarch", "private")["files"])["shards"]
    assert set(pub) == {"requests"} and set(priv) == {"requests", "secret-sauce"}
    assert pub["requests"] == priv["requests"]
    secret = priv["secret-sauce"]
    assert indexer.get_shard("alice", "main", "noarch", "public", secret) is None
    assert indexer.get_shard("alice", "main", "noarch", "private", secret) is not None
    assert indexer.get_shard("alice", "main", "linux-64", "private", secret) is None     # other channel
    assert indexer.get_shard("alice", "dev", "noarch", "private", secret) is None
    assert indexer.get_shard("alice", "main", "noarch", "private", secret.upper()) is None
    assert indexer.get_shard("alice", "main", "noarch", "private", "../" + secret[3:]) is None

    feed(indexer, log.append("package_updated", "alice", {"owner": "alice", "package": "secret-sauce",
                                                          "changes": {"public": True}}))
    indexer.publish_pending()
    pub = shard_index(blobs, indexer.get_index("alice", "main", "noarch", "public")["files"])["shards"]
    assert pub == priv
    assert indexer.get_shard("alice", "main", "noarch", "public", secret) is not None


def test_labels_and_transfers_rebuild_the_right_shards(indexer, log, blobs):
    a = log.upload("alice", "tool", "1.0", "linux-64", "0", labels=["dev"])
    feed(indexer, a, log.upload("alice", "lib", "1.0", "linux-64", "0"))
    indexer.publish_pending()
    assert set(shards(indexer, blobs, "alice", "main", "linux-64")) == {"lib"}
    feed(indexer, log.append("label_copied", "alice", {"owner": "alice", "from_label": "dev", "to_label": "main",
                                                       "files": [log.ref(a)]}))
    indexer.publish_pending()
    assert set(shards(indexer, blobs, "alice", "main", "linux-64")) == {"lib", "tool"}
    feed(indexer, log.append("package_transferred", "alice", {"owner": "alice", "package": "tool",
                                                              "to_owner": "acme"}))
    indexer.publish_pending()
    assert set(shards(indexer, blobs, "alice", "main", "linux-64")) == {"lib"}
    assert set(shards(indexer, blobs, "alice", "dev", "linux-64")) == set()
    moved = shards(indexer, blobs, "acme", "main", "linux-64")
    assert set(moved) == {"tool"} and set(moved["tool"]["packages.conda"]) == {"tool-1.0-0.conda"}
    assert names_in(repodata(indexer, blobs, "acme", "main", "linux-64")) == {"tool-1.0-0.conda"}


def test_a_name_touched_during_a_build_is_rebuilt_next_round(indexer, log, blobs):
    key = ChannelKey("alice", "main", "linux-64")
    feed(indexer, log.upload("alice", "alpha", "1.0", "linux-64", "0"))
    with indexer.uow.begin() as repo:
        gen = dict(repo.dirty())[key]
    feed(indexer, log.upload("alice", "beta", "1.0", "linux-64", "0"))   # lands while gen is being built
    assert indexer._publish_one(key, gen)
    with indexer.uow.begin() as repo:
        assert repo.dirty_names(key) == ["beta"]          # marked at gen + 1: still dirty
    feed(indexer, log.upload("alice", "beta", "1.1", "linux-64", "0"))
    indexer.publish_pending()
    with indexer.uow.begin() as repo:
        assert repo.dirty_names(key) == []
    got = shards(indexer, blobs, "alice", "main", "linux-64")
    assert set(got["beta"]["packages.conda"]) == {"beta-1.0-0.conda", "beta-1.1-0.conda"}
    assert set(got) == {"alpha", "beta"}


def test_replay_gives_byte_identical_shards(indexer, log, blobs):
    log.upload("alice", "zlib", "1.3.1", "linux-64", "h0_1")
    with_run_exports(log, log.upload("alice", "zlib", "1.3.2", "linux-64", "h0_0"), RUN_EXPORTS)
    log.upload("alice", "secret", "1.0", "linux-64", "0", public=False, labels=["main", "dev"])
    log.upload("bob", "tool", "1.0", "noarch", "0")
    log.append("package_transferred", "bob", {"owner": "bob", "package": "tool", "to_owner": "alice"})
    log.upload("alice", "numpy", "2.0", "linux-64", "py312_0", ext=".tar.bz2")

    def everything():
        out = {}
        for owner, label in (("alice", "main"), ("alice", "dev"), ("bob", "main")):
            for subdir in indexer.list_subdirs(owner, label):
                for audience in ("public", "private"):
                    files = indexer.get_index(owner, label, subdir, audience)["files"]
                    index = read_blob(blobs, files["repodata_shards.msgpack.zst"]["key"])
                    out[(owner, label, subdir, audience)] = (index, {
                        name: read_pointer(blobs, indexer.get_shard(owner, label, subdir, audience, sha))
                        for name, sha in shard_index(blobs, files)["shards"].items()})
        return out

    for w in log.all():
        indexer.handle(w)
    indexer.publish_pending()
    first = everything()
    assert len(first) == 2 * 5 and first[("alice", "main", "noarch", "private")][1].keys() == {"tool"}
    assert first[("bob", "main", "noarch", "public")][1] == {}      # transferred away: an empty index
    indexer.reset()
    for w in reversed(log.all()):
        indexer.handle(w)
    indexer.publish_pending()
    assert everything() == first
    indexer.reset()
    for w in log.all():
        indexer.handle(w)
    indexer.publish_all()
    assert everything() == first


def test_private_activity_never_moves_the_public_shard_index(indexer, log, blobs):
    """created_at is the newest event each audience can see, so the public index (bytes, ETag) stays put while
    private packages of the channel come and go."""
    pub = log.upload("alice", "open", "1.0", "linux-64", "0")
    feed(indexer, pub)
    indexer.publish_pending()
    before = indexer.get_index("alice", "main", "linux-64", "public")["files"]
    secret = log.upload("alice", "secret", "1.0", "linux-64", "0", public=False)
    feed(indexer, secret, log.upload("alice", "secret", "1.1", "linux-64", "0", public=False))
    indexer.publish_pending()
    feed(indexer, log.append("file_removed", "alice", {"owner": "alice", **log.ref(secret)}))
    indexer.publish_pending()
    assert indexer.get_index("alice", "main", "linux-64", "public")["files"] == before
    assert shard_index(blobs, before)["info"]["created_at"] == iso_millis(epoch_millis(pub["occurred_at"]))
    private = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "private")["files"])
    assert private["info"]["created_at"] == iso_millis(epoch_millis(log.streams["alice"][-1]["occurred_at"]))

    # making the package public is a public change (and so is making it private again)
    made_public = log.append("package_updated", "alice", {"owner": "alice", "package": "secret",
                                                          "changes": {"public": True}})
    feed(indexer, made_public)
    indexer.publish_pending()
    index = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])
    assert set(index["shards"]) == {"open", "secret"}
    assert index["info"]["created_at"] == iso_millis(epoch_millis(made_public["occurred_at"]))
    hidden = log.append("package_updated", "alice", {"owner": "alice", "package": "secret",
                                                     "changes": {"public": False}})
    feed(indexer, hidden)
    indexer.publish_pending()
    index = shard_index(blobs, indexer.get_index("alice", "main", "linux-64", "public")["files"])
    assert set(index["shards"]) == {"open"}
    assert index["info"]["created_at"] == iso_millis(epoch_millis(hidden["occurred_at"]))


def test_shard_bytes_equal_those_of_sorting_every_map():
    """build_shard packs the records as decoded from their canonical JSON (sorted already): the same bytes as
    walking every map of the shard to sort it, with nested maps, lists of maps, run_exports and digests."""
    import random

    from services.indexer.domain.records import canonical_json
    from services.indexer.domain.shards import build_shard, pack

    rnd = random.Random(7)

    def value(depth):
        kind = rnd.randrange(5 if depth < 3 else 3)
        if kind == 0:
            return rnd.choice(["x", "é", "", "a b"])
        if kind == 1:
            return rnd.randrange(-5, 10 ** 12)
        if kind == 2:
            return rnd.choice([None, True, 1.5])
        if kind == 3:
            return [value(depth + 1) for _ in range(rnd.randrange(4))]
        return {rnd.choice("zyxabc") + str(i): value(depth + 1) for i in range(rnd.randrange(5))}

    for _ in range(200):
        entries = []
        for i in range(rnd.randrange(1, 6)):
            rec = {"name": "n", "version": str(i), "zeta": value(0), "about": value(1), "depends": ["a", "b"],
                   "md5": "0" * 32, "sha256": rnd.choice(["ab" * 32, "not-hex" + "0" * 57, None])}
            rx = rnd.choice([None, {"weak": ["x"], "strong": []}])
            ext = rnd.choice([".conda", ".tar.bz2"])
            entries.append((f"n-{rnd.randrange(4)}-0{ext}", canonical_json(rec),
                            None if rx is None else canonical_json(rx)))
        expected = {"packages": {}, "packages.conda": {}}
        for fn, rj, rx in entries:
            rec = json.loads(rj)
            for field in ("md5", "sha256"):
                if isinstance(rec.get(field), str) and len(rec[field]) in (32, 64):
                    try:
                        rec[field] = bytes.fromhex(rec[field])
                    except ValueError:
                        pass
            if rx is not None:
                rec["run_exports"] = json.loads(rx)
            expected["packages.conda" if fn.endswith(".conda") else "packages"][fn] = rec
        assert build_shard(entries) == pack(expected)


def test_the_few_shards_of_a_publish_are_stored_at_once(tmp_path):
    """Below PACK_MIN each new shard is an object of its own; they are stored side by side, not one round trip
    after the other (the puts below meet at a barrier, which sequential puts never pass)."""
    import threading

    from services.indexer.service_layer.shard_publishing import store_each
    from services.kernel.adapters.local_blobs import LocalBlobStore

    class Meeting(LocalBlobStore):
        barrier = threading.Barrier(3, timeout=10)

        def put(self, *args, **kwargs):
            self.barrier.wait()
            return super().put(*args, **kwargs)

    blobs = Meeting(str(tmp_path / "b"))
    shards = {hashlib.sha256(b).hexdigest(): b for b in (b"one", b"two", b"three")}
    stored = store_each(blobs, shards)
    assert {sha: (p["sha256"], p["size"], p["pack_offset"]) for sha, p in stored.items()} == \
        {sha: (sha, len(b), None) for sha, b in shards.items()}
    for sha, pointer in stored.items():
        assert read_blob(blobs, pointer["key"]) == shards[sha]
