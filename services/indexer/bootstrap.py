"""Wiring of the indexer: the only place its backends are chosen."""
from __future__ import annotations

from services.kernel.adapters.blob_store import make_blob_store
from services.kernel.adapters.db import make_engine
from services.kernel.clock import SystemClock
from services.kernel.ports import BlobStore, Clock, EventPublisher
from services.kernel.settings import Settings

from .adapters.uow import SqlUnitOfWork
from .domain.ports import LogReader
from .service_layer.service import CATCH_UP_LAG, IndexerService


def bootstrap(settings: Settings, publisher: EventPublisher | None = None, log_reader: LogReader | None = None,
              blobs: BlobStore | None = None, clock: Clock | None = None) -> IndexerService:
    """``publisher`` receives ``index_published`` (None: indexes are published without announcing them);
    ``log_reader`` is the registry's ``read_stream`` (None: a gap in a stream waits for redelivery); ``clock``:
    the time the indexer reads (None: the system's; tests pass ``services.kernel.clock.FakeClock``)."""
    uow = SqlUnitOfWork(make_engine(settings.indexer_db_url))
    uow.prepare_schema(settings.auto_migrate)
    return IndexerService(uow, blobs if blobs is not None else make_blob_store(settings), publisher, log_reader,
                          replica=settings.instance_id or None, shard_grace=settings.shard_grace,
                          cache_rows=settings.index_cache_rows, catch_up_lag=CATCH_UP_LAG,
                          partitions=settings.indexer_partitions, clock=clock or SystemClock())
