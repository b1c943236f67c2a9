"""The ``web`` blueprint object (routes in pages.py and manage.py), its helpers and its HTML error pages."""
from __future__ import annotations

import copy
import logging
import types
from urllib.parse import quote

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from services.kernel.errors import Unauthorized, WharfError

from . import session as web_session

log = logging.getLogger("wharf.gateway.web")

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")
bp.get_send_file_max_age = lambda filename: 3600  # the stylesheet: cached for an hour, no session work


def _static() -> bool:
    return request.endpoint == "web.static"


MEMO_AUTH = frozenset({"access", "get_user", "grants", "user_orgs", "org_members"})


class _RequestMemo:
    """The auth client with its read-only answers remembered for the rest of one page request: several helpers
    ask for the same role or account, and in the distributed mode each answer is an RPC. Never shared across
    requests (a revocation or a change shows on the next page), and not used for POSTs, which change things."""

    def __init__(self, inner):
        self._inner, self._seen = inner, {}

    def __getattr__(self, name):
        fn = getattr(self._inner, name)
        if name not in MEMO_AUTH:
            return fn

        def call(*args, **kwargs):
            try:
                key = (name, args, tuple(sorted(kwargs.items())))
                hash(key)
            except TypeError:
                return fn(*args, **kwargs)
            if key not in self._seen:
                self._seen[key] = fn(*args, **kwargs)      # errors propagate and are not remembered
            return copy.deepcopy(self._seen[key])          # callers may change what they get
        return call


def clients():
    base = current_app.extensions["wharf.clients"]
    if request.method not in ("GET", "HEAD"):
        return base
    memo = g.get("wharf_web_clients")
    if memo is None:
        memo = g.wharf_web_clients = types.SimpleNamespace(**{**vars(base), "auth": _RequestMemo(base.auth)})
    return memo


def settings():
    return current_app.config["WHARF_SETTINGS"]


@bp.before_request
def _before():
    if _static():
        return
    if request.method == "POST":
        web_session.check_csrf()


@bp.after_request
def _security_headers(resp):
    if _static():
        return resp
    resp.headers.setdefault("Content-Security-Policy",
                            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                            "frame-ancestors 'none'; base-uri 'none'")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if web_session.signed_in():
        resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _error_page(status: int, title: str, message: str):
    return render_template("error.html", status=status, title=title, message=message), status


# for pages served outside the blueprint's URLs (the conda channel page, web/channel.py)
error_page, security_headers = _error_page, _security_headers


@bp.errorhandler(WharfError)
def _domain_error(exc: WharfError):
    if isinstance(exc, Unauthorized) and request.method == "GET":
        return redirect(url_for("web.login", next=quote(request.full_path.rstrip("?"))))
    titles = {400: "Bad request", 401: "Sign in required", 403: "Not allowed", 404: "Not found",
              409: "Conflict", 413: "Too large"}
    return _error_page(exc.status, titles.get(exc.status, "Error"), exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _error_page(exc.code or 500, exc.name, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error_page(500, "Internal error", "Something went wrong on our side; the error was logged.")
