"""``create_app(clients, settings)``: the Flask application; no module globals, no backend choices."""
from __future__ import annotations

import uuid

from flask import Flask, g, jsonify, request

from services.kernel.settings import Settings

from . import errors
from .index_cache import IndexCache
from .views import api_auth, api_labels, api_org, api_packages, conda, pypi, upload


def create_app(clients, settings: Settings, index_cache: IndexCache | None = None) -> Flask:
    app = Flask("wharf.gateway")
    app.config["WHARF_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_size + 1024 * 1024
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.extensions["wharf.clients"] = clients
    app.extensions["wharf.index_cache"] = index_cache or IndexCache()
    app.url_map.strict_slashes = False
    errors.install(app)
    for bp in (api_auth.bp, api_packages.bp, api_labels.bp, api_org.bp, upload.bp, conda.bp, pypi.bp):
        app.register_blueprint(bp)

    @app.before_request
    def _correlation():
        g.correlation_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Request-Id", g.get("correlation_id", ""))
        return resp

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
