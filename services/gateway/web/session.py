"""Browser sessions and CSRF protection.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when ``WHARF_WEB_SECURE_COOKIE``), keyed
by a key derived from ``WHARF_SECRET_KEY``. It is signed, not encrypted, so it holds nothing worth stealing
beyond the browser session itself: signing in checks the password with the auth service, which creates a
session (a token of kind ``session``: note ``web-session-…``, scope ``all``, expiring with the cookie) and
keeps only its digest; the cookie holds the session's secret (``sid``), which the auth service accepts only as a
web session (``authenticate_session``), never as an API token for conda, pip or curl. Every request
authenticates it, so revoking it (sign-out, the token page, a password change) ends the session at once.
Every POST must carry the session's CSRF token (a hidden ``csrf_token`` field).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, abort, current_app, g, request, session

from services.kernel.errors import Unauthorized
from services.kernel.settings import Settings

from ..identity import Reader, current_reader

SESSION_NOTE_PREFIX = "web-session-"
CSRF_FIELD = "csrf_token"
SESSION_KEY = "sid"


def configure(app: Flask, settings: Settings) -> None:
    if not app.secret_key:
        app.secret_key = hmac.new(settings.secret_key.encode(), b"wharf web session cookie",
                                  hashlib.sha256).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME="wharf_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web_secure_cookie,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.web_session_max_age),
    )

    @app.context_processor
    def _web_context():
        return {"csrf_token": csrf_token, "me": g.get("wharf_reader") or Reader(),
                "public_url": settings.public_url}


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return tok


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf", "")
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form's security token is missing or stale; reload the page and try again.")


def clients():
    return current_app.extensions["wharf.clients"]


def reader() -> Reader:
    """The reader behind this browser: the session's secret, authenticated by the access gate (access.py,
    credential SESSION) as a web session (never as an API token); an ended or expired session reads as signed
    out."""
    return current_reader()


def signed_in() -> bool:
    r = g.get("wharf_reader")
    return r is not None and not r.anonymous


def sign_in(login: str, password: str) -> dict:
    """Check the password and create the session; Unauthorized on a bad login or password."""
    max_age = current_app.config["WHARF_SETTINGS"].web_session_max_age
    created = clients().auth.create_session(login, password, max_age, remote_addr=request.remote_addr,
                                            user_agent=(request.user_agent.string or "")[:200] or None)
    session.clear()  # a fresh session (and CSRF token) at every sign-in: no fixation
    session.permanent = True
    session[SESSION_KEY] = created["session"]
    session["login"] = created["user"] if isinstance(created.get("user"), str) else login
    csrf_token()
    return created


def current_session() -> str | None:
    """The session secret this browser presents (None when signed out)."""
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) and value else None


def authenticate(clients_) -> dict:
    """The principal of this browser's session (Unauthorized when it was revoked, expired or never was)."""
    return clients_.auth.authenticate_session(current_session() or "")


def sign_out() -> None:
    sid = current_session()
    if sid:
        try:
            clients().auth.end_session(sid)
        except Unauthorized:
            pass  # already revoked or expired
    session.clear()
