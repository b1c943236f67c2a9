"""One table from domain errors to HTTP responses. API errors are JSON objects with an ``error`` key (the
anaconda CLI prints it); the upload receiver answers S3-style XML, which is what the CLI parses there."""
from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from services.kernel.errors import WharfError

log = logging.getLogger("wharf.gateway")


def s3_error(code: str, message: str, status: int) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error>")
    return Response(body, status=status, mimetype="application/xml")


def install(app: Flask) -> None:
    @app.errorhandler(WharfError)
    def _domain(exc: WharfError):
        if request.path.startswith("/api/_upload"):
            return s3_error(exc.code, exc.message, exc.status)
        if request.endpoint == "pypi.legacy_upload":
            # twine shows the HTTP reason phrase, not the body, so the message goes there too (as Warehouse
            # does: ``400 File already exists``, which ``--skip-existing`` recognises)
            reason = "".join(c if 32 <= ord(c) < 127 else " " for c in exc.message)[:200]
            return Response(exc.message + "\n", status=f"{exc.status} {reason}", mimetype="text/plain")
        resp = jsonify(exc.to_dict())
        resp.status_code = exc.status
        if exc.status == 429:
            resp.headers["Retry-After"] = str(getattr(exc, "retry_after", 60))
        return resp

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):
        resp = jsonify({"error": f"invalid request: {exc.messages}", "code": "BadRequest"})
        resp.status_code = 400
        return resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if request.path.startswith("/api/_upload"):
            return s3_error("InvalidRequest", exc.description or exc.name, exc.code or 400)
        resp = jsonify({"error": exc.description or exc.name, "code": exc.name.replace(" ", "")})
        resp.status_code = exc.code or 500
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        resp = jsonify({"error": "internal server error", "code": "InternalError"})
        resp.status_code = 500
        return resp
