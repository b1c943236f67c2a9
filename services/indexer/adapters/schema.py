"""The indexer database's Alembic migrations (script directory ``migrations/``, version table
``alembic_version_indexer``); see services/kernel/adapters/migrations.py (``prepare``, ``upgrade``) and
deploy/runbooks/upgrade.md."""
from __future__ import annotations

from services.kernel.adapters.migrations import Schema, script_location

from . import pypi_tables  # noqa: F401 - registers the PyPI tables on `metadata`
from .tables import metadata

SCHEMA = Schema("indexer", script_location(__file__), metadata)
