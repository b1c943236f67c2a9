"""Channel performance benchmark (issue 4): publish latency, burst, replay, serving. Prints figures, never asserts.

    .venv/bin/python benchmarks/channel_bench.py [--records 100000] [--mode distributed|embedded]

What it does, in one run:

1. Packages. ``--records`` tiny but real ``.conda`` files (zip + zstd tars with ``info/index.json``,
   ``info/about.json``, ``info/paths.json``, one payload file; about 1 KB each) are written once into a cache
   directory (``<cache>/linux-64``), 10 versions per name, 3 dependencies each. Every file is inspected by
   storage's own ``inspect_conda`` to get the exact record an upload of it would carry.
2. Seeding (cheap and honest). The first file is uploaded through the registry's real command path
   (create_package, create_release, stage, commit, in process); its events are the templates. For every other
   file the same events (``package_created`` for a new name, ``release_created``, ``file_uploaded``) are
   appended to the registry's event log in bulk, as the registry would have written them (next sequence of
   the owner's stream, marked relayed). Nothing is written to the read tables or the indexer directly: the
   ``wharf replay`` of step 3 builds them from the log. The blobs of the seeded files are not stored (downloads
   are not measured); the measured uploads below store theirs like any upload.
3. Full rebuild: ``wharf replay`` as a child process; wall time and the child's peak RSS (``wait4``).
4. Wharf starts (distributed: ``wharf run`` storage/auth/registry/indexer/gateway on PostgreSQL, RabbitMQ and
   a moto S3 server, as tests/system/harness.py does; embedded: ``wharf serve``).
5. Publish latency: ``--samples`` single uploads through the gateway, the anaconda-client HTTP flow (create
   package, create release, stage, S3-style form POST to ``post_url``, commit); latency = from sending the
   commit until the file is listed both in ``repodata.json`` and in its shard (reached through
   ``repodata_shards.msgpack.zst``), polled through the gateway with ``If-None-Match``.
6. Burst: ``--burst`` uploads by ``--burst-clients`` concurrent clients into the same subdir; time from the
   last commit's answer until all of them are listed in ``repodata.json`` and their shards.
7. Serving: requests per second for ``repodata.json`` answered 200 and 304 (``If-None-Match``) through the
   gateway, and for the same bytes from ``python -m http.server`` (304 via ``If-Modified-Since``), under the
   same concurrent load (``--load-procs`` processes x ``--load-threads`` keep-alive connections).
8. rattler-index: py-rattler ``index_fs`` over the same package directory (initial run, then again after
   adding one package), as a child process (wall time, peak RSS).
9. Replay again (services stopped), reporting whether the published ``repodata.json`` is byte-identical.
"""
from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import dataclasses
import hashlib
import http.client
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgpack  # noqa: E402
import requests  # noqa: E402
import zstandard  # noqa: E402

VENV_BIN = Path(sys.executable).parent
WHARF = str(VENV_BIN / "wharf")
OWNER = "bench"
PASSWORD = "bench-password-1"
SUBDIR = "linux-64"
PKG_TS = 1_700_000_000_000          # fixed index.json timestamp: the cached packages are reproducible

TARGETS = {"publish_p50": 1.0, "publish_p99": 3.0, "burst": 30.0, "replay": 15.0, "replay_rss_mb": 500.0}


# ------------------------------------------------------------------------------------------------ packages
def _tar_zst(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), PKG_TS // 1000, 0o644
            tf.addfile(info, io.BytesIO(data))
    return zstandard.ZstdCompressor(level=3).compress(buf.getvalue())


def make_conda(outdir: Path, name: str, version: str, depends: list[str], build: str = "0") -> Path:
    """A tiny, valid ``.conda`` (CEP-2 layout: metadata.json, info-*.tar.zst, pkg-*.tar.zst, stored zip)."""
    stem = f"{name}-{version}-{build}"
    arch, platform = "x86_64", "linux"
    index = {"arch": arch, "build": build, "build_number": 0, "depends": depends, "license": "MIT",
             "name": name, "platform": platform, "subdir": SUBDIR, "timestamp": PKG_TS, "version": version}
    payload = {f"share/{name}/README.txt": f"{name} {version}\n".encode()}
    paths = [{"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(b).hexdigest(), "size_in_bytes": len(b)}
             for p, b in payload.items()]
    info = {"info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
            "info/about.json": json.dumps({"summary": f"benchmark package {name}", "license": "MIT"}).encode(),
            "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}).encode(),
            "info/files": "".join(p + "\n" for p in payload).encode()}
    target = outdir / f"{stem}.conda"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        zf.writestr(f"pkg-{stem}.tar.zst", _tar_zst(payload))
        zf.writestr(f"info-{stem}.tar.zst", _tar_zst(info))
    return target


def package_spec(i: int, prefix: str = "bench") -> tuple[str, str, list[str]]:
    """The i-th package: 10 versions per name, 3 dependencies."""
    n = i // 10
    return (f"{prefix}-{n:05d}", f"1.0.{i % 10}",
            ["python >=3.8", f"{prefix}-{(n + 1) % 100000:05d}", "zlib >=1.2"])


def inspect(path: Path, name: str, version: str) -> dict:
    """What storage.finalize would return for this file (blob_meta), via storage's own inspection."""
    from services.kernel.signing import blob_key_for
    from services.storage.domain.conda import inspect_conda
    from services.storage.domain.inspection import Digests
    data = path.read_bytes()
    digests = Digests(sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(), size=len(data))
    insp = inspect_conda(io.BytesIO(data), f"{SUBDIR}/{path.name}", name, version, digests)
    return {"blob_key": blob_key_for(digests.sha256), "sha256": digests.sha256, "md5": digests.md5,
            "size": digests.size, "filename": insp.filename, "subdir": insp.subdir, "record": insp.record,
            "metadata": insp.metadata, "name": name, "version": version}


def ensure_packages(cache: Path, n: int) -> tuple[Path, list[dict]]:
    """``cache/channel/linux-64`` holding packages 0..n-1 (made once, reused), and their blob_meta."""
    chan = cache / "channel"
    sub = chan / SUBDIR
    sub.mkdir(parents=True, exist_ok=True)
    meta_file = cache / "meta.jsonl"
    metas: list[dict] = []
    if meta_file.exists():
        with open(meta_file) as f:
            for line in f:
                metas.append(json.loads(line))
                if len(metas) == n:
                    break
    if len(metas) < n:
        t0, before = time.monotonic(), len(metas)
        with open(meta_file, "a") as f:
            for i in range(len(metas), n):
                name, version, depends = package_spec(i)
                meta = inspect(make_conda(sub, name, version, depends), name, version)
                f.write(json.dumps(meta, sort_keys=True) + "\n")
                metas.append(meta)
        print(f"  generated {n - before} packages in {time.monotonic() - t0:.1f} s", flush=True)
    # the channel directory must hold exactly these n packages (rattler-index reads the directory)
    wanted = {m["filename"] for m in metas}
    for p in sub.iterdir():
        if p.suffix == ".conda" and p.name not in wanted:
            p.unlink()
        elif p.suffix != ".conda":
            p.unlink() if p.is_file() else shutil.rmtree(p)
    for p in chan.iterdir():
        if p.name != SUBDIR:
            p.unlink() if p.is_file() else shutil.rmtree(p)
    return chan, metas


# ------------------------------------------------------------------------------------------------ seeding
def seed_registry(settings, metas: list[dict]) -> float:
    """First file through the registry's real commands; the rest as the same events, appended in bulk."""
    from sqlalchemy import insert, select, update

    from services.kernel.adapters.db import make_engine
    from services.registry.adapters.tables import events, streams
    from services.registry.bootstrap import bootstrap as registry_bootstrap

    t0 = time.monotonic()
    reg = registry_bootstrap(settings)
    first = metas[0]
    reg.create_package(OWNER, first["name"], public=True, public_attrs={"summary": "benchmark"}, actor=OWNER)
    reg.create_release(OWNER, first["name"], first["version"], attrs={}, actor=OWNER)
    staged = reg.stage(OWNER, first["name"], first["version"], f"{SUBDIR}/{first['filename']}",
                       distribution_type="conda", sha256=first["sha256"], labels=["main"], actor=OWNER)
    reg.commit(staged["dist_id"], {k: first[k] for k in ("blob_key", "sha256", "md5", "size", "filename",
                                                           "subdir", "record", "metadata")}, actor=OWNER)
    templates = {w["type"]: w for w in reg.read_stream(OWNER, 0, 100)}
    assert {"package_created", "release_created", "file_uploaded"} <= set(templates), templates.keys()
    engine = make_engine(settings.registry_db_url)
    with engine.begin() as conn:
        seq = conn.execute(select(streams.c.last_sequence).where(streams.c.stream_id == OWNER)).scalar_one()
        start = datetime.now(timezone.utc) - timedelta(days=1)
        rows: list[dict] = []
        prev_name = first["name"]

        def add(kind: str, data: dict, when: datetime):
            nonlocal seq
            seq += 1
            t = templates[kind]
            rows.append({"event_id": uuid.uuid4().hex, "stream_id": OWNER, "sequence": seq, "type": kind,
                         "version": t["version"], "actor": t["actor"], "correlation_id": None,
                         "occurred_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                         "data": json.dumps(data), "published": True})

        for i, m in enumerate(metas[1:], start=1):
            when = start + timedelta(milliseconds=i)
            if m["name"] != prev_name:
                d = dict(templates["package_created"]["data"], package=m["name"])
                add("package_created", d, when)
                prev_name = m["name"]
            add("release_created", dict(templates["release_created"]["data"], package=m["name"],
                                        version=m["version"]), when)
            d = dict(templates["file_uploaded"]["data"])
            d.update(package=m["name"], version=m["version"], basename=f"{SUBDIR}/{m['filename']}",
                     filename=m["filename"], blob_key=m["blob_key"], sha256=m["sha256"], md5=m["md5"],
                     size=m["size"], record=m["record"], metadata=m["metadata"])
            add("file_uploaded", d, when)
            if len(rows) >= 2000:     # RETURNING: multi-row INSERTs instead of one statement per row
                conn.execute(insert(events).returning(events.c.position), rows).all()
                rows.clear()
        if rows:
            conn.execute(insert(events).returning(events.c.position), rows).all()
        conn.execute(update(streams).where(streams.c.stream_id == OWNER).values(last_sequence=seq))
    engine.dispose()
    return time.monotonic() - t0


# ------------------------------------------------------------------------------------------------ processes
def free_port() -> int:
    from tests.conftest import free_port as below_ephemeral_range   # the tests' port picker (no bind race)
    return below_ephemeral_range()


@dataclasses.dataclass
class Child:
    wall: float      # seconds
    cpu: float       # user + system CPU seconds of the child (less sensitive to other load on the machine)
    rss: float       # peak resident set size, MB
    rc: int

    def __str__(self) -> str:
        return f"{self.wall:.1f} s (CPU {self.cpu:.1f} s), peak RSS {self.rss:.0f} MB" + \
            ("" if self.rc == 0 else f" (exit {self.rc})")


def run_measured(args: list[str], env: dict, cwd: Path, log: Path) -> Child:
    """Run a child to completion and measure it (``wait4`` gives its own resource usage).

    Peak RSS: a child's ``ru_maxrss`` starts at this (large) process's resident size, because the high-water
    mark survives the fork and the exec, so it would report the benchmark's own memory. GNU time, when
    present, is a small process whose own child starts from a small one: its ``%M`` is the command's peak."""
    t0 = time.monotonic()
    gnu_time = Path("/usr/bin/time")
    rss_file = log.with_suffix(".maxrss")
    if gnu_time.exists():
        args = [str(gnu_time), "-f", "%M", "-o", str(rss_file), *args]
    with open(log, "wb") as out:
        p = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(p.pid, 0)
    rss = usage.ru_maxrss / 1024.0
    if gnu_time.exists() and rss_file.exists():
        last = rss_file.read_text().strip().splitlines()[-1:]      # "Command exited with ..." may come first
        if last and last[0].isdigit():
            rss = int(last[0]) / 1024.0
    return Child(time.monotonic() - t0, usage.ru_utime + usage.ru_stime, rss, os.waitstatus_to_exitcode(status))


@dataclasses.dataclass
class Infra:
    env: dict
    cleanups: list

    def close(self) -> None:
        """Undo the set-up, last first, as far as it goes (a failed step is reported, the others still run)."""
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - clean up as much as possible
                print(f"cleanup: {exc}", file=sys.stderr)


def distributed_infra(workdir: Path, port: int) -> Infra:
    import pg8000.native
    cleanups = []
    pg_host, pg_port, pg_user = "127.0.0.1", 5432, "postgres"
    admin = pg8000.native.Connection(pg_user, host=pg_host, port=pg_port, database="postgres")
    cleanups.append(admin.close)         # first in, so last out: the DROPs below need it open
    dbs = {}
    for svc in ("auth", "registry", "indexer"):
        name = f"wharf_bench_{svc}_{uuid.uuid4().hex[:8]}"
        admin.run(f'CREATE DATABASE "{name}"')
        dbs[svc] = f"postgresql://{pg_user}@{pg_host}:{pg_port}/{name}"
        cleanups.append(lambda n=name: admin.run(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
    vhost = f"wharf-bench-{uuid.uuid4().hex[:8]}"
    ctl = shutil.which("rabbitmqctl")
    amqp = "amqp://guest:guest@127.0.0.1:5672/"
    if ctl and subprocess.run([ctl, "add_vhost", vhost], capture_output=True, timeout=60).returncode == 0:
        subprocess.run([ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True,
                       timeout=60, check=True)
        amqp = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        cleanups.append(lambda: subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60))
    s3_port = free_port()
    moto = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
                            stdout=open(workdir / "moto.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    cleanups.append(lambda: (os.killpg(moto.pid, signal.SIGTERM), moto.wait(10)))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", s3_port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    from tests.system.harness import base_env
    env = base_env(workdir)
    env.update(
        WHARF_MODE="distributed", WHARF_SECRET_KEY="bench-secret-" + os.urandom(8).hex(),
        WHARF_PUBLIC_URL=f"http://127.0.0.1:{port}", WHARF_GATEWAY_BIND=f"127.0.0.1:{port}",
        WHARF_AMQP_URI=amqp, WHARF_AUTH_DB_URL=dbs["auth"], WHARF_REGISTRY_DB_URL=dbs["registry"],
        WHARF_INDEXER_DB_URL=dbs["indexer"], WHARF_BLOB_BACKEND="s3", WHARF_S3_ENDPOINT=f"127.0.0.1:{s3_port}",
        WHARF_S3_ACCESS_KEY="testing", WHARF_S3_SECRET_KEY="testing", WHARF_S3_BUCKET="wharf-bench",
        WHARF_DATA_DIR=str(workdir / "data"), WHARF_INDEX_MAX_AGE="1")
    return Infra(env, cleanups)


def embedded_infra(workdir: Path, port: int) -> Infra:
    from tests.system.harness import base_env
    env = base_env(workdir)
    env.update(WHARF_DATA_DIR=str(workdir / "data"), WHARF_PUBLIC_URL=f"http://127.0.0.1:{port}",
               WHARF_INDEX_MAX_AGE="1")
    return Infra(env, [])


def start_wharf(mode: str, workdir: Path, port: int, env: dict):
    from tests.system.harness import Wharf, _wait_health, wait_http
    w = Wharf(mode, f"http://127.0.0.1:{port}", env, workdir)
    if mode == "embedded":
        p = w.spawn("serve", ["serve", "--host", "127.0.0.1", "--port", str(port)])
        wait_http(w.api, procs=[p])
        return w
    for svc in ("storage", "auth", "registry", "indexer"):
        w.spawn(svc, ["run", svc])
    for svc in ("storage", "auth", "registry", "indexer"):
        _wait_health(w, svc)
    gw = w.spawn("gateway", ["run", "gateway"])
    wait_http(w.api, procs=[gw])
    return w


# ------------------------------------------------------------------------------------------------ client
class Uploader:
    """The anaconda-client upload flow over HTTP, one requests session per thread."""

    def __init__(self, base: str, token: str):
        self.base, self.headers = base, {"Authorization": f"token {token}"}
        self._local = threading.local()

    @property
    def s(self) -> requests.Session:
        if not hasattr(self._local, "s"):
            self._local.s = requests.Session()
        return self._local.s

    def _ok(self, r: requests.Response, *allowed: int) -> requests.Response:
        if r.status_code not in (200, 201, *allowed):
            raise RuntimeError(f"{r.request.method} {r.url}: {r.status_code} {r.text[:300]}")
        return r

    def upload(self, path: Path, name: str, version: str, new_package: bool) -> tuple[float, float]:
        """Returns (monotonic time the commit was sent, monotonic time it was answered)."""
        api = self.base + "/api"
        if new_package:
            self._ok(self.s.post(f"{api}/package/{OWNER}/{name}", headers=self.headers,
                                 json={"public": True, "public_attrs": {"summary": "benchmark"}}), 409)
        self._ok(self.s.post(f"{api}/release/{OWNER}/{name}/{version}", headers=self.headers,
                             json={"requirements": {}, "announce": False, "description": ""}), 409)
        data = path.read_bytes()
        basename = f"{SUBDIR}/{path.name}"
        st = self._ok(self.s.post(f"{api}/stage/{OWNER}/{name}/{version}/{basename}", headers=self.headers,
                                  json={"distribution_type": "conda", "sha256": hashlib.sha256(data).hexdigest(),
                                        "channels": ["main"], "attrs": {}, "description": None})).json()
        form = dict(st["form_data"])
        form["Content-Length"] = str(len(data))
        form["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        self._ok(self.s.post(st["post_url"], data=form, files={"file": (path.name, data)}))
        t0 = time.monotonic()
        self._ok(self.s.post(f"{api}/commit/{OWNER}/{name}/{version}/{basename}", headers=self.headers,
                             json={"dist_id": st["dist_id"]}))
        return t0, time.monotonic()


_KEY = re.compile(rb'"([^"]+)":\{')


def _listed(body: bytes, pending: set[str]) -> set[str]:
    """Those of ``pending`` listed as keys in a repodata.json body: a search per file for a few (about 10 ms each
    in 38 MB), one scan of every key for more (about 0.1 s; parsing the JSON takes 0.4 s)."""
    if len(pending) <= 8:
        return {fn for fn in pending if f'"{fn}":{{'.encode() in body}
    keys = set(_KEY.findall(body))
    return {fn for fn in pending if fn.encode() in keys}


class Watcher:
    """Polls a channel subdir through the gateway (conditional GETs) and records when each awaited file is
    listed in repodata.json and in its package's shard."""

    def __init__(self, channel_subdir_url: str):
        self.url = channel_subdir_url
        self.s = requests.Session()
        self.etag_repo = self.etag_idx = None
        self.shards: dict[str, bytes] = {}
        self._local = threading.local()

    def _repodata(self):
        h = {"If-None-Match": self.etag_repo} if self.etag_repo else {}
        r = self.s.get(self.url + "/repodata.json", headers=h, timeout=60)
        if r.status_code == 304:
            return None
        r.raise_for_status()
        self.etag_repo = r.headers.get("ETag")
        return r.content

    def _shard_index(self):
        h = {"If-None-Match": self.etag_idx} if self.etag_idx else {}
        r = self.s.get(self.url + "/repodata_shards.msgpack.zst", headers=h, timeout=60)
        if r.status_code == 304:
            return None
        r.raise_for_status()
        self.etag_idx = r.headers.get("ETag")
        return msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(r.content))

    def _shard(self, sha: bytes) -> set | None:
        """The file names a shard lists (None: gone). Called from several threads: a session of its own each."""
        session = getattr(self._local, "s", None) or requests.Session()
        self._local.s = session
        r = session.get(f"{self.url}/shards/{sha.hex()}.msgpack.zst", timeout=60)
        if r.status_code == 404:
            return None      # a newer publish replaced the index that named it: read the index again
        r.raise_for_status()
        doc = msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(r.content))
        return set(doc.get("packages.conda", {})) | set(doc.get("packages", {}))

    def wait(self, files: dict[str, str], timeout: float, interval: float = 0.02) -> dict[str, float]:
        """``files``: filename -> package name. Returns filename -> monotonic time listed in both places.

        The watcher's own work stays out of the figures: a repodata.json is searched once per awaited file only
        for a few files, else scanned once for every key (``_listed``: searching the 38 MB body once per file
        took seconds per poll for the burst's thousand files, and its "all visible" measured that), and the new
        shards an index names are fetched side by side."""
        in_repo: dict[str, float] = {}
        in_shard: dict[str, float] = {}
        by_name: dict[str, list[str]] = {}
        for fn, name in files.items():
            by_name.setdefault(name, []).append(fn)
        deadline = time.monotonic() + timeout
        with cf.ThreadPoolExecutor(8) as pool:
            while time.monotonic() < deadline and (len(in_repo) < len(files) or len(in_shard) < len(files)):
                if len(in_repo) < len(files):
                    body = self._repodata()
                    now = time.monotonic()
                    if body is not None:
                        for fn in _listed(body, files.keys() - in_repo.keys()):
                            in_repo[fn] = now
                if len(in_shard) < len(files):
                    idx = self._shard_index()
                    if idx is not None:
                        pending = {files[fn] for fn in files if fn not in in_shard}
                        todo = {name: sha for name in pending
                                if (sha := idx["shards"].get(name)) is not None and self.shards.get(name) != sha}
                        for (name, sha), listed in zip(todo.items(), pool.map(self._shard, todo.values())):
                            if listed is None:
                                self.etag_idx = None
                                continue
                            self.shards[name] = sha
                            now = time.monotonic()
                            for fn in by_name[name]:
                                if fn not in in_shard and fn in listed:
                                    in_shard[fn] = now
                time.sleep(interval)
        return {fn: max(in_repo[fn], in_shard[fn]) for fn in files if fn in in_repo and fn in in_shard}


# ------------------------------------------------------------------------------------------------ load
def _load_worker(args):
    host, port, path, headers, expect, seconds, threads = args
    stop = time.monotonic() + seconds
    counts = [0] * threads
    errors = [0] * threads

    def loop(k):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while time.monotonic() < stop:
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status == expect:
                    counts[k] += 1
                else:
                    errors[k] += 1
                if r.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.close()

    ts = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts), sum(errors)


def load(url: str, headers: dict, expect: int, seconds: float, procs: int, threads: int) -> tuple[float, int]:
    """Requests per second answered with ``expect`` (and the number of other answers/errors)."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    ctx = multiprocessing.get_context("fork")
    t0 = time.monotonic()
    with ctx.Pool(procs) as pool:
        out = pool.map(_load_worker, [(u.hostname, u.port, u.path, headers, expect, seconds, threads)] * procs)
    elapsed = time.monotonic() - t0
    return sum(c for c, _ in out) / max(elapsed, seconds), sum(e for _, e in out)


# ------------------------------------------------------------------------------------------------ rattler
RATTLER_SCRIPT = """
import asyncio, sys, inspect
from rattler.index import index_fs
r = index_fs(sys.argv[1], write_zst=True, write_shards=True)
if inspect.isawaitable(r):
    asyncio.run(r)
"""


def rattler_index(chan: Path, workdir: Path, extra: Path | None) -> dict:
    out = {}
    for p in list(chan.glob(f"{SUBDIR}/repodata*")) + list(chan.glob("noarch")) + list(chan.glob(f"{SUBDIR}/shards")):
        p.unlink() if p.is_file() else shutil.rmtree(p)
    args = [sys.executable, "-c", RATTLER_SCRIPT, str(chan)]
    out["initial"] = run_measured(args, dict(os.environ), workdir, workdir / "rattler-initial.log")
    if extra is not None:
        shutil.copy(extra, chan / SUBDIR / extra.name)
        try:
            out["add_one"] = run_measured(args, dict(os.environ), workdir, workdir / "rattler-add1.log")
        finally:
            (chan / SUBDIR / extra.name).unlink()
    return out


# ------------------------------------------------------------------------------------------------ main
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000, help="records already in the subdir (default 100000)")
    ap.add_argument("--mode", choices=["distributed", "embedded"], default="distributed")
    ap.add_argument("--samples", type=int, default=30, help="single uploads timed for publish latency")
    ap.add_argument("--burst", type=int, default=1000, help="uploads in the burst")
    ap.add_argument("--burst-clients", type=int, default=8, help="concurrent uploading clients in the burst")
    ap.add_argument("--load-seconds", type=float, default=5.0)
    ap.add_argument("--load-procs", type=int, default=2)
    ap.add_argument("--load-threads", type=int, default=8)
    ap.add_argument("--no-rattler", action="store_true", help="skip the rattler-index comparison")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "wharf-bench-packages"),
                    help="where the generated packages are kept between runs")
    ap.add_argument("--workdir", default=None, help="work directory (default: a new temporary one)")
    args = ap.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="wharf-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache)
    rows: list[tuple[str, str, str]] = []

    def report(name: str, value: str, target: str = "") -> None:
        rows.append((name, value, target))
        print(f"  {name}: {value}" + (f"   (target {target})" if target else ""), flush=True)

    print(f"Wharf channel benchmark: {args.records} records, mode {args.mode}, {os.cpu_count()} cores, "
          f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}", flush=True)
    print("[1] packages", flush=True)
    chan, metas = ensure_packages(cache, args.records)
    extra_dir = cache / "extra"
    extra_dir.mkdir(exist_ok=True)
    n_extra = args.samples + args.burst + 1
    extras = []
    for i in range(n_extra):
        name, version, depends = package_spec(i, prefix="fresh")
        p = extra_dir / f"{name}-{version}-0.conda"
        if not p.exists():
            make_conda(extra_dir, name, version, depends)
        extras.append((p, name, version))
    rdf = sum(len(json.dumps(m["record"])) for m in metas[:1000]) / min(1000, len(metas))
    report("records / package files", f"{len(metas)} in {SUBDIR} ({len(metas) // 10} names, ~{rdf:.0f} B JSON each)")

    port = free_port()
    infra = (distributed_infra if args.mode == "distributed" else embedded_infra)(workdir, port)
    env = infra.env
    w = None
    try:
        from services.kernel.settings import Settings
        settings = Settings.from_env(env)
        print("[2] seeding the registry log", flush=True)
        subprocess.run([WHARF, "user", "create", OWNER, "--password", PASSWORD], env=env, cwd=workdir,
                       check=True, capture_output=True)
        t_seed = seed_registry(settings, metas)
        report("seed (bulk append to the event log)", f"{t_seed:.1f} s")

        print("[3] wharf replay (full rebuild)", flush=True)
        child = run_measured([WHARF, "replay"], env, workdir, workdir / "replay-1.log")
        if child.rc != 0:
            raise RuntimeError("wharf replay failed:\n" + (workdir / "replay-1.log").read_text()[-3000:])
        report(f"replay of {len(metas)} records", str(child),
               f"<= {TARGETS['replay']:.0f} s, <= {TARGETS['replay_rss_mb']:.0f} MB")

        print("[4] starting wharf", flush=True)
        w = start_wharf(args.mode, workdir, port, env)
        tok = requests.post(w.api + "/authentications", auth=(OWNER, PASSWORD),
                            json={"note": "bench", "scopes": ["all"]}, timeout=30)
        tok.raise_for_status()
        up = Uploader(w.base_url, tok.json()["token"])
        sub_url = f"{w.base_url}/conda/{OWNER}/{SUBDIR}"
        t0 = time.monotonic()
        r = requests.get(sub_url + "/repodata.json", timeout=120)
        r.raise_for_status()
        listed = len(r.json()["packages.conda"])
        report("first repodata.json GET (cold cache)",
               f"{time.monotonic() - t0:.2f} s, {len(r.content) / 1e6:.1f} MB, {listed} records")
        if listed != len(metas):
            raise RuntimeError(f"repodata.json lists {listed} records, expected {len(metas)}")
        zst = requests.get(sub_url + "/repodata.json.zst", timeout=120)
        report("repodata.json.zst size", f"{len(zst.content) / 1e6:.2f} MB")

        print("[5] publish latency", flush=True)
        watcher = Watcher(sub_url)
        watcher.wait({}, 0)
        lat, lat_answered, sent_wall = [], [], []
        for p, name, version in extras[:args.samples]:
            sent, answered = up.upload(p, name, version, new_package=True)
            sent_wall.append(time.time() - (time.monotonic() - sent))
            seen = watcher.wait({p.name: name}, timeout=60)
            if p.name not in seen:
                raise RuntimeError(f"{p.name} not visible within 60 s")
            lat.append(seen[p.name] - sent)
            lat_answered.append(seen[p.name] - answered)
        report("publish latency p50 (commit sent -> in repodata.json and shard)", f"{pct(lat, 50):.2f} s",
               f"<= {TARGETS['publish_p50']:.0f} s")
        report("publish latency p99", f"{pct(lat, 99):.2f} s (max {max(lat):.2f} s, n={len(lat)})",
               f"<= {TARGETS['publish_p99']:.0f} s")
        report("  of which commit request", f"p50 {pct([a - b for a, b in zip(lat, lat_answered)], 50):.2f} s")
        flips = _flip_delays(settings, sent_wall)
        if flips:
            report("  commit sent -> index flipped by the indexer (publication log)",
                   f"p50 {pct(flips, 50):.2f} s, p99 {pct(flips, 99):.2f} s (n={len(flips)})")
            report("  index flipped -> seen through the gateway (S3, gateway cache, client download)",
                   f"p50 {pct([t - f for t, f in zip(lat, flips)], 50):.2f} s")

        print("[6] burst", flush=True)
        burst = extras[args.samples:args.samples + args.burst]
        commits = []
        t_start = time.monotonic()
        by_name: dict[str, list] = {}
        for item in burst:
            by_name.setdefault(item[1], []).append(item)

        def one_name(items):   # one client uploads all versions of a name (package created once)
            out = []
            for i, (p, name, version) in enumerate(items):
                out.append(up.upload(p, name, version, new_package=(i == 0)))
            return out
        with cf.ThreadPoolExecutor(args.burst_clients) as ex:
            for res in ex.map(one_name, by_name.values()):
                commits.extend(res)
        last_commit = max(a for _s, a in commits)
        upload_time = last_commit - t_start
        seen = watcher.wait({p.name: name for p, name, _v in burst}, timeout=300)
        missing = len(burst) - len(seen)
        all_visible = max(seen.values()) - last_commit if seen else float("nan")
        report(f"burst: {len(burst)} uploads by {args.burst_clients} clients", f"{upload_time:.1f} s "
               f"({len(burst) / upload_time:.1f} uploads/s)")
        report("burst: all visible after the last commit", f"{all_visible:.2f} s" +
               (f" ({missing} NOT visible after 300 s)" if missing else ""), f"<= {TARGETS['burst']:.0f} s")

        print("[7] serving", flush=True)
        body = requests.get(sub_url + "/repodata.json", timeout=120)
        etag = body.headers["ETag"]
        static_dir = workdir / "static"
        (static_dir / SUBDIR).mkdir(parents=True, exist_ok=True)
        (static_dir / SUBDIR / "repodata.json").write_bytes(body.content)
        sport = free_port()
        static = subprocess.Popen([sys.executable, "-m", "http.server", str(sport), "--bind", "127.0.0.1",
                                   "--directory", str(static_dir)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            from tests.system.harness import wait_http
            static_url = f"http://127.0.0.1:{sport}/{SUBDIR}/repodata.json"
            wait_http(static_url, procs=[static])
            lm = requests.head(static_url, timeout=10).headers["Last-Modified"]
            la = (args.load_seconds, args.load_procs, args.load_threads)
            size_mb = len(body.content) / 1e6
            g200, e1 = load(sub_url + "/repodata.json", {}, 200, *la)
            s200, e2 = load(static_url, {}, 200, *la)
            g304, e3 = load(sub_url + "/repodata.json", {"If-None-Match": etag}, 304, *la)
            s304, e4 = load(static_url, {"If-Modified-Since": lm}, 304, *la)
        finally:
            os.killpg(static.pid, signal.SIGTERM)
            static.wait(10)
        conc = args.load_procs * args.load_threads
        report(f"serving repodata.json 200 ({size_mb:.1f} MB), {conc} connections",
               f"gateway {g200:.1f} req/s, static {s200:.1f} req/s, ratio {_ratio(g200, s200)}"
               + (f" [errors {e1}/{e2}]" if e1 or e2 else ""))
        report(f"serving repodata.json 304, {conc} connections",
               f"gateway {g304:.0f} req/s, static {s304:.0f} req/s, ratio {_ratio(g304, s304)}"
               + (f" [errors {e3}/{e4}]" if e3 or e4 else ""))

        published = _published_sha(settings)
        print("[8] replay again (services stopped) and compare", flush=True)
        w.stop()
        w = None
        total = len(metas) + len(lat) + len(seen)
        child = run_measured([WHARF, "replay"], env, workdir, workdir / "replay-2.log")
        if child.rc != 0:
            raise RuntimeError("wharf replay failed:\n" + (workdir / "replay-2.log").read_text()[-3000:])
        same = _published_sha(settings) == published
        report(f"replay of {total} records (full rebuild)", str(child),
               f"<= {TARGETS['replay']:.0f} s, <= {TARGETS['replay_rss_mb']:.0f} MB")
        report("replayed repodata.json byte-identical", "yes" if same else "NO")
    finally:
        if w is not None:
            w.stop()
        infra.close()

    if not args.no_rattler:
        print("[9] rattler-index (py-rattler index_fs) on the same packages", flush=True)
        rat = rattler_index(chan, workdir, extras[-1][0])
        report(f"rattler index_fs, initial, {len(metas)} packages", str(rat["initial"]))
        report("rattler index_fs after adding one package", str(rat["add_one"]))

    print()
    load1, load5, load15 = os.getloadavg()
    print(f"Results ({len(metas)} records, {args.mode}, {os.cpu_count()} cores, "
          f"{datetime.now(timezone.utc).date()}, load average at the end {load1:.1f}/{load5:.1f}/{load15:.1f}):")
    width = max(len(r[0]) for r in rows)
    vw = max(len(r[1]) for r in rows)
    print(f"  {'figure'.ljust(width)}  {'measured'.ljust(vw)}  target")
    for name, value, target in rows:
        print(f"  {name.ljust(width)}  {value.ljust(vw)}  {target}")
    print(f"  (work directory: {workdir})")
    return 0


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a (static server answered nothing)"


def _flip_delays(settings, sent_wall: list[float]) -> list[float]:
    """For each single upload (sent at ``sent_wall``, epoch s; one at a time, each awaited), seconds until the
    first pointer flip whose newest included change happened after it was sent: the indexer's share of the
    publish latency, read from its publication log (the last 100 flips of the channel are kept)."""
    from services.indexer.bootstrap import bootstrap as indexer_bootstrap
    log = indexer_bootstrap(settings).publication_log(OWNER, "main", SUBDIR)
    out = []
    for sent in sent_wall:
        sent_ms = sent * 1000
        hit = next((p for p in log if p["latency_ms"] is not None
                    and p["published_at"] - p["latency_ms"] >= sent_ms), None)
        if hit is not None:
            out.append((hit["published_at"] - sent_ms) / 1000)
    return out if len(out) == len(sent_wall) else []


def _published_sha(settings) -> str | None:
    from services.indexer.bootstrap import bootstrap as indexer_bootstrap
    idx = indexer_bootstrap(settings)
    got = idx.get_index(OWNER, "main", SUBDIR, "public")
    return got and got["files"]["repodata.json"]["sha256"]


if __name__ == "__main__":
    sys.exit(main())
