"""An indexer database created before sharded repodata (no ``indexer_files.name``/``run_exports_json``, no
``indexer_dirty.changed_at``) is upgraded in place by ``create_tables`` and every channel is republished with
its shards; new events apply as usual (SQLite and PostgreSQL)."""
import json

from sqlalchemy import (BigInteger, Boolean, Column, ForeignKey, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, insert)

from services.indexer.domain.records import record_json
from services.kernel.adapters.db import make_engine

from .conftest import make_service
from .support import conda_record, names_in, repodata, shards


def old_schema() -> MetaData:
    md = MetaData()
    Table("indexer_files", md, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("owner", String(200), nullable=False), Column("package", String(200), nullable=False),
          Column("version", String(200), nullable=False), Column("basename", String(300), nullable=False),
          Column("filename", String(300), nullable=False), Column("subdir", String(64), nullable=False),
          Column("public", Boolean, nullable=False), Column("sha256", String(64), nullable=False),
          Column("size", BigInteger, nullable=False), Column("blob_key", String(300), nullable=False),
          Column("record_json", Text, nullable=False),
          UniqueConstraint("owner", "package", "version", "basename", name="uq_indexer_files_ref"))
    Table("indexer_file_labels", md,
          Column("file_id", Integer, ForeignKey("indexer_files.id", ondelete="CASCADE"), primary_key=True),
          Column("label", String(200), primary_key=True))
    Table("indexer_stream_positions", md, Column("stream_id", String(200), primary_key=True),
          Column("last_sequence", Integer, nullable=False))
    Table("indexer_dirty", md, *(Column(c, String(200), primary_key=True) for c in ("owner", "label", "subdir")),
          Column("generation", Integer, nullable=False), Column("published_generation", Integer, nullable=False))
    return md


def test_an_older_database_is_upgraded_and_republished(db_url, blobs, publisher, log):
    md = old_schema()
    engine = make_engine(db_url)
    md.create_all(engine)
    rec = conda_record("zlib", "1.3.1", "h0_1", 1, "linux-64")
    with engine.begin() as conn:
        fid = conn.execute(insert(md.tables["indexer_files"]).values(
            owner="alice", package="zlib", version="1.3.1", basename="linux-64/zlib-1.3.1-h0_1.conda",
            filename="zlib-1.3.1-h0_1.conda", subdir="linux-64", public=True, sha256=rec["sha256"],
            size=rec["size"], blob_key="blobs/x", record_json=record_json(rec, "2026-05-01T12:00:00Z"))
        ).inserted_primary_key[0]
        conn.execute(insert(md.tables["indexer_file_labels"]).values(file_id=fid, label="main"))
        conn.execute(insert(md.tables["indexer_stream_positions"]).values(stream_id="alice", last_sequence=1))
        conn.execute(insert(md.tables["indexer_dirty"]), [
            {"owner": "alice", "label": "main", "subdir": s, "generation": 1, "published_generation": 1}
            for s in ("linux-64", "noarch")])
    engine.dispose()
    log.upload("alice", "zlib", "1.3.1", "linux-64", "h0_1")            # sequence 1: already applied

    service = make_service(db_url, blobs, publisher, log)                 # create_tables() upgrades
    assert {p["subdir"] for p in service.publish_pending()} == {"linux-64", "noarch"}
    got = shards(service, blobs, "alice", "main", "linux-64")
    assert set(got) == {"zlib"} and set(got["zlib"]["packages.conda"]) == {"zlib-1.3.1-h0_1.conda"}
    assert "run_exports" not in got["zlib"]["packages.conda"]["zlib-1.3.1-h0_1.conda"]     # unknown
    assert "repodata_shards.msgpack.zst" in service.get_index("alice", "main", "noarch", "public")["files"]

    service.handle(log.upload("alice", "zlib", "1.3.2", "linux-64", "h0_0"))
    service.publish_pending()
    assert set(shards(service, blobs, "alice", "main", "linux-64")["zlib"]["packages.conda"]) == {
        "zlib-1.3.1-h0_1.conda", "zlib-1.3.2-h0_0.conda"}
    assert len(names_in(repodata(service, blobs, "alice", "main", "linux-64"))) == 2
    assert json.loads(json.dumps(service.get_index("alice", "main", "linux-64", "public")))   # JSON-serialisable
    make_service(db_url, blobs, publisher, log)                           # a second start changes nothing
    assert service.publish_pending() == []
