"""The web UI: server-rendered pages (Flask templates, one CSS file, no JavaScript) for browsing and managing
namespaces, packages, labels, tokens and organizations, as anaconda.org's pages do.

URLs never collide with ``/api``, ``/conda``, ``/pypi`` or ``/t/``: namespaces are ``/<owner>`` (those words are
reserved owner names, ``services.kernel.names.RESERVED_OWNERS``), packages ``/<owner>/<package>``, and pages of a
namespace that are not packages live under ``/<owner>/-/...`` (``-`` cannot start a package name).

Who is asking comes from the signed session cookie, which holds the secret of a web session the auth service
created at sign-in (a session token: never accepted as an API token) and revokes at sign-out; every permission decision goes through
``services.gateway.identity`` exactly as the API's does, so a private package is 404 here as everywhere.
"""
from __future__ import annotations

from flask import Flask

from services.kernel.settings import Settings

from . import session as web_session
from .blueprint import bp
from . import pages, manage, account  # noqa: F401,E402 - register the routes on bp


def install(app: Flask, settings: Settings) -> None:
    web_session.configure(app, settings)
    app.register_blueprint(bp)
