"""Wiring of the registry: the only place its backends are chosen."""
from __future__ import annotations

from typing import Callable

from services.kernel.adapters.db import make_engine
from services.kernel.ports import EventPublisher
from services.kernel.settings import Settings

from .adapters.unit_of_work import SqlUnitOfWorkFactory
from .service_layer.service import RegistryService


def bootstrap(settings: Settings, publisher: EventPublisher | None = None,
              on_commit: Callable[[], None] | None = None) -> RegistryService:
    """A RegistryService on ``settings.registry_db_url`` (SQLite or PostgreSQL; tables created if missing).
    ``publisher`` is what ``relay_pending`` publishes through (None: relaying raises); ``on_commit`` is called
    after every committed transaction that appended events (the embedded mode wakes its relay thread)."""
    uows = SqlUnitOfWorkFactory(make_engine(settings.registry_db_url))
    return RegistryService(uows, publisher=publisher, on_commit=on_commit)
