"""``create_app(clients, settings)``: the Flask application; no module globals, no backend choices."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider

from services.kernel import context, metrics, strict_json
from services.kernel.settings import Settings

from . import access, errors
from .index_cache import IndexCache
from .views import api_auth, api_labels, api_org, api_packages, conda, pypi, upload
from . import web


RETRY_AFTER_UNAVAILABLE = 5     # seconds a client should wait after a 503 (a backend restarting, S3 unreachable)


class _StrictJSON(DefaultJSONProvider):
    """Request bodies are RFC 8259 JSON: NaN and the infinities are refused (400) like any invalid JSON."""

    def loads(self, s, **kwargs):
        return strict_json.loads(s)


def create_app(clients, settings: Settings, index_cache: IndexCache | None = None) -> Flask:
    app = Flask("wharf.gateway", static_folder=None)   # the web UI's static files are its blueprint's
    app.json = _StrictJSON(app)
    app.config["WHARF_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_size + 1024 * 1024
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.extensions["wharf.clients"] = clients
    app.extensions["wharf.index_cache"] = index_cache or IndexCache()
    app.url_map.strict_slashes = False
    errors.install(app)
    for bp in (api_auth.bp, api_packages.bp, api_labels.bp, api_org.bp, upload.bp, conda.bp, pypi.bp):
        app.register_blueprint(bp)
    web.install(app, settings)  # the browser UI (services/gateway/web)

    access_log = logging.getLogger("wharf.gateway.access")

    @app.before_request
    def _correlation():
        # one id per request: the client's X-Request-Id (or X-Correlation-Id) when sane, else a new one; it goes
        # into every RPC call (nameko header), every event the registry records and every log line
        g.correlation_id = context.accept(request.headers.get("X-Request-Id")
                                          or request.headers.get("X-Correlation-Id"))
        g.correlation_token = context.set_current(g.correlation_id)
        g.started = time.perf_counter()

    @app.before_request
    def _json_body():
        # JSON bodies are small: bounded by WHARF_MAX_JSON_SIZE (413), and a body that claims to be JSON but is
        # not is refused (400) instead of being read as "no body" by views that parse leniently
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.is_json:
            request.max_content_length = settings.max_json_size
            if request.content_length or request.headers.get("Transfer-Encoding"):
                request.get_json()

    access.install(app)   # after the two above: authenticate and decide what kind of operation this may be

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Request-Id", g.get("correlation_id", ""))
        if resp.status_code == 503:     # a backend is down: every path says when to come back
            resp.headers.setdefault("Retry-After", str(RETRY_AFTER_UNAVAILABLE))
        started = g.get("started")
        if started is not None:
            elapsed = time.perf_counter() - started
            route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            metrics.HTTP_REQUESTS.labels(route, request.method, str(resp.status_code)).observe(elapsed)
            access_log.info("%s %s %d %.1fms", request.method, request.path, resp.status_code, elapsed * 1000)
        return resp

    @app.get("/api/openapi.json")
    @access.public
    def openapi():
        from .openapi import build_spec
        if "wharf.openapi" not in app.extensions:
            app.extensions["wharf.openapi"] = build_spec(app)
        return jsonify(app.extensions["wharf.openapi"])

    @app.teardown_request
    def _forget(exc=None):
        token = g.pop("correlation_token", None)
        if token is not None:
            try:
                context.reset(token)
            except ValueError:     # teardown ran in another context (streamed response): nothing to undo
                pass

    @app.get("/healthz")
    @access.public
    def healthz():
        return jsonify({"status": "ok"})

    access.check_declared(app)

    return app
