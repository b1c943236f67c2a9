"""bootstrap(): the indexer on S3 (moto's server) and on local disk, chosen by settings.blob_backend."""
from services.indexer.bootstrap import bootstrap
from services.kernel.adapters.s3_blobs import S3BlobStore
from services.kernel.settings import Settings

from .support import ListPublisher, RegistryLog, names_in, repodata


def test_indexer_on_s3(tmp_path, s3_settings):
    settings = Settings(data_dir=str(tmp_path), blob_backend="s3", secret_key="k", **s3_settings)
    log, publisher = RegistryLog(), ListPublisher()
    indexer = bootstrap(settings, publisher=publisher, log_reader=log.read_stream)
    assert isinstance(indexer.blobs, S3BlobStore)     # bucket created by bootstrap
    indexer.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py312_0"))
    indexer.handle(log.upload("alice", "numpy", "2.0.1", "linux-64", "py311_0", public=False))
    assert len(indexer.publish_pending()) == 4
    assert names_in(repodata(indexer, indexer.blobs, "alice", "main", "linux-64", "public")) == {
        "numpy-2.0.1-py312_0.conda"}
    assert len(names_in(repodata(indexer, indexer.blobs, "alice", "main", "linux-64", "private"))) == 2
    keys = list(indexer.blobs.keys("indexes/"))
    # linux-64: public + private, zst (repodata.json's pointer names it) + shard index, one numpy shard each;
    # noarch: one set for both audiences
    assert len(keys) == 2 * 2 + 2 + 2
    assert [e.data for e in publisher.events][-1]["owner"] == "alice"


def test_local_backend_writes_under_the_data_dir(tmp_path, pg_url):
    settings = Settings(data_dir=str(tmp_path), blob_backend="local", indexer_db_url=pg_url)
    log = RegistryLog()
    indexer = bootstrap(settings, log_reader=log.read_stream)
    indexer.handle(log.upload("alice", "tool", "1.0", "noarch", "0"))
    indexer.publish_pending()
    key = indexer.get_index("alice", "main", "noarch", "public")["files"]["repodata.json"]["key"]
    assert (tmp_path / "blobs" / key).is_file()
