import pytest

from services.indexer.adapters.uow import SqlUnitOfWork
from services.indexer.service_layer.service import IndexerService
from services.kernel.adapters.db import make_engine
from services.kernel.adapters.local_blobs import LocalBlobStore

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


def make_service(db_url, blobs, publisher, log):
    uow = SqlUnitOfWork(make_engine(db_url))
    uow.create_tables()
    return IndexerService(uow, blobs, publisher, log.read_stream)


@pytest.fixture
def indexer(db_url, blobs, publisher, log):
    """The indexer on SQLite and on PostgreSQL, with local-disk blobs, a list publisher and a fake log."""
    return make_service(db_url, blobs, publisher, log)
