"""Conda channels: ``/conda/[t/<token>/]<owner>[/label/<label>]/<subdir>/<file>`` (and ``/t/<token>/conda/...``,
where conda moves the token in front of the mount prefix).

Index files come from the indexer's published, content-addressed blobs through the gateway cache: strong ETag
(the content sha256), 304 on If-None-Match without touching any backend, Cache-Control max-age, HEAD and Range.
A reader sees the ``private`` audience of a namespace when they may read it, else the ``public`` one. Unknown
subdirs are 404 (clients treat that as empty), except ``noarch``, which every existing namespace serves.
"""
from __future__ import annotations

import hashlib
import json
import re

import zstandard

from flask import Blueprint, Response, current_app, request

from services.kernel import names
from services.kernel.errors import NotFound, Unavailable
from services.kernel.signing import blob_key_for

from .. import access, channeldata, partial_index
from ..adapters import blob_http
from ..identity import current_reader, private_packages
from ..web import channel as channel_page
from .api_packages import send_blob

bp = Blueprint("conda", __name__)

INDEX_FILES = {"repodata.json": "application/json", "repodata.json.zst": "application/zstd",
               "repodata_shards.msgpack.zst": "application/octet-stream"}
MIMETYPES = dict(INDEX_FILES, **{"channeldata.json": "application/json"})
SHARD = re.compile(r"^([0-9a-f]{64})\.msgpack\.zst$")


def _empty_doc(subdir: str) -> bytes:
    return json.dumps({"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}, "removed": [],
                       "repodata_version": 1}, sort_keys=True, separators=(",", ":")).encode()


EMPTY_NOARCH = {"repodata.json": _empty_doc("noarch"),
                "repodata.json.zst": zstandard.ZstdCompressor(level=3).compress(_empty_doc("noarch"))}


def clients():
    return current_app.extensions["wharf.clients"]


def cache():
    return current_app.extensions["wharf.index_cache"]


def path_token(rest: str) -> tuple[str | None, list[str]]:
    """``t/<token>/<rest>`` -> (token, parts of rest); a malformed token is a 401 before anything is looked up."""
    parts = rest.split("/")
    token = None
    if len(parts) >= 2 and parts[0] == "t":
        token, parts = parts[1], parts[2:]
        if not _valid_token(token):
            from services.kernel.errors import Unauthorized
            raise Unauthorized("malformed token")
    return token, parts


def _owner_in(args: dict) -> str | None:
    parts = path_token(args["rest"])[1]
    return parts[0] if parts else None


def _token_first(args: dict) -> str | None:
    if not _valid_token(args["token"]):
        from services.kernel.errors import Unauthorized
        raise Unauthorized("malformed token")
    return args["token"]


def _credential(args: dict) -> str:
    """A browser asking for the bare channel URL gets a page about the channel as its session reader sees it
    (web/channel.py); every other request is a channel request with API credentials, as always."""
    return access.SESSION if channel_page.wanted(args["rest"]) else access.API


@bp.route("/conda/<path:rest>", methods=["GET", "HEAD"])
@access.see("conda:download", owner=_owner_in, path_token=lambda args: path_token(args["rest"])[0],
            credential=_credential)
def channel(rest):
    page = channel_page.wanted(rest)
    if page:
        return channel_page.page(*page)
    return serve(path_token(rest)[1])


@bp.route("/t/<token>/conda/<path:rest>", methods=["GET", "HEAD"])
@access.see("conda:download", owner=_owner_in, path_token=_token_first)
def channel_token_first(token, rest):
    return serve(path_token(rest)[1])


def serve(parts: list[str]):
    if not parts or not parts[0]:
        raise NotFound("not found")
    shard = len(parts) >= 2 and parts[-2] == "shards"
    if shard:
        parts = parts[:-2] + parts[-1:]
    if parts[-1] == "channeldata.json" and (len(parts) == 2 or (len(parts) == 4 and parts[1] == "label")):
        owner = names.owner(parts[0])
        label = names.label(parts[2]) if len(parts) == 4 else "main"
        reader = current_reader()
        whole, allowed = private_packages(clients(), reader, owner, "conda:download")
        return _channeldata(owner, label, "private" if whole else "public", frozenset(allowed))
    if len(parts) == 5 and parts[1] == "label":
        owner, label, subdir, fname = parts[0], parts[2], parts[3], parts[4]
    elif len(parts) == 3:
        owner, label, subdir, fname = parts[0], "main", parts[1], parts[2]
    else:
        raise NotFound("not found")
    owner, label, subdir = names.owner(owner), names.label(label), names.subdir(subdir)
    reader = current_reader()
    if reader.anonymous:
        # anonymous readers see the public audience of any existing namespace: remembered for the cache's
        # ttl, so a conditional GET (304) reaches no service, database or object store
        whole, allowed = cache().get_meta(("anonymous", owner),
                                          lambda: private_packages(clients(), reader, owner, "conda:download"))
    else:
        whole, allowed = private_packages(clients(), reader, owner, "conda:download")
    audience = "private" if whole else "public"
    if shard:
        return _shard(owner, label, subdir, fname, audience, bool(allowed))
    if fname in INDEX_FILES:
        if allowed:
            if fname == "repodata_shards.msgpack.zst":
                # per-reader shard sets are not published; 404 makes rattler/conda use repodata.json
                raise NotFound(f"{subdir}/{fname} not found")
            return _partial_index(owner, label, subdir, fname, frozenset(allowed))
        return _index(owner, label, subdir, fname, audience)
    names.filename(fname)
    if fname.endswith((".conda", ".tar.bz2")):
        hit = clients().indexer.lookup_file(owner, label, subdir, fname, audience)
        if hit is None and allowed:
            hit = clients().indexer.lookup_file(owner, label, subdir, fname, "private")
            if hit is not None and hit["package"] not in allowed:
                hit = None
        if hit:
            return send_blob(blob_key_for(hit["sha256"]), fname, hit["sha256"],
                             count=(owner, hit["package"], hit["version"], hit["basename"]),
                             private=not hit["public"])
    raise NotFound(f"{fname} not found")


def _valid_token(token: str) -> bool:
    return 0 < len(token) <= 200 and all(c.isascii() and (c.isalnum() or c == "-") for c in token)


def _entry(owner: str, label: str, subdir: str, fname: str, audience: str) -> dict | None:
    meta = cache().get_meta((owner, label, subdir, audience),
                            lambda: clients().indexer.get_index(owner, label, subdir, audience))
    if not meta:
        return None
    files = meta.get("files", {})
    return files.get(fname) or files.get(f"{audience}/{fname}")


def _empty_entry(subdir: str, fname: str) -> dict:
    if subdir == "noarch" and fname in EMPTY_NOARCH:
        data = EMPTY_NOARCH[fname]
        return {"sha256": hashlib.sha256(data).hexdigest(), "data": data}
    raise NotFound(f"{subdir}/{fname} not found")


def _partial_entry(owner: str, label: str, subdir: str, fname: str, allowed: frozenset[str]) -> dict | None:
    """The index of a reader who may see only ``allowed`` private packages: ``{"sha256": key, "make": build}``,
    or None when the subdir has no private index. The key is derived from both inputs' hashes and the package
    set, so it is a strong validator and the cache key of the built bytes."""
    base = fname.replace(".zst", "")
    pub = _entry(owner, label, subdir, base, "public")
    priv = _entry(owner, label, subdir, base, "private")
    if priv is None:
        return None
    compressed = fname.endswith(".zst")
    return {"sha256": partial_index.cache_key(pub["sha256"] if pub else "-", priv["sha256"], allowed, compressed),
            "make": lambda: partial_index.build(_bytes(pub) if pub else _empty_doc(subdir), _bytes(priv), allowed,
                                                compressed)}


def _partial_index(owner: str, label: str, subdir: str, fname: str, allowed: frozenset[str]):
    entry = _partial_entry(owner, label, subdir, fname, allowed)
    if entry is None or _partial_is_empty(owner, label, subdir, allowed):
        # nothing this reader may see: exactly what a subdir or label that never existed answers
        return _respond(_empty_entry(subdir, fname), fname, "private")
    return _respond(_derived(entry["sha256"], entry["make"]), fname, "private")


def _partial_is_empty(owner: str, label: str, subdir: str, allowed: frozenset[str]) -> bool:
    entry = _partial_entry(owner, label, subdir, "repodata.json", allowed)
    return entry is None or _derived(entry["sha256"], entry["make"])["data"] == _empty_doc(subdir)


def _derived(key: str, make) -> dict:
    """A view built on request (a partial index, channeldata.json): its bytes, cached under ``key`` (the hash
    of its inputs), served under the hash of the bytes themselves. The inputs include things this reader may
    not see (the whole private index): their changes must not show in the ETag when the view's bytes stay the
    same, nor two views that read the same differ by ETag."""
    data = cache().get_bytes(key, make)
    return {"sha256": cache().digest(key, data), "data": data}


def _channeldata(owner: str, label: str, audience: str, allowed: frozenset[str]):
    """channeldata.json from the reader's own view of each subdir's repodata.json (see channeldata.py)."""
    subdirs = cache().get_meta((owner, label, "channeldata", "subdirs"),
                               lambda: clients().indexer.list_subdirs(owner, label))
    views: dict[str, dict] = {}
    for subdir in subdirs:
        entry = (_partial_entry(owner, label, subdir, "repodata.json", allowed) if allowed
                 else _entry(owner, label, subdir, "repodata.json", audience))
        if entry is not None:
            views[subdir] = entry
    key = channeldata.cache_key([(s, e["sha256"]) for s, e in views.items()])

    def view_bytes(e: dict) -> bytes:
        return cache().get_bytes(e["sha256"], e["make"]) if "make" in e else _bytes(e)

    derived = _derived(key, lambda: channeldata.build({s: view_bytes(e) for s, e in views.items()}))
    return _respond(derived, "channeldata.json", "private" if allowed else audience)


def _bytes(entry: dict) -> bytes:
    if entry.get("data"):
        return entry["data"]
    if entry.get("offset") is not None:     # a shard packed with others: its byte range of the pack
        return cache().get_bytes(entry["sha256"], lambda: _load_range(entry))
    if entry.get("encoding") == "zstd":     # stored compressed (repodata.json: its .zst)
        return cache().get_bytes(entry["sha256"], lambda: _decoded(entry))
    return cache().get_bytes(entry["sha256"], lambda: _load(entry["key"]))


def _shard(owner: str, label: str, subdir: str, fname: str, audience: str, partial: bool):
    m = SHARD.match(fname)
    if not m or partial:
        raise NotFound(f"{subdir}/shards/{fname} not found")
    hit = cache().get_meta((owner, label, subdir, "shard", audience, m[1]),
                           lambda: clients().indexer.get_shard(owner, label, subdir, audience, m[1]))
    if hit is None:
        raise NotFound(f"{subdir}/shards/{fname} not found")
    data = _bytes(hit)
    resp = Response(data, mimetype="application/octet-stream")
    resp.set_etag(hit["sha256"])
    resp.headers["Cache-Control"] = ("public" if audience == "public" else "private") + \
        ", max-age=31536000, immutable"
    return resp.make_conditional(request, accept_ranges=True, complete_length=len(data))


def _index(owner: str, label: str, subdir: str, fname: str, audience: str):
    entry = _entry(owner, label, subdir, fname, audience)
    if entry is not None and _empty(owner, label, subdir, audience):
        entry = None  # a subdir (noarch too) holding only private files looks exactly like one that does not exist
    return _respond(entry or _empty_entry(subdir, fname), fname, audience)


def _empty(owner: str, label: str, subdir: str, audience: str) -> bool:
    main = _entry(owner, label, subdir, "repodata.json", audience)
    return main is None or main["sha256"] == hashlib.sha256(_empty_doc(subdir)).hexdigest()


def _respond(entry: dict, fname: str, audience: str):
    settings = current_app.config["WHARF_SETTINGS"]
    cache_control = f"{'private' if audience == 'private' else 'public'}, max-age={settings.index_max_age}"
    if entry["sha256"] in request.if_none_match:
        resp = Response(status=304)
        resp.set_etag(entry["sha256"])
        resp.headers["Cache-Control"] = cache_control
        resp.vary.add("Authorization")
        return resp
    data = _bytes(entry)
    resp = Response(data, mimetype=MIMETYPES[fname])
    resp.set_etag(entry["sha256"])
    resp.headers["Cache-Control"] = cache_control
    resp.vary.add("Authorization")
    return resp.make_conditional(request, accept_ranges=True, complete_length=len(data))


def _decoded(entry: dict) -> bytes:
    data = zstandard.ZstdDecompressor().decompress(_load(entry["key"]), max_output_size=int(entry["size"]))
    if len(data) != int(entry["size"]):
        raise Unavailable(f"index file {entry['sha256']} could not be decoded from {entry['key']}")
    return data


def _load_range(entry: dict) -> bytes:
    """The shard's bytes out of its pack, checked against its sha256 (they are served under that name)."""
    data = _load(entry["key"], int(entry["offset"]), int(entry["size"]))
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise Unavailable(f"shard {entry['sha256']} could not be read from its pack")
    return data


def _load(key: str, start: int | None = None, size: int | None = None) -> bytes:
    """A stored blob's bytes, or ``size`` of them from ``start``."""
    storage = clients().storage
    url = storage.blob_url(key, None, True)
    if url:
        return blob_http.get(url, start, size)
    with storage.open_blob(key) as f:
        if start is None:
            return f.read()
        f.seek(start)
        return f.read(size)
