"""The protocol between blob writers and `wharf gc` (services/kernel/blob_gc.py), on local disk and on S3:
a writer that re-uses a stored blob freshens it, gc deletes only what is old and unreferenced at its re-check,
and a writer re-using a blob at the very moment gc deletes it still ends with the blob in place."""
from __future__ import annotations

import io
import threading
import time

from services.kernel import blob_gc

KEY = "blobs/sha256/ab/cd/abcd" + "0" * 60
FUTURE = 4e9        # a cutoff every write so far is older than (a gc with no grace at all)


def put(store, key=KEY, data=b"package bytes"):
    store.put(key, io.BytesIO(data), len(data))


def test_write_once_writes_what_is_missing_and_freshens_what_is_there(blob_store):
    writes = []
    blob_gc.write_once(blob_store, KEY, 13, lambda: (writes.append(1), put(blob_store)))
    assert writes == [1] and blob_store.stat(KEY) == 13
    assert blob_store.stat(blob_gc.USED + KEY) is None          # written, not re-used: nothing to mark
    blob_gc.write_once(blob_store, KEY, 13, lambda: writes.append(2))
    assert writes == [1]                                        # stored already: not written again...
    assert blob_store.stat(blob_gc.USED + KEY) == 0             # ...but marked as used now
    assert blob_gc.used_markers(blob_store).keys() == {KEY}


def test_collect_deletes_only_old_unreferenced_blobs(blob_store):
    other = KEY[:-1] + "1"
    put(blob_store)
    put(blob_store, other, b"other")
    asked = []

    def referenced(keys):
        asked.append(keys)
        return {other}
    # young: last written after the cutoff, so not even looked up
    young = blob_gc.collect(blob_store, {KEY: 0.0, other: 0.0}, referenced)
    assert sorted(young["young"]) == [KEY, other] and not young["deleted"] and asked == []
    dry = blob_gc.collect(blob_store, {KEY: FUTURE, other: FUTURE}, referenced, dry_run=True)
    assert dry["deleted"] == {KEY: 13} and dry["referenced"] == [other] and blob_store.stat(KEY) == 13
    done = blob_gc.collect(blob_store, {KEY: FUTURE, other: FUTURE}, referenced)
    assert done["deleted"] == {KEY: 13} and done["referenced"] == [other]
    assert blob_store.stat(KEY) is None and blob_store.stat(other) == 5
    assert list(blob_store.entries(blob_gc.CLAIMS)) == []       # every claim released
    assert blob_gc.collect(blob_store, {KEY: FUTURE}, referenced)["gone"] == [KEY]


def test_a_blob_reused_while_it_is_being_collected_survives(blob_store):
    """gc has claimed the blob, found it old and is re-checking its references when an upload of the same bytes
    re-uses it (finalize: stored already, so not written). gc deletes it; the writer, which saw the claim,
    waits for gc to finish, finds the bytes gone and writes them again before its record can be committed."""
    put(blob_store)
    writer_done = threading.Event()

    def write_again():
        put(blob_store)

    def writer():
        blob_gc.write_once(blob_store, KEY, 13, write_again)
        writer_done.set()

    def referenced(keys):
        # the re-check: an upload of the same bytes arrives right now
        threading.Thread(target=writer, daemon=True).start()
        deadline = time.monotonic() + 30
        while blob_store.stat(blob_gc.USED + KEY) is None:      # it has found the blob and freshened it
            assert time.monotonic() < deadline, "the writer never freshened the blob"
            time.sleep(0.01)
        assert not writer_done.is_set()                         # and waits for gc's claim to go
        return set()                                            # its record is not committed yet

    done = blob_gc.collect(blob_store, {KEY: FUTURE}, referenced)
    assert done["deleted"] == {KEY: 13}                         # gc did delete what it had found
    assert writer_done.wait(30)
    with blob_store.open(KEY) as f:                             # and the writer put it back
        assert f.read() == b"package bytes"


def test_a_blob_reused_before_gc_looks_is_young(blob_store):
    """A writer that re-used the blob before gc's age check makes it young: gc keeps it (grace above zero)."""
    put(blob_store)
    cutoff = time.time() - 3600                                  # a grace of one hour
    # the blob was written long ago: only its freshening can save it; make it look old on local disk
    if hasattr(blob_store, "local_path"):
        import os
        os.utime(blob_store.local_path(KEY), (cutoff - 60, cutoff - 60))
        assert blob_gc.collect(blob_store, {KEY: cutoff}, lambda keys: set(), dry_run=True)["deleted"]
    blob_gc.write_once(blob_store, KEY, 13, lambda: None)
    done = blob_gc.collect(blob_store, {KEY: cutoff}, lambda keys: set())
    assert done["young"] == [KEY] and blob_store.stat(KEY) == 13


def test_stale_claims_are_swept(blob_store):
    blob_store.put(blob_gc.CLAIMS + KEY, io.BytesIO(b""), 0)
    assert blob_gc.sweep_stale_claims(blob_store) == 0                               # fresh: a gc at work
    assert blob_gc.sweep_stale_claims(blob_store, now=time.time() + 2 * blob_gc.STALE_CLAIM) == 1
    assert blob_store.stat(blob_gc.CLAIMS + KEY) is None
