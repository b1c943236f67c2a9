"""Logging setup shared by every process: plain text (default) or one JSON object per line
(``WHARF_LOG_FORMAT=json``) with ``time``, ``level``, ``service``, ``logger``, ``message``, ``correlation_id``
(from context.py, or a record's own ``correlation_id`` extra) and, on errors, ``exc_info``.

``configure(service)`` sets up the root logger of a plain process (gateway, CLI, embedded mode);
``dict_config(service)`` is the same as a ``logging.config.dictConfig`` mapping, for nameko's ``LOGGING``.
"""
from __future__ import annotations

import json
import logging
import logging.config
import re
from datetime import datetime, timezone

from . import context
from .settings import LogSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"

# credentials that could reach a log line: a token in a conda/PyPI path (/t/<token>/), a Wharf token (wt-<48 hex>)
# or web session secret (ws-...) anywhere, the value of an Authorization header, a password in a URI
# (amqp://user:pw@host)
_SECRETS = (
    (re.compile(r"(/t/)[^/\s?#'\"]+"), r"\1<token>"),
    (re.compile(r"\b(w[ts]-)[0-9A-Za-z_-]{8,}"), r"\1<redacted>"),     # API tokens, web session secrets
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:token|bearer|basic)\s+)[^\s'\",;]+"), r"\1<redacted>"),
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1**@"),
)


def redact(text: str) -> str:
    """``text`` without the credentials a log line must never carry (see ``_SECRETS``)."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """On every handler of every process: the record's message and exception text go out redacted, whatever
    the formatter (Wharf's, gunicorn's, a test's). Tokens never appear in logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        cid = getattr(record, "correlation_id", None)
        if isinstance(cid, str):
            record.correlation_id = redact(cid)
        return True


class CorrelationFilter(logging.Filter):
    """Gives every record ``service`` and ``correlation_id`` attributes (the record's own extra wins)."""

    def __init__(self, service: str = "wharf"):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = context.current() or "-"
        if not hasattr(record, "service"):
            record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        cid = getattr(record, "correlation_id", None)
        if cid is None:
            cid = context.current()
        doc = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname,
            "service": getattr(record, "service", None) or "wharf",
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": None if cid in (None, "-") else cid,
        }
        if record.exc_info or record.exc_text:
            doc["exc_info"] = redact(record.exc_text or self.formatException(record.exc_info))
        doc["message"] = redact(doc["message"])
        return json.dumps(doc, ensure_ascii=False, default=str)


def dict_config(service: str, level: str | None = None, fmt: str | None = None) -> dict:
    """``level`` and ``fmt`` default to ``LogSettings.from_env()`` (``WHARF_LOG_LEVEL``, ``WHARF_LOG_FORMAT``;
    an unusable value is a ``ConfigurationError``)."""
    if level is None or fmt is None:
        from_env = LogSettings.from_env()
        level, fmt = level or from_env.level, fmt or from_env.format
    formatter = {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation": {"()": f"{__name__}.CorrelationFilter", "service": service},
                    "redact": {"()": f"{__name__}.RedactingFilter"}},
        "formatters": {"wharf": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "wharf",
                                 "filters": ["correlation", "redact"]}},
        "root": {"level": level, "handlers": ["console"]},
        # alembic says at INFO which plugins it set up and which DDL mode it assumes, a dozen lines per command
        # (a migration that ran is logged once by services/kernel/adapters/migrations.py); pika, 7 lines per
        # connection of an event publisher
        "loggers": {"alembic": {"level": "WARNING"}, "pika": {"level": "WARNING"}},
    }


def last_resort_handler(service: str = "wharf") -> logging.Handler:
    """What ``logging.lastResort`` becomes (services/__init__.py): records logged before a process configured
    logging (a library's warning at import time) are written in the process's format, at WARNING and above."""
    settings = LogSettings.from_env(strict=False)      # importing `services` never fails on a setting
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.addFilter(CorrelationFilter(settings.service or service))
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


class UntilConfigured(logging.Handler):
    """Hands a record to ``logging.lastResort`` while the root logger has no handler (the process has not
    configured logging yet); afterwards it does nothing and the record propagates to the configured handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers and logging.lastResort is not None:
            if record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)


def configure(service: str, level: str | None = None, fmt: str | None = None) -> None:
    logging.config.dictConfig(dict_config(service, level, fmt))
    logging.captureWarnings(True)     # warnings (e.g. library deprecations) become log lines in the same format
