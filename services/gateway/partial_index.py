"""Indexes for readers who may see only some private packages of a namespace (a collaborator, a member of a
group listing packages): the public index plus those packages' records from the private index. Built on
request from the two published indexes and cached by their content hashes, so it stays cheap until one of
them changes."""
from __future__ import annotations

import hashlib
import json

import zstandard


def merge(public: bytes, private: bytes, allowed: frozenset[str]) -> bytes:
    doc = json.loads(public)
    priv = json.loads(private)
    for section in ("packages", "packages.conda"):
        target = doc.setdefault(section, {})
        for fn, rec in priv.get(section, {}).items():
            if rec.get("name") in allowed:
                target[fn] = rec
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def build(public: bytes, private: bytes, allowed: frozenset[str], compressed: bool) -> bytes:
    data = merge(public, private, allowed)
    return zstandard.ZstdCompressor(level=3).compress(data) if compressed else data


def cache_key(public_sha: str, private_sha: str, allowed: frozenset[str], compressed: bool) -> str:
    h = hashlib.sha256(f"{public_sha}:{private_sha}:{compressed}:".encode())
    h.update("\n".join(sorted(allowed)).encode())
    return h.hexdigest()
