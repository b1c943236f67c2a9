import pytest

from tests.conftest import free_port

from .harness import start_distributed, start_embedded


@pytest.fixture(scope="module")
def wharf_extra_env() -> dict:
    """Extra environment of the module's Wharf (a test module overrides this fixture to configure it)."""
    return {}


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def wharf(request, tmp_path_factory, wharf_extra_env):
    workdir = tmp_path_factory.mktemp(f"wharf-{request.param}")
    port = free_port()
    if request.param == "embedded":
        w = start_embedded(workdir, port, wharf_extra_env)
    else:
        amqp = request.getfixturevalue("amqp_vhosts")()
        pg = request.getfixturevalue("pg_admin")
        s3_server = request.getfixturevalue("s3_server")
        import uuid
        s3 = dict(s3_endpoint=s3_server, s3_access_key="testing", s3_secret_key="testing",
                  s3_bucket=f"wharf-{uuid.uuid4().hex[:10]}")
        dbs = {svc: pg(f"wharf_{svc}") for svc in ("auth", "registry", "indexer")}
        w = start_distributed(workdir, port, amqp, dbs, s3, extra_env=wharf_extra_env)
    yield w
    if request.node.session.testsfailed:
        print(w.dump_logs())
    w.stop()
    if request.param == "distributed":
        for url in dbs.values():     # emptied for a later test instead of dropped (tests/conftest.py)
            pg.release(url)
