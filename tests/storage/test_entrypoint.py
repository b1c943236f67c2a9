"""The nameko ``storage`` service as a real subprocess over RabbitMQ, with blobs in S3 (moto's server)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from nameko.exceptions import RemoteError, UnknownService
from tests.helpers.rpc import MessageProxy

from services.kernel import errors, signing
from tests.helpers.packages import make_conda_package, make_wheel

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.rabbitmq, pytest.mark.processes]


@pytest.fixture
def storage_rpc(amqp_vhost_uri, s3_settings, tmp_path):
    env = dict(os.environ,  # no metrics endpoint: a port in use would stop the service
               WHARF_METRICS_PORT="0", WHARF_MODE="distributed", WHARF_SECRET_KEY="entrypoint-secret",
               WHARF_DATA_DIR=str(tmp_path / "data"), WHARF_PUBLIC_URL="http://wharf.test:9000",
               WHARF_BLOB_BACKEND="s3", WHARF_S3_ENDPOINT=s3_settings["s3_endpoint"],
               WHARF_S3_ACCESS_KEY=s3_settings["s3_access_key"], WHARF_S3_SECRET_KEY=s3_settings["s3_secret_key"],
               WHARF_S3_BUCKET=s3_settings["s3_bucket"])
    log_path = tmp_path / "storage.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.nameko_main", "run",
                                 "services.storage.entrypoints.service:StorageRpc",
                                 "--broker", amqp_vhost_uri], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        with MessageProxy({"AMQP_URI": amqp_vhost_uri}, timeout=30) as proxy:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"nameko run exited with {proc.returncode}:\n{log_path.read_text()}")
                try:
                    proxy.storage.staging_url("probe")
                    break
                except UnknownService:
                    if time.monotonic() > deadline:
                        pytest.fail(f"storage service did not answer:\n{log_path.read_text()}")
                    time.sleep(0.3)
            yield proxy
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _remote(call):
    """Run an RPC call that must fail; return the domain error rebuilt the way the gateway does."""
    with pytest.raises(RemoteError) as info:
        call()
    return errors.from_remote(info.value.exc_type, info.value.value)


def test_upload_through_presigned_put_then_finalize(storage_rpc, s3_store, tmp_path):
    form = storage_rpc.storage.upload_form("dist-e2e")
    assert form["post_url"] == "http://wharf.test:9000/api/_upload"
    assert list(form["form_data"]) == ["key", "policy", "signature", "success_action_status", "Content-Type"]
    assert storage_rpc.storage.check_upload(form["form_data"])["dist_id"] == "dist-e2e"
    forged = dict(form["form_data"], signature="0" * 64)
    assert isinstance(_remote(lambda: storage_rpc.storage.check_upload(forged)), errors.Forbidden)

    path = make_conda_package(tmp_path / "pkgs", "foo", "1.0", subdir="linux-64", fmt=".tar.bz2")
    data = path.read_bytes()
    url = storage_rpc.storage.staging_url("dist-e2e")
    assert url and requests.put(url, data=data, timeout=30).status_code == 200
    digest = hashlib.sha256(data).hexdigest()

    meta = storage_rpc.storage.finalize("dist-e2e", "alice", "foo", "1.0", f"linux-64/{path.name}", "conda",
                                        digest)
    assert meta["blob_key"] == signing.blob_key_for(digest) and meta["size"] == len(data)
    assert meta["record"]["subdir"] == "linux-64" and meta["record"]["sha256"] == digest
    with s3_store.open(meta["blob_key"]) as f:
        assert f.read() == data
    assert s3_store.stat(signing.staging_key_for("dist-e2e")) == len(data)    # until the commit
    storage_rpc.storage.drop_stage("dist-e2e")
    assert s3_store.stat(signing.staging_key_for("dist-e2e")) is None

    r = requests.get(storage_rpc.storage.blob_url(meta["blob_key"], path.name), timeout=30)
    assert r.status_code == 200 and r.content == data


def test_refusals_travel_as_domain_errors(storage_rpc, s3_store, tmp_path):
    err = _remote(lambda: storage_rpc.storage.finalize("nothing-here", "alice", "foo", "1.0",
                                                       "noarch/foo-1.0-0.conda", "conda"))
    assert type(err) is errors.NotFound and "nothing was uploaded" in str(err)

    wheel = make_wheel(tmp_path / "pkgs", "foo", "1.0")
    url = storage_rpc.storage.staging_url("dist-bad")
    assert requests.put(url, data=wheel.read_bytes(), timeout=30).status_code == 200
    err = _remote(lambda: storage_rpc.storage.finalize("dist-bad", "alice", "bar", "1.0", wheel.name, "pypi"))
    assert isinstance(err, errors.InvalidPackage) and "'bar'" in str(err)
    assert list(s3_store.keys("")) == []
