"""The runbooks in deploy/runbooks, run as written: each fenced block whose info string names it (```sh NAME)
is extracted from the Markdown and executed with bash against a real Wharf (embedded mode on this machine's
PostgreSQL and moto's S3), with the real anaconda client uploading packages.

- upgrade.md: `wharf migrate --check` reports pending migrations on fresh databases, `wharf migrate all` runs
  them, and a service with WHARF_AUTO_MIGRATE=false then starts.
- backup-restore.md: pg_dump of the three databases and a bucket mirror while Wharf runs; pg_restore into new
  databases, the blobs into a new bucket, `wharf migrate all` + `wharf replay`: a second Wharf on the restored
  copies serves byte-identical repodata and the same package files.
- rebuild-indexes.md: the indexer database emptied, `wharf replay` restores identical indexes.
- rotate-secrets.md: the Secret rendered by `kubectl create secret --dry-run=client` validates and carries every
  key; after a WHARF_SECRET_KEY change an old token is refused and a new login works.
- scale-indexers.md: the KEDA patch applied to the production overlay renders a valid ScaledObject.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import text

from services.kernel.adapters.db import make_engine
from tests.conftest import free_port
from tests.helpers.packages import make_conda_package
from tests.system.clients import AnacondaCLI, wait_for_repodata
from tests.system.harness import VENV_BIN, WHARF, Wharf, base_env, wait_http

from . import k8s_check as k

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "deploy" / "runbooks"


def block(runbook: str, name: str) -> str:
    """The body of the fenced block ```<lang> NAME in deploy/runbooks/<runbook> (indentation removed)."""
    text_ = (RUNBOOKS / runbook).read_text()
    m = re.search(rf"^([ \t]*)```\w+ {re.escape(name)}\n(.*?)^\1```[ \t]*$", text_, re.M | re.S)
    assert m, f"no block {name!r} in {runbook}"
    return textwrap.dedent(m.group(2))


def run_block(runbook: str, name: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", block(runbook, name)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"{runbook} {name} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def test_every_named_block_is_exercised():
    """A named block (```sh NAME) is a promise that this module runs it."""
    source = Path(__file__).read_text()
    for path in RUNBOOKS.glob("*.md"):
        for name in re.findall(r"^[ \t]*```\w+ ([\w-]+)[ \t]*$", path.read_text(), re.M):
            assert f'"{path.name}", "{name}"' in source, f"{path.name}: block {name} is not run by a test"
    assert {p.name for p in RUNBOOKS.glob("*.md")} == {"backup-restore.md", "rebuild-indexes.md",
                                                       "rotate-secrets.md", "scale-indexers.md", "upgrade.md"}


# ------------------------------------------------------------------------------------------- a real Wharf
def site_env(workdir: Path, port: int, dbs: dict, bucket: str, s3_server: str) -> dict:
    env = base_env(workdir)
    env.update(
        WHARF_MODE="embedded", WHARF_DATA_DIR=str(workdir / "data"), WHARF_PUBLIC_URL=f"http://127.0.0.1:{port}",
        WHARF_SECRET_KEY="runbook-secret-" + uuid.uuid4().hex, WHARF_AUTO_MIGRATE="false",
        WHARF_AUTH_DB_URL=dbs["auth"], WHARF_REGISTRY_DB_URL=dbs["registry"], WHARF_INDEXER_DB_URL=dbs["indexer"],
        WHARF_BLOB_BACKEND="s3", WHARF_S3_ENDPOINT=s3_server, WHARF_S3_ACCESS_KEY="testing",
        WHARF_S3_SECRET_KEY="testing", WHARF_S3_BUCKET=bucket, WHARF_S3_SECURE="false", WHARF_INDEX_MAX_AGE="1",
    )
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    return env


def serve(w: Wharf, port: int) -> None:
    w.stop("serve")
    p = w.spawn("serve", ["serve", "--host", "127.0.0.1", "--port", str(port)])
    wait_http(w.api, procs=[p])


class Site:
    def __init__(self, w: Wharf, port: int, dbs: dict, bucket: str):
        self.w, self.port, self.dbs, self.bucket = w, port, dbs, bucket
        self.before: dict[str, bytes] = {}
        self.files: dict[str, str] = {}


def repodata_urls(w: Wharf) -> list[str]:
    urls = [w.conda("alice") + "/noarch/repodata.json", w.conda("alice") + "/linux-64/repodata.json",
            w.conda("alice", "dev") + "/noarch/repodata.json"]
    return urls + [u + ".zst" for u in urls]


def fetch(urls) -> dict[str, bytes]:
    out = {}
    for u in urls:
        r = requests.get(u, timeout=10)
        assert r.status_code == 200, (u, r.status_code)
        out[u] = r.content
    return out


def same_paths(before: dict[str, bytes], base_before: str, base_after: str) -> dict[str, bytes]:
    return {u.replace(base_before, base_after): v for u, v in before.items()}


@pytest.fixture(scope="module")
def site(tmp_path_factory, pg_admin, s3_server):
    workdir = tmp_path_factory.mktemp("runbook-site")
    port = free_port()
    dbs = {svc: pg_admin(f"wharf_rb_{svc}") for svc in ("auth", "registry", "indexer")}
    env = site_env(workdir, port, dbs, f"wharf-rb-{uuid.uuid4().hex[:8]}", s3_server)
    w = Wharf("embedded", f"http://127.0.0.1:{port}", env, workdir)

    # upgrade.md: fresh databases are behind; the services refuse them (WHARF_AUTO_MIGRATE=false) until migrated
    out = run_block("upgrade.md", "migrate-check", env)
    assert "migrations pending" in out.stdout and out.stdout.count("needs migration") == 3
    refused = w.cli("user", "create", "nobody", "--password", "x" * 12, check=False)
    assert refused.returncode != 0 and "wharf migrate auth" in refused.stderr
    out = run_block("upgrade.md", "migrate", env)
    assert len(re.findall(r"none -> \d{4}", out.stdout)) == 3 and out.stdout.count("up to date") == 3

    serve(w, port)
    pkgs = workdir / "pkgs"
    demo = make_conda_package(pkgs / "a", "rbdemo", "1.0", build="0", subdir="noarch", fmt=".conda")
    tool = make_conda_package(pkgs / "b", "rbtool", "2.0", build="0", subdir="linux-64", fmt=".tar.bz2",
                              noarch=None)
    demo2 = make_conda_package(pkgs / "c", "rbdemo", "1.1", build="0", subdir="noarch", fmt=".conda")
    w.cli("user", "create", "alice", "--password", "alice-pw-123", "--email", "alice@example.com")
    alice = AnacondaCLI(w, workdir / "alice-home")
    alice.org("login", "--username", "alice", "--password", "alice-pw-123")
    alice.run("upload", "-u", "alice", str(demo), str(tool))
    alice.run("upload", "-u", "alice", "-l", "dev", str(demo2))
    wait_for_repodata(w.conda("alice") + "/noarch/repodata.json", demo.name)
    wait_for_repodata(w.conda("alice") + "/linux-64/repodata.json", tool.name)
    wait_for_repodata(w.conda("alice", "dev") + "/noarch/repodata.json", demo2.name)
    s = Site(w, port, dbs, env["WHARF_S3_BUCKET"])
    s.before = fetch(repodata_urls(w))
    s.files = {f"/conda/alice/{sub}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
               for sub, p in (("noarch", demo), ("linux-64", tool))}
    yield s
    w.stop()


def download_digests(base_url: str, paths) -> dict[str, str]:
    out = {}
    for path in paths:
        r = requests.get(base_url + path, timeout=30)     # follows the redirect to the presigned S3 URL
        assert r.status_code == 200, (path, r.status_code)
        out[path] = hashlib.sha256(r.content).hexdigest()
    return out


def test_upgrade_leaves_every_database_at_head(site):
    out = run_block("upgrade.md", "migrate-check", site.w.env)
    assert "migrations pending" not in out.stdout and out.stdout.count("up to date") == 3
    assert download_digests(site.w.base_url, site.files) == site.files


def test_backup_restore_and_replay_give_the_same_channels(site, tmp_path, pg_admin, s3_server):
    backup = tmp_path / "backup"
    env = dict(site.w.env, BACKUP_DIR=str(backup))
    run_block("backup-restore.md", "backup-postgres", env)
    assert {p.name for p in backup.glob("*.dump")} == {"AUTH.dump", "REGISTRY.dump", "INDEXER.dump"}
    out = run_block("backup-restore.md", "backup-s3", env)
    assert " 0 failed" in out.stdout
    mirrored = {p.relative_to(backup / "blobs").as_posix() for p in (backup / "blobs").rglob("*") if p.is_file()}
    assert len(mirrored) >= 3
    again = run_block("backup-restore.md", "backup-s3", env)       # re-run: nothing new to copy
    assert "0 copied" in again.stdout

    # restore into new, empty databases and a bucket that does not exist yet; a second Wharf serves them
    port = free_port()
    dbs = {svc: pg_admin(f"wharf_rs_{svc}") for svc in ("auth", "registry", "indexer")}
    renv = site_env(tmp_path / "restored", port, dbs, f"wharf-rs-{uuid.uuid4().hex[:8]}", s3_server)
    renv.update(BACKUP_DIR=str(backup), WHARF_SECRET_KEY=site.w.env["WHARF_SECRET_KEY"])
    run_block("backup-restore.md", "restore-postgres", renv)
    out = run_block("backup-restore.md", "restore-s3", renv)
    assert f"{len(mirrored)} copied" in out.stdout
    out = run_block("backup-restore.md", "restore-finish", renv)
    assert re.search(r"auth: at \d{4}", out.stdout)
    assert re.search(r"replayed \d+ events; published \d+ indexes", out.stdout)

    for svc in ("auth", "registry"):       # the source of truth came back row for row
        assert table_rows(site.dbs[svc]) == table_rows(dbs[svc]), svc
    restored = Wharf("embedded", f"http://127.0.0.1:{port}", renv, tmp_path / "restored")
    try:
        serve(restored, port)
        after = fetch(same_paths(site.before, site.w.base_url, restored.base_url))
        assert after == same_paths(site.before, site.w.base_url, restored.base_url)
        assert download_digests(restored.base_url, site.files) == site.files
        r = requests.post(restored.api + "/authentications", auth=("alice", "alice-pw-123"),
                          json={"note": "after-restore", "scopes": ["all"]}, timeout=10)
        assert r.status_code in (200, 201), r.text                 # accounts came back too
    finally:
        restored.stop()


def table_rows(url: str) -> dict[str, list]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))]
            return {n: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{n}"'))), key=repr) for n in names}
    finally:
        engine.dispose()


def test_rebuild_indexes_after_losing_the_indexer_state(site):
    site.w.stop("serve")
    engine = make_engine(site.dbs["indexer"])
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'indexer_%'"))]
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()
    try:
        serve(site.w, site.port)
        lost = requests.get(site.w.conda("alice") + "/noarch/repodata.json", timeout=10)
        assert lost.status_code == 404 or not lost.json().get("packages.conda"), "the indexes are gone"
    finally:
        site.w.stop("serve")
    out = run_block("rebuild-indexes.md", "replay", site.w.env)
    assert re.search(r"replayed \d+ events; published \d+ indexes", out.stdout)
    serve(site.w, site.port)
    assert fetch(site.before) == site.before


def test_rotating_the_secret_key_invalidates_tokens(site):
    w = site.w
    r = requests.post(w.api + "/authentications", auth=("alice", "alice-pw-123"),
                      json={"note": "before-rotation", "scopes": ["all"]}, timeout=10)
    assert r.status_code in (200, 201), r.text
    old = r.json()["token"]
    hdr = {"Authorization": f"token {old}"}
    assert requests.get(w.api + "/user", headers=hdr, timeout=10).json()["login"] == "alice"
    w.env["WHARF_SECRET_KEY"] = "rotated-" + uuid.uuid4().hex
    serve(w, site.port)
    assert requests.get(w.api + "/user", headers=hdr, timeout=10).status_code == 401
    r = requests.post(w.api + "/authentications", auth=("alice", "alice-pw-123"),
                      json={"note": "after-rotation", "scopes": ["all"]}, timeout=10)
    assert r.status_code in (200, 201), r.text
    new = {"Authorization": f"token {r.json()['token']}"}
    assert requests.get(w.api + "/user", headers=new, timeout=10).json()["login"] == "alice"
    assert fetch(site.before) == site.before                # packages and indexes are untouched


def test_rendered_secret_is_valid_and_complete(tmp_path):
    example = k.load_docs(k.BASE / "secret.example.yaml")[0]["stringData"]
    env_file = tmp_path / "wharf-secrets.env"
    env_file.write_text("".join(f"{key}=rotated-{key.lower()}\n" for key in example))
    out_file = tmp_path / "wharf-secrets.yaml"
    env = dict(os.environ, SECRETS_ENV=str(env_file), SECRETS_YAML=str(out_file))
    k.require_kubectl()
    run_block("rotate-secrets.md", "render-secret", env)
    (secret,) = k.load_docs(out_file)
    k.validate(secret)
    assert (secret["kind"], secret["metadata"]["name"], secret["metadata"]["namespace"]) == \
        ("Secret", "wharf-secrets", "wharf")
    assert set(secret["data"]) == set(example)


def test_keda_patch_from_the_scaling_runbook(tmp_path):
    patch = yaml.safe_load(block("scale-indexers.md", "keda-patch"))
    overlay = tmp_path / "more-indexers"
    overlay.mkdir()
    prod = os.path.relpath(k.OVERLAYS / "production", overlay)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [prod], **patch}))
    objs = k.kustomize_build(overlay)
    (so,) = [o for o in objs if o["kind"] == "ScaledObject"]
    k.validate(so)
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (4, 32)
