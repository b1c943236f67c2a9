"""The page a browser gets for a bare conda channel URL (``/conda/<owner>``, ``/conda/<owner>/label/<label>``, asked
with ``Accept: text/html``): how to use the channel with conda, mamba and pixi, its labels, the packages in it
and, for a signed-in reader, the private-token form. Conda clients never ask for those URLs with text/html and
keep getting exactly what they got before (views/conda.py decides; the page is only rendered here).

The reader is the browser's session (the route's credential is chosen per request, access.py); what the page
lists is what that reader may download: public packages, plus the private ones granted to them, so a private
package, or a label only private packages carry, shows nowhere (an empty label looks like a missing one).
"""
from __future__ import annotations

from flask import make_response, render_template, request

from services.kernel import names
from services.kernel.errors import NotFound, WharfError

from ..identity import current_reader, private_packages
from .blueprint import clients, error_page, security_headers, settings

ACTION = "conda:download"


def wanted(rest: str) -> tuple[str, str] | None:
    """(owner, label) when this request is a browser asking for a bare channel URL, else None."""
    if request.method not in ("GET", "HEAD"):
        return None
    parts = rest.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts = parts[:-1]
    if len(parts) == 1 and parts[0] and parts[0] != "t":
        owner, label = parts[0], "main"
    elif len(parts) == 3 and parts[1] == "label" and parts[0] != "t":
        owner, label = parts[0], parts[2]
    else:
        return None
    # a browser prefers HTML; conda, mamba and rattler send */* (or nothing), which stays a channel request
    accept = request.accept_mimetypes
    if accept.best_match(["application/json", "text/html"]) != "text/html" or accept["text/html"] <= 0:
        return None
    return owner, label


def _channel(owner: str, label: str, token: bool = False) -> str:
    base = settings().public_url
    return f"{base}/conda/{'t/<TOKEN>/' if token else ''}{owner}{'' if label == 'main' else '/label/' + label}"


def _path(owner: str, label: str) -> str:
    return f"/conda/{owner}" + ("" if label == "main" else f"/label/{label}")


def _visible_files(owner: str, label: str, whole: bool, allowed: list[str]) -> list[dict]:
    """The conda files carrying ``label`` that this reader may download."""
    files = []
    try:
        files = clients().registry.get_label(owner, label, whole)["files"]
    except NotFound:
        pass
    if allowed:
        try:
            extra = clients().registry.get_label(owner, label, True)["files"]
        except NotFound:
            extra = []
        files += [f for f in extra if not f["public"] and f["package"] in allowed]
    return [f for f in files if f["distribution_type"] == "conda"]


def _visible_labels(owner: str, whole: bool, allowed: list[str]) -> list[str]:
    found = set(clients().registry.list_labels(owner, whole))
    for package in allowed:
        try:
            found |= {lb for f in clients().registry.get_package(owner, package, True)["files"]
                      for lb in f["labels"]}
        except NotFound:
            pass
    return sorted(found, key=lambda lb: (lb != "main", lb))


def page(owner: str, label: str):
    try:
        owner, label = names.owner(owner), names.label(label)
        reader = current_reader()
        whole, allowed = private_packages(clients(), reader, owner, ACTION)   # NotFound for an unknown owner
        account = clients().auth.get_user(owner)
        files = _visible_files(owner, label, whole, allowed)
        packages: dict[str, set] = {}
        for f in files:
            packages.setdefault(f["package"], set()).add(f["version"])
        html = render_template(
            "channel.html", owner=owner, label=label, account=account, channel=_channel(owner, label),
            token_channel=_channel(owner, label, token=True), labels=_visible_labels(owner, whole, allowed),
            packages=sorted(packages.items(), key=lambda kv: kv[0].lower()), channel_of=_channel, path_of=_path,
            example=min(packages, key=str.lower) if packages else "PACKAGE")
        resp = make_response(html)
    except WharfError as exc:
        resp = make_response(error_page(exc.status, {404: "Not found", 400: "Bad request"}.get(exc.status, "Error"),
                                        exc.message))
    resp.vary.update(("Accept", "Cookie"))   # the same URL is a channel to conda: caches must keep them apart
    return security_headers(resp)
