"""Applying registry events: what each one does to the published repodata (SQLite and PostgreSQL)."""
from .support import names_in, repodata


def feed(indexer, *wires):
    for w in wires:
        indexer.handle(w)


def test_uploads_to_two_labels_and_subdirs(indexer, log, blobs):
    a = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312h1a2b3c4_0",
                   depends=["libblas >=3.9", "python"])
    b = log.upload("alice", "numpy", "2.0.1", "osx-arm64", "py312h5d6e7f8_0", ext=".tar.bz2")
    c = log.upload("alice", "attrs", "24.2.0", "noarch", "pyh71513ae_0", labels=["dev"])
    d = log.upload("alice", "numpy", "2.1.0rc1", "linux-64", "py312h9a9a9a9_0", labels=["dev", "main"])
    feed(indexer, a, b, c, d)
    published = indexer.publish_pending()
    keys = {(p["owner"], p["label"], p["subdir"]) for p in published}
    assert keys == {("alice", "main", "linux-64"), ("alice", "main", "osx-arm64"), ("alice", "main", "noarch"),
                    ("alice", "dev", "noarch"), ("alice", "dev", "linux-64")}
    assert len(published) == 2 * len(keys)      # one per audience

    main64 = repodata(indexer, blobs, "alice", "main", "linux-64")
    assert main64["info"] == {"subdir": "linux-64"} and main64["repodata_version"] == 1
    assert main64["removed"] == [] and main64["packages"] == {}
    assert set(main64["packages.conda"]) == {"numpy-2.0.1-py312h1a2b3c4_0.conda",
                                             "numpy-2.1.0rc1-py312h9a9a9a9_0.conda"}
    rec = main64["packages.conda"]["numpy-2.0.1-py312h1a2b3c4_0.conda"]
    expected = dict(a["data"]["record"])
    assert {k: rec[k] for k in expected} == expected
    assert rec["depends"] == ["libblas >=3.9", "python"]
    assert rec["indexed_timestamp"] == 1777636801001   # 2026-05-01T12:00:01.001Z in ms

    arm = repodata(indexer, blobs, "alice", "main", "osx-arm64")
    assert set(arm["packages"]) == {"numpy-2.0.1-py312h5d6e7f8_0.tar.bz2"} and arm["packages.conda"] == {}
    assert names_in(repodata(indexer, blobs, "alice", "main", "noarch")) == set()     # always present
    assert names_in(repodata(indexer, blobs, "alice", "dev", "noarch")) == {"attrs-24.2.0-pyh71513ae_0.conda"}
    assert names_in(repodata(indexer, blobs, "alice", "dev", "linux-64")) == {"numpy-2.1.0rc1-py312h9a9a9a9_0.conda"}
    assert indexer.list_subdirs("alice", "main") == ["linux-64", "noarch", "osx-arm64"]
    assert indexer.list_subdirs("Alice", "dev") == ["linux-64", "noarch"]
    assert indexer.get_index("alice", "main", "win-64", "public") is None
    assert indexer.get_index("bob", "main", "noarch", "public") is None
    hit = indexer.lookup_file("alice", "dev", "linux-64", "numpy-2.1.0rc1-py312h9a9a9a9_0.conda", "public")
    assert hit["sha256"] == d["data"]["sha256"] and hit["blob_key"] == d["data"]["blob_key"]
    assert indexer.lookup_file("alice", "dev", "osx-arm64", "numpy-2.1.0rc1-py312h9a9a9a9_0.conda", "public") is None


def test_removals_publish_empty_indexes_and_keep_pointers(indexer, log, blobs):
    a = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0")
    b = log.upload("alice", "numpy", "2.0.1", "linux-64", "py311_0")
    c = log.upload("alice", "numpy", "1.26.4", "linux-64", "py312_0")
    e = log.upload("alice", "scipy", "1.14.0", "linux-64", "py312_0")
    feed(indexer, a, b, c, e)
    indexer.publish_pending()
    assert len(names_in(repodata(indexer, blobs, "alice", "main", "linux-64"))) == 4

    feed(indexer, log.append("file_removed", "alice", {"owner": "alice", **log.ref(a)}))
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {
        "numpy-2.0.1-py311_0.conda", "numpy-1.26.4-py312_0.conda", "scipy-1.14.0-py312_0.conda"}

    feed(indexer, log.append("release_removed", "alice", {"owner": "alice", "package": "numpy", "version": "2.0.1"}))
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {
        "numpy-1.26.4-py312_0.conda", "scipy-1.14.0-py312_0.conda"}

    feed(indexer, log.append("package_removed", "alice", {"owner": "alice", "package": "numpy"}),
         log.append("package_removed", "alice", {"owner": "alice", "package": "scipy"}))
    published = indexer.publish_pending()
    assert {p["subdir"] for p in published} == {"linux-64"}
    empty = repodata(indexer, blobs, "alice", "main", "linux-64")
    assert empty == {"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": {}, "removed": [],
                     "repodata_version": 1}
    assert indexer.list_subdirs("alice", "main") == ["linux-64", "noarch"]


def test_force_replace_uses_new_record_and_labels(indexer, log, blobs):
    feed(indexer, log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0", labels=["main", "dev"]))
    indexer.publish_pending()
    again = log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0", labels=["main"], license="MIT")
    feed(indexer, again)
    published = indexer.publish_pending()
    assert {(p["label"], p["subdir"]) for p in published} == {("main", "linux-64"), ("dev", "linux-64")}
    rec = repodata(indexer, blobs, "alice", "main", "linux-64")["packages.conda"]["numpy-2.0.1-py312_0.conda"]
    assert rec["license"] == "MIT"
    assert names_in(repodata(indexer, blobs, "alice", "dev", "linux-64")) == set()


def test_label_copy_unlabel_and_label_removed(indexer, log, blobs):
    a = log.upload("alice", "pandas", "2.2.2", "linux-64", "py312_0", labels=["dev"])
    b = log.upload("alice", "pandas", "2.2.2", "noarch", "pyhd8ed1ab_0", labels=["dev"])
    feed(indexer, a, b)
    indexer.publish_pending()
    assert indexer.get_index("alice", "main", "linux-64", "public") is None

    feed(indexer, log.append("label_copied", "alice", {"owner": "alice", "from_label": "dev", "to_label": "main",
                                                       "files": [log.ref(a), log.ref(b)]}))
    published = indexer.publish_pending()
    assert {(p["label"], p["subdir"]) for p in published} == {("main", "linux-64"), ("main", "noarch")}
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {"pandas-2.2.2-py312_0.conda"}
    assert names_in(repodata(indexer, blobs, "alice", "main", "noarch")) == {"pandas-2.2.2-pyhd8ed1ab_0.conda"}

    feed(indexer, log.append("files_unlabeled", "alice", {"owner": "alice", "label": "dev", "files": [log.ref(a)]}))
    published = indexer.publish_pending()
    assert {(p["label"], p["subdir"]) for p in published} == {("dev", "linux-64")}
    assert names_in(repodata(indexer, blobs, "alice", "dev", "linux-64")) == set()

    feed(indexer, log.append("files_labeled", "alice", {"owner": "alice", "label": "stable",
                                                        "files": [log.ref(b), {"package": "nope", "version": "1",
                                                                               "basename": "noarch/x.conda"}]}))
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "stable", "noarch")) == {"pandas-2.2.2-pyhd8ed1ab_0.conda"}

    feed(indexer, log.append("label_removed", "alice", {"owner": "alice", "label": "main",
                                                        "files": [log.ref(a), log.ref(b)]}))
    published = indexer.publish_pending()
    assert {(p["label"], p["subdir"]) for p in published} == {("main", "linux-64"), ("main", "noarch")}
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == set()
    assert names_in(repodata(indexer, blobs, "alice", "dev", "noarch")) == {"pandas-2.2.2-pyhd8ed1ab_0.conda"}


def test_private_and_public_audiences(indexer, log, blobs, publisher):
    pub = log.upload("alice", "requests", "2.32.3", "noarch", "pyhd8ed1ab_0")
    priv = log.upload("alice", "secret-sauce", "1.0", "noarch", "py_0", public=False)
    feed(indexer, pub, priv)
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "main", "noarch", "public")) == {
        "requests-2.32.3-pyhd8ed1ab_0.conda"}
    assert names_in(repodata(indexer, blobs, "alice", "main", "noarch", "private")) == {
        "requests-2.32.3-pyhd8ed1ab_0.conda", "secret-sauce-1.0-py_0.conda"}
    assert indexer.lookup_file("alice", "main", "noarch", "secret-sauce-1.0-py_0.conda", "public") is None
    assert indexer.lookup_file("alice", "main", "noarch", "secret-sauce-1.0-py_0.conda", "private") is not None
    ev = publisher.events[-1]
    assert ev.type == "index_published" and ev.stream_id == "alice"
    assert set(ev.data["files"]) == {"private/repodata.json", "private/repodata.json.zst",
                                     "private/repodata_shards.msgpack.zst"}
    assert {tuple(sorted(e.data["files"])) for e in publisher.events} == {
        ("private/repodata.json", "private/repodata.json.zst", "private/repodata_shards.msgpack.zst"),
        ("public/repodata.json", "public/repodata.json.zst", "public/repodata_shards.msgpack.zst")}

    feed(indexer, log.append("package_updated", "alice", {"owner": "alice", "package": "secret-sauce",
                                                          "changes": {"public": True}}))
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "alice", "main", "noarch", "public")) == {
        "requests-2.32.3-pyhd8ed1ab_0.conda", "secret-sauce-1.0-py_0.conda"}
    pub_idx = indexer.get_index("alice", "main", "noarch", "public")["files"]
    priv_idx = indexer.get_index("alice", "main", "noarch", "private")["files"]
    assert pub_idx == priv_idx      # same content, same content-addressed blobs

    feed(indexer, log.append("package_updated", "alice", {"owner": "alice", "package": "requests",
                                                          "changes": {"summary": "HTTP for humans"}}))
    assert indexer.publish_pending() == []


def test_package_transferred_moves_files_and_dirties_both_owners(indexer, log, blobs):
    feed(indexer, log.upload("alice", "tool", "0.3", "linux-64", "h0_0"),
         log.upload("alice", "lib", "1.0", "linux-64", "h0_0"))
    indexer.publish_pending()
    feed(indexer, log.append("package_transferred", "alice", {"owner": "alice", "package": "tool", "to_owner": "acme"}))
    published = indexer.publish_pending()
    assert {(p["owner"], p["subdir"]) for p in published} == {("alice", "linux-64"), ("acme", "linux-64"),
                                                              ("acme", "noarch")}
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == {"lib-1.0-h0_0.conda"}
    assert names_in(repodata(indexer, blobs, "acme", "main", "linux-64")) == {"tool-0.3-h0_0.conda"}
    # later events of the package arrive in the new owner's stream
    feed(indexer, log.append("file_removed", "acme", {"owner": "acme", "package": "tool", "version": "0.3",
                                                      "basename": "linux-64/tool-0.3-h0_0.conda"}))
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "acme", "main", "linux-64")) == set()


def _split_transfer(log, uploads, owner, package, to_owner):
    """What the registry appends for a transfer: ``package_transferred`` (received) in the source stream and
    ``package_received`` restating the files in the target stream."""
    files = [dict({k: w["data"][k] for k in ("version", "basename", "filename", "distribution_type", "subdir",
                                              "labels", "blob_key", "sha256", "md5", "size", "record",
                                              "metadata", "public")}, uploaded_at=w["occurred_at"])
             for w in uploads]
    out = log.append("package_transferred", owner, {"owner": owner, "package": package, "to_owner": to_owner,
                                                    "received": True})
    into = log.append("package_received", to_owner, {"owner": to_owner, "package": package,
                                                     "from_owner": owner, "files": files})
    return out, into


def test_split_transfer_gives_the_same_indexes_whatever_the_order_of_the_streams(tmp_path, log):
    """Streams are applied independently (several indexer replicas, queues per partition): the target stream's
    events (the package arriving, then a removal there) may be applied before the source stream's departure.
    Every order ends in the same indexes; records keep their original indexed_timestamp."""
    from tests.indexer.conftest import make_service
    from tests.indexer.support import CountingBlobs, ListPublisher
    from services.kernel.adapters.local_blobs import LocalBlobStore
    ups = [log.upload("alice", "tool", "0.3", "linux-64", "h0_0", labels=("main", "dev")),
           log.upload("alice", "tool", "0.4", "linux-64", "h0_0", labels=("main", "dev"))]
    lib = log.upload("alice", "lib", "1.0", "linux-64", "h0_0")
    out, into = _split_transfer(log, ups, "alice", "tool", "acme")
    rm = log.append("file_removed", "acme", {"owner": "acme", "package": "tool", "version": "0.3",
                                             "basename": "linux-64/tool-0.3-h0_0.conda"})
    before = None
    results = []
    for i, order in enumerate([[*ups, lib, out, into, rm], [*ups, lib, into, rm, out], [*ups, lib, into, out, rm]]):
        blobs = CountingBlobs(LocalBlobStore(str(tmp_path / f"b{i}")))
        svc = make_service(f"sqlite:///{tmp_path}/i{i}.db", blobs, ListPublisher(), log)
        if before is None:
            feed(svc, *ups, lib)
            svc.publish_pending()
            before = repodata(svc, blobs, "alice", "main", "linux-64")["packages.conda"]["tool-0.4-h0_0.conda"]
        for w in order:
            svc.handle(w)
        svc.publish_pending()
        results.append({(o, lb): repodata(svc, blobs, o, lb, "linux-64")
                        for o in ("alice", "acme") for lb in ("main", "dev")})
    assert results[0] == results[1] == results[2]
    r = results[0]
    assert names_in(r[("alice", "main")]) == {"lib-1.0-h0_0.conda"}
    assert r[("alice", "dev")] is None or names_in(r[("alice", "dev")]) == set()
    assert names_in(r[("acme", "main")]) == names_in(r[("acme", "dev")]) == {"tool-0.4-h0_0.conda"}
    assert r[("acme", "main")]["packages.conda"]["tool-0.4-h0_0.conda"] == before


def test_version_1_transfer_events_still_move_the_files(indexer, log, blobs):
    """Logs written before package_received existed: a version-1 ``package_transferred`` is upcast with
    received=False and moves the files itself."""
    feed(indexer, log.upload("alice", "tool", "0.3", "linux-64", "h0_0"))
    wire = log.append("package_transferred", "alice", {"owner": "alice", "package": "tool", "to_owner": "acme"})
    wire["version"] = 1
    feed(indexer, wire)
    indexer.publish_pending()
    assert names_in(repodata(indexer, blobs, "acme", "main", "linux-64")) == {"tool-0.3-h0_0.conda"}
    assert names_in(repodata(indexer, blobs, "alice", "main", "linux-64")) == set()


def test_irrelevant_and_non_conda_events_only_advance_the_position(indexer, log):
    """Events that change no conda channel: only the stream position moves (the wheel gets its PyPI page)."""
    created = log.append("package_created", "alice", {"owner": "alice", "package": "requests", "public": True})
    release = log.append("release_created", "alice", {"owner": "alice", "package": "requests", "version": "2.32.3"})
    wheel = log.append("file_uploaded", "alice", {
        "owner": "alice", "package": "requests", "version": "2.32.3",
        "basename": "requests-2.32.3-py3-none-any.whl",
        "filename": "requests-2.32.3-py3-none-any.whl", "distribution_type": "pypi", "labels": ["main"],
        "blob_key": "blobs/sha256/aa/bb/" + "a" * 64, "sha256": "a" * 64, "md5": "b" * 32, "size": 64000,
        "public": True, "record": None})
    feed(indexer, created, release, wheel,
         log.append("label_lock_changed", "alice", {"owner": "alice", "label": "main", "locked": True}))
    # an event type this kernel does not know (a newer registry): consumed, nothing else
    future = dict(log.append("label_lock_changed", "alice", {"owner": "alice", "label": "x", "locked": False}),
                  type="label_renamed", data={"owner": "alice", "from": "x", "to": "y"})
    indexer.handle(future)
    assert {(p["owner"], p["label"], p["subdir"]) for p in indexer.publish_pending()} == {
        ("alice", "main", "pypi/requests"), ("alice", "main", "pypi")}
    # sequence 6 arrives next without any read from the log: 1..5 were all consumed
    feed(indexer, log.upload("alice", "requests", "2.32.3", "noarch", "pyhd8ed1ab_0"))
    assert log.reads == []
    assert len(indexer.publish_pending()) == 2
