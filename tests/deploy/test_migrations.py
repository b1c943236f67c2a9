"""Alembic migrations of the three service databases: `wharf migrate` takes fresh SQLite and PostgreSQL databases
to head, the result is exactly the SQLAlchemy metadata (alembic's compare_metadata finds no difference), it is
idempotent, a database created by create_all before Alembic is adopted, and a service told not to migrate
refuses a database that is behind."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from services.auth.adapters.schema import SCHEMA as AUTH
from services.cli import main as wharf
from services.indexer.adapters.schema import SCHEMA as INDEXER
from services.kernel.adapters.db import make_engine
from services.kernel.adapters.migrations import SchemaOutOfDate, status
from services.kernel.settings import Settings
from services.registry.adapters.schema import SCHEMA as REGISTRY

SCHEMAS = {"auth": AUTH, "registry": REGISTRY, "indexer": INDEXER}
ENV = {"auth": "WHARF_AUTH_DB_URL", "registry": "WHARF_REGISTRY_DB_URL", "indexer": "WHARF_INDEXER_DB_URL"}


@pytest.fixture(params=["sqlite", "postgres"])
def db_urls(request, tmp_path, monkeypatch):
    """One fresh database per service, named in the environment `wharf migrate` reads."""
    if request.param == "sqlite":
        urls = {s: f"sqlite:///{tmp_path / s}.db" for s in SCHEMAS}
    else:
        create = request.getfixturevalue("pg_admin")
        urls = {s: create(f"wharf_mig_{s}") for s in SCHEMAS}
    for s, url in urls.items():
        monkeypatch.setenv(ENV[s], url)
    monkeypatch.setenv("WHARF_MODE", "embedded")
    monkeypatch.setenv("WHARF_DATA_DIR", str(tmp_path / "data"))
    return urls


def diff(url: str, schema) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": schema.version_table,
                                                         "compare_type": True, "compare_server_default": False})
            return compare_metadata(ctx, schema.metadata)
    finally:
        engine.dispose()


def revision(url: str, schema):
    engine = make_engine(url)
    try:
        return status(engine, schema)
    finally:
        engine.dispose()


def test_migrate_all_reaches_head_and_matches_the_metadata(db_urls, capsys):
    for service, url in db_urls.items():
        assert revision(url, SCHEMAS[service])[0] is None
        assert diff(url, SCHEMAS[service]), "an empty database must differ from the metadata"
    assert wharf(["migrate", "--check"]) == 1
    assert wharf(["migrate", "all"]) == 0
    out = capsys.readouterr().out
    for service, url in db_urls.items():
        cur, head = revision(url, SCHEMAS[service])
        assert cur == head and f"{service}: none -> {head}" in out
        assert diff(url, SCHEMAS[service]) == [], service
        tables = set(inspect(make_engine(url)).get_table_names())
        assert SCHEMAS[service].version_table in tables
        assert set(SCHEMAS[service].metadata.tables) <= tables
    # idempotent; --check is satisfied
    assert wharf(["migrate"]) == 0
    assert wharf(["migrate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_migrate_one_service_leaves_the_others(db_urls):
    assert wharf(["migrate", "registry"]) == 0
    assert revision(db_urls["registry"], REGISTRY)[0] == REGISTRY.head()
    assert revision(db_urls["auth"], AUTH)[0] is None
    assert revision(db_urls["indexer"], INDEXER)[0] is None


def test_storage_has_no_database_to_migrate(capsys):
    with pytest.raises(SystemExit):
        wharf(["migrate", "storage"])


def test_a_database_made_by_create_all_before_alembic_is_adopted(db_urls):
    for service, url in db_urls.items():
        engine = make_engine(url)
        SCHEMAS[service].metadata.create_all(engine)
        engine.dispose()
    assert wharf(["migrate", "all"]) == 0
    for service, url in db_urls.items():
        assert revision(url, SCHEMAS[service])[0] == SCHEMAS[service].head()
        assert diff(url, SCHEMAS[service]) == []


def test_a_service_without_auto_migrate_refuses_a_database_behind(db_urls):
    from services.auth.bootstrap import bootstrap as auth_bootstrap
    from services.registry.bootstrap import bootstrap as registry_bootstrap
    settings = Settings.from_env(secret_key="k" * 32, auto_migrate=False)
    with pytest.raises(SchemaOutOfDate, match="wharf migrate auth"):
        auth_bootstrap(settings)
    with pytest.raises(SchemaOutOfDate, match="wharf migrate registry"):
        registry_bootstrap(settings)
    assert revision(db_urls["auth"], AUTH)[0] is None      # nothing was created behind the operator's back
    assert wharf(["migrate", "all"]) == 0
    auth = auth_bootstrap(settings)                        # now at head: starts
    assert auth.create_user("alice", "pw-123456789", email="a@example.org")["login"] == "alice"


def test_services_migrate_themselves_by_default(db_urls):
    from services.auth.bootstrap import bootstrap as auth_bootstrap
    auth_bootstrap(Settings.from_env(secret_key="k" * 32))
    assert revision(db_urls["auth"], AUTH)[0] == AUTH.head()
    assert diff(db_urls["auth"], AUTH) == []


def test_each_service_has_its_own_version_table_and_script_directory():
    assert len({s.version_table for s in SCHEMAS.values()}) == 3
    assert len({s.script_location for s in SCHEMAS.values()}) == 3
    for s in SCHEMAS.values():
        assert s.head()


def test_check_wait_returns_once_another_process_migrated(db_urls):
    import threading
    timer = threading.Timer(1.5, lambda: wharf(["migrate", "indexer"]))
    timer.start()
    try:
        assert wharf(["migrate", "indexer", "--check", "--wait", "60"]) == 0
    finally:
        timer.join()
    assert wharf(["migrate", "auth", "--check", "--wait", "1"]) == 1     # nobody migrates auth: gives up
