"""Faults under concurrent uploads, distributed mode, real processes (five `wharf run`; a RabbitMQ node and a
PostgreSQL cluster of this module's own, which it really stops and restarts, crash included; moto S3). Every
service reaches S3, RabbitMQ and PostgreSQL through a TCP proxy this module can cut, for network outages. After
each fault and recovery, every upload the clients saw committed is in the index and `wharf verify` is clean
(records have their bytes, indexes equal a replay of the log, no orphan blob). The machine's shared RabbitMQ
and PostgreSQL, which other suites use, are never touched."""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.conftest import free_port
from tests.helpers.packages import make_conda_package

from .api_upload import Uploader, login
from .faults import Load, TcpProxy, all_listed, duplicate_all_events, kill9, respawn, verify
from .harness import start_distributed
from .private_servers import PrivatePostgres, PrivateRabbitMQ

pytestmark = pytest.mark.system
OWNER = "faulty"


@pytest.fixture(scope="module")
def s3_proxy(s3_server):
    proxy = TcpProxy(s3_server)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def private_pg():
    server = PrivatePostgres()
    yield server
    server.close()


@pytest.fixture(scope="module")
def private_rabbit():
    server = PrivateRabbitMQ()
    yield server
    server.close()


@pytest.fixture(scope="module")
def amqp_proxy(private_rabbit):
    proxy = TcpProxy(f"127.0.0.1:{private_rabbit.port}")
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def pg_proxy(private_pg):
    proxy = TcpProxy(f"127.0.0.1:{private_pg.port}")
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def dist(tmp_path_factory, private_pg, s3_proxy, amqp_proxy, pg_proxy, request):
    """Every service reaches S3, RabbitMQ and PostgreSQL through a proxy of this module; the RabbitMQ node and
    the PostgreSQL cluster behind the proxies are this module's own."""
    workdir = tmp_path_factory.mktemp("wharf-faults")
    s3 = dict(s3_endpoint=s3_proxy.address, s3_access_key="testing", s3_secret_key="testing",
              s3_bucket=f"wharf-{uuid.uuid4().hex[:10]}")
    dbs = {svc: private_pg.create_database(f"wharf_{svc}").replace(f"@127.0.0.1:{private_pg.port}/",
                                                                  f"@{pg_proxy.address}/")
           for svc in ("auth", "registry", "indexer")}
    amqp = f"amqp://guest:guest@{amqp_proxy.address}/"
    w = start_distributed(workdir, free_port(), amqp, dbs, s3,
                          extra_env={"WHARF_LOGIN_RATE_ACCOUNT": "1000", "WHARF_LOGIN_RATE_ADDRESS": "1000"})
    w.cli("user", "create", OWNER, "--password", "faulty-pw-123")
    w.token = login(w.base_url, OWNER, "faulty-pw-123")
    w.pkgdir = workdir / "pkgs"
    yield w
    if request.node.session.testsfailed:
        print(w.dump_logs())
    w.stop()


def assert_recovered(dist, load: Load) -> None:
    assert not all_listed(dist, OWNER, load, timeout=180), "committed uploads missing from the index"
    report = verify(dist)
    assert report["ok"], report["problems"]


def test_kill9_indexer_mid_burst(dist):
    load = Load(dist, dist.token, OWNER, dist.pkgdir, threads=4, prefix="idx").start()
    load.wait_for(4)
    kill9(dist, "indexer")
    load.wait_for(len(load.committed) + 8, timeout=60)     # uploads go on without the indexer
    respawn(dist, "indexer")
    load.wait_for(len(load.committed) + 4)
    load.stop()
    assert len(load.committed) >= 16
    assert load.retries == 0, load.errors                   # the indexer is not on the upload path
    assert_recovered(dist, load)


def test_kill9_registry_mid_burst(dist):
    load = Load(dist, dist.token, OWNER, dist.pkgdir, threads=4, prefix="reg", request_timeout=20).start()
    load.wait_for(4)
    kill9(dist, "registry")
    time.sleep(2)
    respawn(dist, "registry")
    load.wait_for(len(load.committed) + 8, timeout=120)
    load.stop()
    assert len(load.committed) >= 12
    assert_recovered(dist, load)


def test_every_event_delivered_twice(dist):
    def pointers():
        return {(p["kind"], p["owner"], p["label"], p["place"], p["audience"], p["filename"]): p["sha256"]
                for p in _indexer_pointers(dist)}
    assert verify(dist)["ok"]
    before = pointers()
    n = duplicate_all_events(dist)
    assert n > 20
    time.sleep(5)
    report = verify(dist)
    assert report["ok"], report["problems"]
    assert pointers() == before           # duplicates changed nothing


def test_two_indexers_on_one_queue(dist):
    respawn(dist, "indexer2", "indexer")
    try:
        load = Load(dist, dist.token, OWNER, dist.pkgdir, threads=4, prefix="two").start()
        load.wait_for(16, timeout=120)
        load.stop()
        assert_recovered(dist, load)
    finally:
        dist.stop("indexer2")


def test_s3_unreachable_gives_503_then_retry_works(dist, s3_proxy, tmp_path):
    up = Uploader(dist.base_url, dist.token, timeout=60)
    pkg = make_conda_package(tmp_path, "s3out", "1.0", subdir="noarch", fmt=".conda")
    assert up.upload(OWNER, "s3out", "1.0", pkg, subdir="noarch").status_code == 200
    dl = f"{dist.base_url}/api/download/{OWNER}/s3out/1.0/noarch/{pkg.name}"
    up.ensure_release(OWNER, "s3out", "2.0")
    pkg2 = make_conda_package(tmp_path / "2", "s3out", "2.0", subdir="noarch", fmt=".conda")
    data2 = pkg2.read_bytes()
    # a private package makes the owner's (private audience) index differ from the public one, byte for byte:
    # the gateway caches index bytes by their hash, so identical bytes would come from its cache
    hidden = make_conda_package(tmp_path / "h", "s3hidden", "1.0", subdir="noarch", fmt=".conda")
    assert up.upload(OWNER, "s3hidden", "1.0", hidden, subdir="noarch", public=False).status_code == 200
    public = f"{dist.base_url}/conda/{OWNER}/noarch/repodata.json"
    deadline = time.monotonic() + 30
    while pkg.name not in requests.get(public, timeout=30).text:     # published (both audiences at once)
        assert time.monotonic() < deadline, "s3out 1.0 was never indexed"
        time.sleep(0.2)
    while True:        # the owner's index lists s3hidden too (read from the indexer's database: never fetched)
        shas = {p["audience"]: p["sha256"] for p in _indexer_pointers(dist)
                if p["kind"] == "conda" and p["owner"] == OWNER and p["place"] == "noarch"
                and p["label"] == "main" and p["filename"] == "repodata.json"}
        if len(set(shas.values())) == 2:
            break
        assert time.monotonic() < deadline, f"s3hidden was never indexed: {shas}"
        time.sleep(0.2)
    s3_proxy.cut()
    try:
        t0 = time.monotonic()
        r = up.upload(OWNER, "s3out", "2.0", pkg2, subdir="noarch")
        took = time.monotonic() - t0
        assert r.status_code == 503, (r.status_code, r.text[:300])
        assert took < 45, f"the 503 took {took:.1f}s"
        # a download is a redirect to S3 (presigning needs no network); the client then cannot connect
        r = requests.get(dl, allow_redirects=False, timeout=30)
        assert r.status_code == 302
        with pytest.raises(requests.ConnectionError):
            requests.get(r.headers["Location"], timeout=10)
        # an index not cached by the gateway: 503 (or the cached copy), never a hang
        t0 = time.monotonic()
        r = requests.get(f"{dist.base_url}/conda/{OWNER}/linux-64/repodata.json", timeout=60)
        assert r.status_code in (200, 404, 503) and time.monotonic() - t0 < 45
        # the owner's (private audience) index was never read, so it is not cached: its bytes are in S3. A 503
        # with Retry-After, not a 500 (issue 15 item 7), and the token of its /t/ path is in no log line
        r = requests.get(f"{dist.base_url}/conda/t/{dist.token}/{OWNER}/noarch/repodata.json", timeout=60)
        assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text[:300])
    finally:
        s3_proxy.restore()
    # the same client retries: a new stage, the same bytes; committed
    r = up.upload(OWNER, "s3out", "2.0", data=data2, basename=f"noarch/{pkg2.name}")
    assert r.status_code == 200, r.text
    assert requests.get(dl, timeout=30).content == pkg.read_bytes()
    report = verify(dist)
    assert report["ok"], report["problems"]
    leaked = [name for name, path in dist.logs.items() if dist.token in path.read_text(errors="replace")]
    assert not leaked, f"the token is written in the logs of {leaked}"


def test_a_storage_that_does_not_answer_is_a_503_at_commit_then_the_retry_commits(dist, tmp_path):
    """The registry's commit_upload calls storage over RPC (finalize, drop_stage): bounded by WHARF_RPC_TIMEOUT.
    A storage process that does not answer (SIGSTOP) makes the commit a 503 within the timeout, the registry
    keeps answering meanwhile, and the same commit goes through once storage answers again (nameko's RpcProxy
    alone would have held the registry's worker for ever)."""
    import os
    import signal

    from .faults import _wait_health_named
    dist.stop("registry")
    dist.spawn("registry", ["run", "registry"], env={"WHARF_INSTANCE_ID": "registry", "WHARF_RPC_TIMEOUT": "3"})
    _wait_health_named(dist, "registry", "registry")
    up = Uploader(dist.base_url, dist.token, timeout=60)
    pkg = make_conda_package(tmp_path, "stalled", "1.0", subdir="noarch", fmt=".conda")
    data, basename = pkg.read_bytes(), f"noarch/{pkg.name}"
    up.ensure_package(OWNER, "stalled")
    up.ensure_release(OWNER, "stalled", "1.0")
    staged = up.stage(OWNER, "stalled", "1.0", basename, data).json()
    assert up.post_form(staged, data).status_code == 201
    storage = dist.procs["storage"]
    os.killpg(storage.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = up.commit(OWNER, "stalled", "1.0", basename, staged["dist_id"])
        assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text[:300])
        assert time.monotonic() - t0 < 30
        dist.cli("health", "registry")      # its workers are not held by the stalled calls
    finally:
        os.killpg(storage.pid, signal.SIGCONT)
    r = up.commit(OWNER, "stalled", "1.0", basename, staged["dist_id"])
    assert r.status_code == 200, r.text
    assert r.json()["basename"] == basename
    dist.stop("registry")                   # the module's other tests get the default timeout again
    dist.spawn("registry", ["run", "registry"], env={"WHARF_INSTANCE_ID": "registry"})
    _wait_health_named(dist, "registry", "registry")
    report = verify(dist)
    assert report["ok"], report["problems"]


def _indexer_pointers(dist):
    from services.indexer.bootstrap import bootstrap
    from services.kernel.settings import Settings
    return bootstrap(Settings.from_env(dict(dist.env)), publisher=None).verify_inventory()["pointers"]


@pytest.mark.parametrize("backend", [
    "rabbitmq",
    "postgresql",
])
def test_broker_or_database_unreachable_during_a_burst(dist, amqp_proxy, pg_proxy, backend):
    """A network outage: every connection Wharf holds to RabbitMQ/PostgreSQL is cut and new ones are refused
    for 5 s while the server itself keeps running."""
    proxy = amqp_proxy if backend == "rabbitmq" else pg_proxy
    load = Load(dist, dist.token, OWNER, dist.pkgdir, threads=4, prefix=f"cut{backend[:2]}",
                request_timeout=30).start()
    load.wait_for(4)
    proxy.cut()
    time.sleep(5)
    proxy.restore()
    done = len(load.committed)
    load.wait_for(done + 8, timeout=180)
    load.stop()
    assert len(load.committed) >= done + 8, f"uploads did not resume after the {backend} outage: {load.errors}"
    assert "500" not in load.errors, f"an outage must be a clear 503, not a 500: {load.samples['500'][:5]}"
    assert_recovered(dist, load)


@pytest.mark.parametrize("backend", [
    "rabbitmq",
    "postgresql",
])
def test_broker_or_database_restarted_during_a_burst(dist, private_rabbit, private_pg, backend):
    """The server process itself goes away mid-burst and comes back from its data directory: the RabbitMQ node
    is shut down and booted again (durable queues and persistent messages survive, transient state does not);
    PostgreSQL is stopped in "immediate" mode, a crash as far as its data goes (no checkpoint, WAL recovery at
    the next start), and started again."""
    load = Load(dist, dist.token, OWNER, dist.pkgdir, threads=4, prefix=f"re{backend[:2]}",
                request_timeout=30).start()
    load.wait_for(4)
    if backend == "rabbitmq":
        private_rabbit.stop()
        time.sleep(3)
        private_rabbit.start()
    else:
        private_pg.stop("immediate")
        time.sleep(3)
        private_pg.start()
    done = len(load.committed)
    load.wait_for(done + 8, timeout=180)
    load.stop()
    assert len(load.committed) >= done + 8, f"uploads did not resume after the {backend} restart: {load.errors}"
    assert "500" not in load.errors, f"a restart must be a clear 503, not a 500: {load.samples['500'][:5]}"
    assert_recovered(dist, load)
