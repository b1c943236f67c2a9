"""Test support for the indexer: a fake registry log (a list we own), realistic conda records, a list publisher
and a blob store wrapper that counts (and can fail) writes."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import msgpack
import zstandard

from services.kernel.errors import Unavailable
from services.kernel.events import Event


def conda_record(name: str, version: str, build: str = "py312h1234567_0", build_number: int = 0,
                 subdir: str = "linux-64", depends=("python >=3.12,<3.13.0a0",), **extra) -> dict:
    """A repodata record as storage extracts it from info/index.json (+ md5/sha256/size)."""
    seed = f"{name}-{version}-{build}-{subdir}".encode()
    rec = {"name": name, "version": version, "build": build, "build_number": build_number,
           "depends": list(depends), "license": "BSD-3-Clause", "subdir": subdir,
           "md5": hashlib.md5(seed).hexdigest(), "sha256": hashlib.sha256(seed).hexdigest(),
           "size": 10_000 + len(seed), "timestamp": 1_718_000_000_000 + build_number}
    if subdir == "noarch":
        rec["noarch"] = "python"
    rec.update(extra)
    return rec


@dataclasses.dataclass
class RegistryLog:
    """The registry's event log as the indexer sees it: per-stream sequences and ``read_stream``."""
    streams: dict = dataclasses.field(default_factory=dict)
    reads: list = dataclasses.field(default_factory=list)
    clock: int = 0

    def append(self, type_: str, owner: str, data: dict) -> dict:
        ev = Event.new(type_, owner, data, actor="alice")
        seq = len(self.streams.setdefault(owner, [])) + 1
        self.clock += 1
        # fixed timestamps so that a replay of the same log gives the same bytes
        ev = dataclasses.replace(ev, sequence=seq,
                                 occurred_at=f"2026-05-01T12:00:{self.clock % 60:02d}.{self.clock:03d}Z")
        wire = ev.to_wire()
        self.streams[owner].append(wire)
        return wire

    def read_stream(self, stream_id: str, after_sequence: int, limit: int = 1000) -> list[dict]:
        self.reads.append((stream_id, after_sequence))
        return [w for w in self.streams.get(stream_id, []) if w["sequence"] > after_sequence][:limit]

    def heads(self) -> dict[str, int]:
        """The registry's ``stream_heads``: stream_id -> last sequence."""
        return {owner: evs[-1]["sequence"] for owner, evs in self.streams.items() if evs}

    def all(self) -> list[dict]:
        return [w for owner in sorted(self.streams) for w in self.streams[owner]]

    # ---- registry events with realistic payloads
    def upload(self, owner: str, package: str, version: str, subdir: str = "linux-64", build: str = "py312_0",
               ext: str = ".conda", labels=("main",), public: bool = True, record: dict | None = None,
               build_number: int = 0, **record_extra) -> dict:
        filename = f"{package}-{version}-{build}{ext}"
        record = record or conda_record(package, version, build, build_number, subdir, **record_extra)
        return self.append("file_uploaded", owner, {
            "owner": owner, "package": package, "version": version, "basename": f"{subdir}/{filename}",
            "filename": filename, "distribution_type": "conda", "subdir": subdir, "labels": list(labels),
            "blob_key": f"blobs/sha256/{record['sha256'][:2]}/{record['sha256'][2:4]}/{record['sha256']}",
            "sha256": record["sha256"], "md5": record["md5"], "size": record["size"], "public": public,
            "record": record, "attrs": {}, "metadata": {}, "description": None})

    def pypi(self, owner: str, package: str, version: str, filename: str | None = None, labels=("main",),
             public: bool = True, name: str | None = None, requires_python: str | None = ">=3.9") -> dict:
        """A wheel (or, with an sdist ``filename``, an sdist) as storage reports it: core metadata for wheels."""
        filename = filename or f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        sha = hashlib.sha256(f"{owner}/{package}/{filename}".encode()).hexdigest()
        metadata = {"name": name or package, "version": version, "summary": "s", "requires_python": requires_python}
        if filename.endswith(".whl"):
            core = hashlib.sha256(f"METADATA of {filename}".encode()).hexdigest()
            metadata.update(core_metadata_key=f"blobs/sha256/{core[:2]}/{core[2:4]}/{core}",
                            core_metadata_sha256=core)
        return self.append("file_uploaded", owner, {
            "owner": owner, "package": package, "version": version, "basename": filename, "filename": filename,
            "distribution_type": "pypi", "subdir": None, "labels": list(labels),
            "blob_key": f"blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}", "sha256": sha,
            "md5": hashlib.md5(sha.encode()).hexdigest(), "size": 4096 + len(filename), "public": public,
            "record": None, "attrs": {}, "metadata": metadata, "description": None})

    def ref(self, wire: dict) -> dict:
        d = wire["data"]
        return {"package": d["package"], "version": d["version"], "basename": d["basename"]}


class ListPublisher:
    def __init__(self):
        self.events: list[Event] = []
        self.fail = False

    def publish(self, events):
        if self.fail:
            raise Unavailable("broker down")
        self.events.extend(events)


class CountingBlobs:
    """Wraps a real BlobStore; records every ``put`` key; ``fail_puts`` makes puts raise Unavailable."""

    def __init__(self, inner):
        self.inner = inner
        self.puts: list[str] = []
        self.fail_puts = False

    def put(self, key, stream, length=None, content_type="application/octet-stream"):
        if self.fail_puts:
            raise Unavailable("blob store down")
        self.puts.append(key)
        return self.inner.put(key, stream, length, content_type)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def read_blob(blobs, key: str) -> bytes:
    with blobs.open(key) as f:
        return f.read()


def repodata(service, blobs, owner: str, label: str, subdir: str, audience: str = "public") -> dict | None:
    """The published repodata.json of a channel subdir, parsed, after checking the .zst and the pointers."""
    index = service.get_index(owner, label, subdir, audience)
    if index is None:
        return None
    files = index["files"]
    raw = read_pointer(blobs, files["repodata.json"])
    assert hashlib.sha256(raw).hexdigest() == files["repodata.json"]["sha256"]
    assert len(raw) == files["repodata.json"]["size"]
    # only the .zst is stored: repodata.json's pointer names it, with the JSON's own sha256 and size
    assert files["repodata.json"]["encoding"] == "zstd"
    assert files["repodata.json"]["key"] == files["repodata.json.zst"]["key"]
    zst = read_blob(blobs, files["repodata.json.zst"]["key"])
    assert hashlib.sha256(zst).hexdigest() == files["repodata.json.zst"]["sha256"]
    assert zstandard.ZstdDecompressor().decompress(zst) == raw
    doc = json.loads(raw)
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return doc


def names_in(doc: dict) -> set[str]:
    return set(doc["packages"]) | set(doc["packages.conda"])


def unpack_zst(data: bytes):
    return msgpack.unpackb(zstandard.ZstdDecompressor().decompress(data), raw=False)


def read_pointer(blobs, pointer: dict) -> bytes:
    """The bytes a pointer names: its whole object, or (a packed shard) its byte range of the pack."""
    if pointer.get("offset") is not None:
        return blobs.read_range(pointer["key"], pointer["offset"], pointer["size"])
    if pointer.get("encoding") == "zstd":
        return zstandard.ZstdDecompressor().decompress(read_blob(blobs, pointer["key"]))
    assert "encoding" not in pointer
    return read_blob(blobs, pointer["key"])


def checked_blob(blobs, pointer: dict) -> bytes:
    raw = read_pointer(blobs, pointer)
    assert hashlib.sha256(raw).hexdigest() == pointer["sha256"] and len(raw) == pointer["size"]
    return raw


def shard_index(blobs, files: dict) -> dict:
    """The decoded ``repodata_shards.msgpack.zst`` of an index (``get_index(...)["files"]``), shard hashes as
    hex (each checked to be 32 raw bytes)."""
    doc = unpack_zst(checked_blob(blobs, files["repodata_shards.msgpack.zst"]))
    assert all(isinstance(h, bytes) and len(h) == 32 for h in doc["shards"].values())
    return dict(doc, shards={name: h.hex() for name, h in doc["shards"].items()})


def shards(service, blobs, owner: str, label: str, subdir: str, audience: str = "public") -> dict:
    """{name: decoded shard} of a channel subdir, each fetched through ``get_shard`` like the gateway does."""
    files = service.get_index(owner, label, subdir, audience)["files"]
    out = {}
    for name, sha in shard_index(blobs, files)["shards"].items():
        pointer = service.get_shard(owner, label, subdir, audience, sha)
        assert pointer is not None and pointer["sha256"] == sha
        out[name] = unpack_zst(checked_blob(blobs, pointer))
    return out
