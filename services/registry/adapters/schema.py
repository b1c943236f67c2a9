"""The registry database's Alembic migrations (script directory ``migrations/``, version table
``alembic_version_registry``); see services/kernel/adapters/migrations.py (``prepare``, ``upgrade``) and
deploy/runbooks/upgrade.md."""
from __future__ import annotations

from services.kernel.adapters.migrations import Schema, script_location

from .tables import metadata

SCHEMA = Schema("registry", script_location(__file__), metadata)
