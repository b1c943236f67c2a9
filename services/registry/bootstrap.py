"""Wiring of the registry: the only place its backends are chosen."""
from __future__ import annotations

from typing import Callable

from services.kernel.adapters.db import make_engine
from services.kernel.adapters.migrations import prepare
from services.kernel.ports import EventPublisher
from services.kernel.settings import Settings

from .adapters.schema import SCHEMA
from .adapters.unit_of_work import SqlUnitOfWorkFactory
from .service_layer.service import RegistryService


def bootstrap(settings: Settings, publisher: EventPublisher | None = None,
              on_commit: Callable[[], None] | None = None) -> RegistryService:
    """A RegistryService on ``settings.registry_db_url`` (SQLite or PostgreSQL; schema migrated to head at
    start unless ``settings.auto_migrate`` is off, then it must already be at head).
    ``publisher`` is what ``relay_pending`` publishes through (None: relaying raises); ``on_commit`` is called
    after every committed transaction that appended events (the embedded mode wakes its relay thread)."""
    engine = make_engine(settings.registry_db_url)
    prepare(engine, SCHEMA, settings.auto_migrate)
    uows = SqlUnitOfWorkFactory(engine, create_tables=False)
    return RegistryService(uows, publisher=publisher, on_commit=on_commit, stage_ttl=settings.stage_ttl,
                           max_staged=settings.max_staged_uploads)
