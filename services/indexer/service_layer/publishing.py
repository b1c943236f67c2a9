"""Building and storing index files: the repodata of one channel subdir, and the helpers every index file uses.

For each audience the repodata is spliced from stored record fragments (domain/repodata.py), compressed with
zstandard, and written as a content-addressed blob (``signing.index_key_for``); a blob that already exists is
not written again (it is freshened instead, for ``wharf gc``); only the compressed repodata is stored (see
``store_index_files``). Blobs are always written before the pointer that names them is flipped, so a crash at
any point leaves the previous index in place.
"""
from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor

import zstandard

from services.kernel.blob_gc import write_once
from services.kernel.ports import BlobStore
from services.kernel.signing import index_key_for

from ..domain.keys import AUDIENCES, REPODATA, REPODATA_ZST, SIMPLE_HTML, SIMPLE_JSON
from ..domain.repodata import RepodataSplice

ZSTD_LEVEL = 3     # fast; output is deterministic for a given zstandard version and level
STORE_THREADS = 4  # index files stored at once
CONTENT_TYPES = {REPODATA: "application/json", REPODATA_ZST: "application/zstd",
                 SIMPLE_JSON: "application/vnd.pypi.simple.v1+json", SIMPLE_HTML: "application/vnd.pypi.simple.v1+html"}


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def build_index_files(repodata: RepodataSplice) -> dict[str, dict[str, bytes]]:
    """{audience: {file name: bytes}} of a channel subdir's repodata."""
    out: dict[str, dict[str, bytes]] = {}
    for audience in AUDIENCES:
        if repodata.all_public and out:      # no private file: every audience sees the same bytes, built once
            out[audience] = dict(next(iter(out.values())))
            continue
        raw = repodata.build(public_only=audience != "private")
        out[audience] = {REPODATA: raw, REPODATA_ZST: compress(raw)}
    return out


def store(blobs: BlobStore, filename: str, data: bytes, sha256: str | None = None) -> dict:
    """Write ``data`` at its content address unless it is there already (then freshen it, so a `wharf gc`
    running now keeps it until the pointer naming it is flipped: ``blob_gc.write_once``); return its pointer."""
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    key = index_key_for(sha256)
    write_once(blobs, key, len(data), lambda: blobs.put(key, io.BytesIO(data), len(data),
                                                        CONTENT_TYPES.get(filename, "application/octet-stream")))
    return {"key": key, "sha256": sha256, "size": len(data)}


def side_by_side(fn, items: list, threads: int) -> list:
    """``[fn(item) for item in items]``, up to ``threads`` at a time (each store is a round trip or two to the
    object store); a single item on this thread."""
    if len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


def store_index_files(blobs: BlobStore, files: dict[str, dict[str, bytes]]) -> dict[str, dict[str, dict]]:
    """Store every distinct file once (public and private bytes are often identical), the files in parallel
    (a large subdir's .zst and its shard index are separate uploads); returns {audience: {file name: pointer}}.

    ``repodata.json`` is not stored as such when its ``.zst`` is there: its pointer names the ``.zst`` blob with
    ``encoding: zstd`` and the sha256 and size of the JSON (its ETag and length), and the gateway decompresses.
    That keeps the largest file of a big subdir (38 MB for 100,000 records, against 7 MB compressed) off the
    object store on every publish."""
    unique: dict[str, tuple[str, bytes]] = {}      # sha256 -> (a file name, bytes)
    names: dict[str, dict[str, str]] = {}           # audience -> file name -> sha256
    encoded: dict[str, dict[str, dict]] = {}        # audience -> file name -> {sha256, size} of the plain bytes
    digests: dict[int, str] = {}     # by id(): the audiences often share the very same bytes object
    for audience, by_name in files.items():
        for filename, data in by_name.items():
            sha256 = digests.get(id(data)) or hashlib.sha256(data).hexdigest()
            digests[id(data)] = sha256
            if filename == REPODATA and REPODATA_ZST in by_name:
                encoded.setdefault(audience, {})[filename] = {"sha256": sha256, "size": len(data)}
                continue
            unique.setdefault(sha256, (filename, data))
            names.setdefault(audience, {})[filename] = sha256
    stored = dict(zip(unique, side_by_side(lambda item: store(blobs, item[1][0], item[1][1], item[0]),
                                           list(unique.items()), STORE_THREADS)))
    pointers = {audience: {fn: dict(stored[sha256]) for fn, sha256 in by_name.items()}
                for audience, by_name in names.items()}
    for audience, by_name in encoded.items():
        for filename, plain in by_name.items():
            pointers[audience][filename] = {"key": pointers[audience][REPODATA_ZST]["key"], **plain,
                                            "encoding": "zstd"}
    return pointers
