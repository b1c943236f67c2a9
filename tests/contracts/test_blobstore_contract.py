"""The BlobStore contract (services/kernel/ports.py), run on local disk and on S3 (moto's server)."""
import io

import pytest
import requests

from services.kernel.errors import BadRequest, BlobNotFound, Unavailable


def test_put_open_stat_roundtrip(blob_store):
    blob_store.put("a/b/one", io.BytesIO(b"hello"), 5)
    assert blob_store.stat("a/b/one") == 5
    with blob_store.open("a/b/one") as f:
        assert f.read() == b"hello"


def test_put_without_length_and_overwrite(blob_store):
    blob_store.put("k", io.BytesIO(b"x" * 100))
    blob_store.put("k", io.BytesIO(b"yz"))
    with blob_store.open("k") as f:
        assert f.read() == b"yz"
    assert blob_store.stat("k") == 2


def test_read_range(blob_store):
    data = bytes(range(256)) * 40
    blob_store.put("packs/p", io.BytesIO(data), len(data))
    assert blob_store.read_range("packs/p", 0, 10) == data[:10]
    assert blob_store.read_range("packs/p", 5000, 1234) == data[5000:6234]
    assert blob_store.read_range("packs/p", len(data) - 1, 1) == data[-1:]
    with pytest.raises(Unavailable):
        blob_store.read_range("packs/p", len(data) - 5, 10)       # past the end: never a silent short read
    with pytest.raises(BlobNotFound):
        blob_store.read_range("packs/none", 0, 1)


def test_missing_key(blob_store):
    assert blob_store.stat("nope/x") is None
    with pytest.raises(BlobNotFound):
        blob_store.open("nope/x")
    blob_store.delete("nope/x")  # not an error


def test_copy_delete_and_keys(blob_store):
    blob_store.put("src/1", io.BytesIO(b"data"), 4)
    blob_store.copy("src/1", "dst/1")
    assert sorted(blob_store.keys("")) == ["dst/1", "src/1"]
    assert list(blob_store.keys("dst/")) == ["dst/1"]
    blob_store.delete("src/1")
    assert blob_store.stat("src/1") is None
    with blob_store.open("dst/1") as f:
        assert f.read() == b"data"


def test_entries_give_size_and_modification_time(blob_store):
    import time
    before = time.time()
    blob_store.put("e/a/1", io.BytesIO(b"one"), 3)
    blob_store.put("e/a/2", io.BytesIO(b"second"), 6)
    blob_store.put("e/b", io.BytesIO(b""), 0)
    blob_store.put("f/1", io.BytesIO(b"x"), 1)
    found = list(blob_store.entries("e/"))
    assert [(k, size) for k, size, _m in found] == [("e/a/1", 3), ("e/a/2", 6), ("e/b", 0)]
    # the store's clock (S3: the server's, to the second); the same machine here, so close to ours
    assert all(before - 5 <= m <= time.time() + 5 for _k, _s, m in found)
    assert [k for k, _s, _m in blob_store.entries("e/a/1")] == ["e/a/1"]       # one key: its own prefix
    assert list(blob_store.entries("e/a/3")) == [] and list(blob_store.entries("none/")) == []


def test_presigned_url_or_none(blob_store):
    blob_store.put("p/q", io.BytesIO(b"payload"), 7)
    url = blob_store.url("p/q", filename="q.bin")
    if url is None:  # local disk cannot presign
        return
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"payload"
    put = blob_store.url("p/new", method="PUT")
    assert requests.put(put, data=b"via-url", timeout=10).status_code == 200
    with blob_store.open("p/new") as f:
        assert f.read() == b"via-url"


def test_local_store_refuses_escaping_keys(tmp_path):
    from services.kernel.adapters.local_blobs import LocalBlobStore
    store = LocalBlobStore(str(tmp_path / "b"))
    for key in ("../x", "/abs", "a/../../x", "a//b", ""):
        with pytest.raises(BadRequest):
            store.put(key, io.BytesIO(b"1"))


def test_unreachable_s3_is_unavailable():
    from services.kernel.adapters.s3_blobs import S3BlobStore
    from services.kernel.errors import Unavailable
    store = S3BlobStore("127.0.0.1:9", "k", "s", "bucket")
    with pytest.raises(Unavailable):
        store.stat("x")


def test_concurrent_requests_reuse_their_connections(s3_store, caplog):
    """Concurrent requests (nameko workers, parallel stores, gateway threads) keep their connections: with
    urllib3's default pool of one, every connection beyond the first was closed after its request."""
    import concurrent.futures as cf
    import logging

    def work(i):
        for j in range(5):
            s3_store.put(f"c/{i}/{j}", io.BytesIO(b"x" * 100), 100)
            assert s3_store.stat(f"c/{i}/{j}") == 100

    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        with cf.ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
