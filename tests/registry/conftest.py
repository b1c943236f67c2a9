"""Fixtures of the registry tests: the real facade on SQLite and PostgreSQL (``db_url``), a list publisher we
own, and helpers to dump every table and to upload a file through stage + commit."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from services.kernel.adapters.db import make_engine
from services.registry.adapters.tables import READ_TABLES, events, staged
from services.registry.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.registry.service_layer.service import RegistryService


class ListPublisher:
    """EventPublisher fake: records what it was given, in order; can be switched to fail."""

    def __init__(self):
        self.published = []
        self.fail: Exception | None = None

    def publish(self, evs):
        if self.fail is not None:
            raise self.fail
        self.published.extend(evs)


class Commits:
    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1


@pytest.fixture
def publisher():
    return ListPublisher()


@pytest.fixture
def commits():
    return Commits()


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def make_registry(engine, publisher, commits):
    made = []

    def make(pub=publisher, on_commit=commits):
        uows = SqlUnitOfWorkFactory(engine)
        made.append(uows)
        return RegistryService(uows, publisher=pub, on_commit=on_commit)
    return make


@pytest.fixture
def registry(make_registry):
    return make_registry()


def dump(engine, tables=READ_TABLES + (staged, events)) -> dict:
    """Every row of the given tables, ordered by primary key (to compare states)."""
    out = {}
    with engine.connect() as conn:
        for t in tables:
            out[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
    return out


def blob_meta(content: bytes, filename: str, subdir=None, record=None, metadata=None) -> dict:
    sha = hashlib.sha256(content).hexdigest()
    return {"blob_key": f"blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}", "sha256": sha,
            "md5": hashlib.md5(content).hexdigest(), "size": len(content), "filename": filename,
            "subdir": subdir, "record": record, "metadata": metadata or {}}


def upload(reg, owner, package, version, basename, dist_type="conda", labels=(), content=None,
           attrs=None, actor="alice", dependencies=None, description=None):
    """stage + commit one file; returns the committed file dict."""
    content = content if content is not None else basename.encode()
    sha = hashlib.sha256(content).hexdigest()
    st = reg.stage(owner, package, version, basename, dist_type, sha, list(labels), attrs or {}, dependencies,
                   description, actor)
    subdir = basename.split("/")[0] if "/" in basename else None
    record = {"name": package, "version": version, "subdir": subdir} if dist_type == "conda" else None
    return reg.commit(st["dist_id"], blob_meta(content, basename.rsplit("/", 1)[-1], subdir, record), actor,
                      correlation_id="req-1")

