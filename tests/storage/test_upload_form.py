"""Upload forms (signed, expiring policies), the staging area, size limits and presigned URLs."""
from __future__ import annotations

import base64
import dataclasses
import io
import json

import pytest
import requests

from services.kernel import signing
from services.kernel.errors import BadRequest, Forbidden, PayloadTooLarge
from services.storage.bootstrap import bootstrap
from tests.helpers.packages import make_conda_package

from .conftest import sha256, stage


def test_upload_form_shape(storage, settings):
    form = storage.upload_form("dist-1")
    assert form["post_url"] == "http://wharf.test:8080/api/_upload"
    fd = form["form_data"]
    assert list(fd) == ["key", "policy", "signature", "success_action_status", "Content-Type"]
    assert fd["key"] == "dist-1" and fd["success_action_status"] == "201"
    assert fd["Content-Type"] == "application/octet-stream"
    doc = signing.verify_policy(settings.secret_key, fd["policy"], fd["signature"])
    assert doc["dist_id"] == "dist-1" and doc["max_size"] == settings.max_upload_size
    json.dumps(form)


def test_check_upload_roundtrip(storage, settings):
    fd = storage.upload_form("dist-2")["form_data"]
    assert storage.check_upload(dict(fd)) == {"dist_id": "dist-2", "max_size": settings.max_upload_size}


def _tamper_policy(fd: dict, **changes) -> dict:
    doc = json.loads(base64.urlsafe_b64decode(fd["policy"]))
    doc.update(changes)
    return dict(fd, policy=base64.urlsafe_b64encode(json.dumps(doc, sort_keys=True).encode()).decode())


@pytest.mark.parametrize("tamper", [
    lambda fd: dict(fd, signature="0" * 64),
    lambda fd: dict(fd, signature=""),
    lambda fd: {k: v for k, v in fd.items() if k != "signature"},
    lambda fd: _tamper_policy(fd, max_size=10 ** 15),
    lambda fd: _tamper_policy(fd, dist_id="someone-elses"),
    lambda fd: dict(fd, key="someone-elses"),          # policy intact, key swapped
    lambda fd: dict(fd, policy="!!!"),
], ids=["bad-signature", "empty-signature", "no-signature", "bigger-max-size", "other-dist-in-policy",
        "other-key", "garbage-policy"])
def test_tampered_forms_are_forbidden(storage, tamper):
    fd = storage.upload_form("dist-3")["form_data"]
    with pytest.raises(Forbidden):
        storage.check_upload(tamper(dict(fd)))


def test_form_signed_with_another_secret_is_forbidden(storage, settings):
    other = bootstrap(dataclasses.replace(settings, secret_key="another-secret"), blobs=storage.blobs)
    with pytest.raises(Forbidden, match="signature"):
        storage.check_upload(other.upload_form("dist-4")["form_data"])


def test_expired_form_is_forbidden(storage, settings):
    expired = bootstrap(dataclasses.replace(settings, upload_policy_ttl=-5), blobs=storage.blobs)
    fd = expired.upload_form("dist-5")["form_data"]
    with pytest.raises(Forbidden, match="expired"):
        storage.check_upload(fd)


def test_check_upload_without_a_form(storage):
    with pytest.raises(Forbidden):
        storage.check_upload(None)
    with pytest.raises(Forbidden):
        storage.check_upload({})


@pytest.mark.parametrize("dist_id", ["../x", "a/b", "", "..", "x" * 200, None])
def test_dist_ids_that_could_escape_are_refused(storage, dist_id):
    with pytest.raises(BadRequest):
        storage.upload_form(dist_id)
    with pytest.raises(BadRequest):
        storage.put_staging(dist_id, io.BytesIO(b"x"), 1)
    with pytest.raises(BadRequest):
        storage.staging_url(dist_id)


def test_size_limit_on_staging_and_finalize(blob_store, settings):
    small = bootstrap(dataclasses.replace(settings, max_upload_size=100), blobs=blob_store)
    with pytest.raises(PayloadTooLarge):
        small.put_staging("big", io.BytesIO(b"x" * 101), 101)
    with pytest.raises(PayloadTooLarge):      # a stream that lies about (or omits) its length
        small.put_staging("big", io.BytesIO(b"x" * 101), None)
    assert list(blob_store.keys("")) == []
    small.put_staging("ok", io.BytesIO(b"x" * 100), 100)
    # bytes that reached the stage by another path (presigned PUT) are still bounded at finalize
    blob_store.put(signing.staging_key_for("big"), io.BytesIO(b"x" * 101), 101)
    with pytest.raises(PayloadTooLarge):
        small.finalize("big", "alice", "f", "1", "f-1.txt", "file")
    assert list(blob_store.keys("")) == [signing.staging_key_for("ok")]


def test_staging_url_and_blob_url(storage, blob_store, pkgdir):
    """On S3: PUT to the presigned staging URL, finalize, then GET the presigned blob URL. Local disk: None."""
    path = make_conda_package(pkgdir, "foo", "1.0")
    data = path.read_bytes()
    url = storage.staging_url("dist-6")
    if url is None:
        assert storage.blob_url("blobs/x") is None
        stage(storage, "dist-6", path)
    else:
        r = requests.put(url, data=data, timeout=30)
        assert r.status_code == 200, r.text
    meta = storage.finalize("dist-6", "alice", "foo", "1.0", f"noarch/{path.name}", "conda", sha256(data))
    with storage.open_blob(meta["blob_key"]) as f:
        assert f.read() == data
    get = storage.blob_url(meta["blob_key"], filename=path.name)
    if url is not None:
        r = requests.get(get, timeout=30)
        assert r.status_code == 200 and r.content == data
        assert path.name in r.headers.get("Content-Disposition", "")
