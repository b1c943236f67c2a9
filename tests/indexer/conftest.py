import pytest

from services.indexer.adapters.uow import SqlUnitOfWork
from services.indexer.service_layer.service import IndexerService
from services.kernel.adapters.db import make_engine
from services.kernel.adapters.local_blobs import LocalBlobStore
from services.kernel.clock import FakeClock

from .support import CountingBlobs, ListPublisher, RegistryLog


@pytest.fixture
def log():
    return RegistryLog()


@pytest.fixture
def publisher():
    return ListPublisher()


@pytest.fixture
def blobs(tmp_path):
    return CountingBlobs(LocalBlobStore(str(tmp_path / "blobs")))


def make_service(db_url, blobs, publisher, log, clock=None):
    uow = SqlUnitOfWork(make_engine(db_url))
    uow.create_tables()
    return IndexerService(uow, blobs, publisher, log.read_stream, **({"clock": clock} if clock else {}))


@pytest.fixture
def clock():
    """The indexer's clock: it moves only when a test advances it (``clock.advance(seconds)``)."""
    return FakeClock()


@pytest.fixture
def indexer(db_url, blobs, publisher, log, clock):
    """The indexer on SQLite and on PostgreSQL, with local-disk blobs, a list publisher, a fake log and a fake
    clock."""
    return make_service(db_url, blobs, publisher, log, clock)
