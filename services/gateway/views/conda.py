"""Conda channels: ``/conda/[t/<token>/]<owner>[/label/<label>]/<subdir>/<file>`` (and ``/t/<token>/conda/...``,
where conda moves the token in front of the mount prefix).

Index files come from the indexer's published, content-addressed blobs through the gateway cache: strong ETag
(the content sha256), 304 on If-None-Match without touching any backend, Cache-Control max-age, HEAD and Range.
A reader sees the ``private`` audience of a namespace when they may read it, else the ``public`` one. Unknown
subdirs are 404 (clients treat that as empty), except ``noarch``, which every existing namespace serves.
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request

from services.kernel import names
from services.kernel.errors import NotFound
from services.kernel.signing import blob_key_for

from ..identity import current_reader, role_on
from .api_packages import send_blob

bp = Blueprint("conda", __name__)

INDEX_FILES = {"repodata.json": "application/json", "repodata.json.zst": "application/zstd"}
EMPTY = {s: json.dumps({"info": {"subdir": s}, "packages": {}, "packages.conda": {}, "removed": [],
                        "repodata_version": 1}, sort_keys=True, separators=(",", ":")).encode()
         for s in ("noarch",)}


def clients():
    return current_app.extensions["wharf.clients"]


def cache():
    return current_app.extensions["wharf.index_cache"]


@bp.route("/conda/<path:rest>", methods=["GET", "HEAD"])
def channel(rest):
    return serve(rest.split("/"), None)


@bp.route("/t/<token>/conda/<path:rest>", methods=["GET", "HEAD"])
def channel_token_first(token, rest):
    return serve(rest.split("/"), token)


def serve(parts: list[str], token: str | None):
    if len(parts) >= 2 and parts[0] == "t":
        token, parts = parts[1], parts[2:]
    if token is not None and not _valid_token(token):
        from services.kernel.errors import Unauthorized
        raise Unauthorized("malformed token")
    if len(parts) == 5 and parts[1] == "label":
        owner, label, subdir, fname = parts[0], parts[2], parts[3], parts[4]
    elif len(parts) == 3:
        owner, label, subdir, fname = parts[0], "main", parts[1], parts[2]
    else:
        raise NotFound("not found")
    owner, label, subdir = names.owner(owner), names.label(label), names.subdir(subdir)
    reader = current_reader(clients(), token)
    role = role_on(clients(), reader, owner, "conda:download")
    audience = "private" if role else "public"
    if fname in INDEX_FILES:
        return _index(owner, label, subdir, fname, audience)
    names.filename(fname)
    if fname.endswith((".conda", ".tar.bz2")):
        hit = clients().indexer.lookup_file(owner, label, subdir, fname, audience)
        if hit:
            return send_blob(blob_key_for(hit["sha256"]), fname, hit["sha256"])
    raise NotFound(f"{fname} not found")


def _valid_token(token: str) -> bool:
    return 0 < len(token) <= 200 and all(c.isascii() and (c.isalnum() or c == "-") for c in token)


def _index(owner: str, label: str, subdir: str, fname: str, audience: str):
    settings = current_app.config["WHARF_SETTINGS"]
    meta = cache().get_meta((owner, label, subdir, audience),
                            lambda: clients().indexer.get_index(owner, label, subdir, audience))
    entry = None
    if meta:
        files = meta.get("files", {})
        entry = files.get(fname) or files.get(f"{audience}/{fname}")
    if entry is None:
        if subdir == "noarch" and fname == "repodata.json":
            data = EMPTY["noarch"]
            import hashlib
            entry = {"sha256": hashlib.sha256(data).hexdigest(), "key": None, "size": len(data), "data": data}
        else:
            raise NotFound(f"{subdir}/{fname} not found")
    cache_control = f"{'private' if audience == 'private' else 'public'}, max-age={settings.index_max_age}"
    if entry["sha256"] in request.if_none_match:
        resp = Response(status=304)
        resp.set_etag(entry["sha256"])
        resp.headers["Cache-Control"] = cache_control
        resp.vary.add("Authorization")
        return resp
    data = entry.get("data") or cache().get_bytes(entry["sha256"], lambda: _load(entry["key"]))
    resp = Response(data, mimetype=INDEX_FILES[fname])
    resp.set_etag(entry["sha256"])
    resp.headers["Cache-Control"] = cache_control
    resp.vary.add("Authorization")
    return resp.make_conditional(request, accept_ranges=True, complete_length=len(data))


def _load(key: str) -> bytes:
    storage = clients().storage
    url = storage.blob_url(key, None, True)
    if url:
        import requests
        r = requests.get(url, timeout=(5, 60))
        r.raise_for_status()
        return r.content
    with storage.open_blob(key) as f:
        return f.read()
