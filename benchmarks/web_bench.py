"""Time every web UI page on a namespace with hundreds of packages (prints figures; not a test).

    .venv/bin/python benchmarks/web_bench.py [--packages 300] [--versions 40] [--rounds 30]
    .venv/bin/python benchmarks/web_bench.py --url http://127.0.0.1:8080   # a running Wharf, over HTTP

Builds an embedded Wharf in a temporary directory (SQLite, local blobs), creates a user and an organization,
uploads ``--packages`` real conda packages (a third of them private) through the API, plus one package with
``--versions`` versions in two labels, then requests each page ``--rounds`` times in-process (Flask test client:
the gateway and service code, no socket) as an anonymous browser and as the signed-in owner, and prints the
median, p95 and max per page. The target is under 100 ms per page.

With ``--url`` it times a running Wharf (embedded or distributed) over HTTP instead; the user ``bench`` (password
``bench-pw-12345``) and the organization ``benchorg`` (owned by bench) must exist (``wharf user create`` /
``wharf org create``); the packages are uploaded through the API on the first run.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.embedded import Embedded  # noqa: E402
from services.gateway.app import create_app  # noqa: E402
from services.kernel.settings import Settings  # noqa: E402
from tests.helpers.packages import make_conda_package  # noqa: E402

PW = "bench-pw-12345"


def upload(api, h, owner, path: Path, package, version, labels, public=True):
    if api.get(f"/api/package/{owner}/{package}", headers=h).status_code == 404:
        api.post(f"/api/package/{owner}/{package}", headers=h,
                 json={"public": public, "public_attrs": {"summary": f"{package}: a benchmark package",
                                                          "license": "MIT"}})
    if api.get(f"/api/release/{owner}/{package}/{version}", headers=h).status_code == 404:
        api.post(f"/api/release/{owner}/{package}/{version}", headers=h, json={})
    data = path.read_bytes()
    basename = f"noarch/{path.name}"
    st = api.post(f"/api/stage/{owner}/{package}/{version}/{basename}", headers=h,
                  json={"distribution_type": "conda", "sha256": hashlib.sha256(data).hexdigest(),
                        "channels": labels}).get_json()
    fields = dict(st["form_data"])
    fields["Content-Length"] = str(len(data))
    fields["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
    fields["file"] = (io.BytesIO(data), path.name)
    post_url = st["post_url"] if isinstance(api, HttpClient) else "/api/_upload"
    assert api.post(post_url, data=fields, content_type="multipart/form-data").status_code == 201
    r = api.post(f"/api/commit/{owner}/{package}/{version}/{basename}", headers=h, json={"dist_id": st["dist_id"]})
    assert r.status_code == 200, r.get_data(as_text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=300)
    ap.add_argument("--versions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--data", help="reuse (or create and keep) this data directory instead of a temporary one")
    ap.add_argument("--profile", help="profile this page (as the owner) instead of timing every page")
    ap.add_argument("--url", help="time this running Wharf over HTTP instead of an in-process one")
    ap.add_argument("--mode", choices=("inprocess", "distributed"), default="inprocess",
                    help="distributed: start the five services as processes (PostgreSQL, RabbitMQ, moto S3, as "
                         "benchmarks/channel_bench.py does) and time them over HTTP")
    args = ap.parse_args()
    if args.mode == "distributed":
        return run_distributed(args)
    if args.url:
        http = HttpClient(args.url)
        if len(http.session.get(args.url + "/api/packages/bench", timeout=30).json()) < args.packages:
            setup(None, http, args, Path(tempfile.mkdtemp(prefix="wharf-web-bench-")))
        run(None, args, lambda: HttpClient(args.url))
        return
    tmp = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="wharf-web-bench-"))
    reuse = (tmp / "data" / "registry.db").exists()
    settings = Settings(data_dir=str(tmp / "data"))
    e = Embedded(settings, start_threads=False)
    app = create_app(e.clients, settings)
    if not reuse:
        setup(e, app, args, tmp)
    run(app, args, app.test_client)


def run_distributed(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from channel_bench import distributed_infra, free_port, start_wharf
    tmp = Path(tempfile.mkdtemp(prefix="wharf-web-bench-dist-"))
    port = free_port()
    infra = distributed_infra(tmp, port)
    w = None
    try:
        w = start_wharf("distributed", tmp, port, infra.env)
        w.cli("user", "create", "bench", "--password", PW)
        w.cli("org", "create", "benchorg", "--owner", "bench")
        print(f"distributed Wharf at {w.base_url} (logs in {tmp})", flush=True)
        args.url, args.mode = w.base_url, "inprocess"
        http = HttpClient(args.url)
        setup(None, http, args, tmp)
        run(None, args, lambda: HttpClient(args.url))
    finally:
        if w is not None:
            w.stop()
        infra.close()


class HttpClient:
    """The few Flask test client calls this script makes, over HTTP to a running Wharf."""

    def __init__(self, base: str):
        import requests
        self.base, self.session = base.rstrip("/"), requests.Session()

    def get(self, path, headers=None):
        return _Resp(self.session.get(self.base + path, headers=headers or {}, timeout=60, allow_redirects=False))

    def post(self, path, headers=None, json=None, data=None, content_type=None):
        if path.startswith("http"):  # the upload form's post_url
            data = dict(data)
            fobj, fname = data.pop("file")
            return _Resp(self.session.post(path, data=data, files={"file": (fname, fobj)}, timeout=60))
        return _Resp(self.session.post(self.base + path, headers=headers or {}, json=json, data=data, timeout=60,
                                       allow_redirects=False))


class _Resp:
    def __init__(self, r):
        self.r, self.status_code = r, r.status_code

    def get_json(self):
        return self.r.json()

    def get_data(self, as_text=False):
        return self.r.text if as_text else self.r.content


def setup(e, app, args, tmp: Path) -> None:
    if e is not None:
        e.auth.create_user("bench", PW)
        e.auth.create_org("benchorg", "bench")
        e.auth.create_group("benchorg", "devs", "write", "bench")
        api = app.test_client()
        token = e.auth.create_token("bench", PW, note="bench", scopes=["all"])["token"]
    else:
        import requests
        api = app
        token = requests.post(app.base + "/api/authentications", auth=("bench", PW), timeout=30,
                              json={"note": "bench-setup", "scopes": ["all"]}).json()["token"]
    h = {"Authorization": f"token {token}"}
    t0 = time.perf_counter()
    pkgdir = tmp / "pkgs"
    for i in range(args.packages):
        name = f"pkg{i:04d}"
        path = make_conda_package(pkgdir / name, name, "1.0", build="0", subdir="noarch", fmt=".conda")
        upload(api, h, "bench", path, name, "1.0", ["main"], public=i % 3 != 0)
    for v in range(args.versions):
        path = make_conda_package(pkgdir / f"big{v}", "bigpkg", f"1.{v}", build="0", subdir="noarch", fmt=".conda")
        upload(api, h, "bench", path, "bigpkg", f"1.{v}", ["main"] if v % 2 else ["main", "dev"])
    for i in range(20):
        path = make_conda_package(pkgdir / f"org{i}", f"orgpkg{i}", "1.0", build="0", subdir="noarch", fmt=".conda")
        upload(api, h, "benchorg", path, f"orgpkg{i}", "1.0", ["main"])
    print(f"setup: {args.packages + 20} packages, bigpkg with {args.versions} versions, "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


def run(app, args, new_client) -> None:
    anon = new_client()
    owner = new_client()
    page = owner.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert owner.post("/login", data={"login": "bench", "password": PW, "csrf_token": csrf}).status_code == 303

    if args.profile:
        import cProfile
        import pstats
        owner.get(args.profile)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.rounds):
            owner.get(args.profile)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
        return
    pages = ["/", "/search?q=pkg01", "/bench", "/bench/pkg0001", "/bench/pkg0001/files", "/bench/pkg0001/history",
             "/bench/bigpkg", "/bench/bigpkg/files", "/bench/bigpkg/files?label=dev", "/bench/bigpkg/history",
             "/bench/-/labels", "/bench/-/labels/dev", "/benchorg"]
    owner_only = ["/bench/bigpkg/settings", "/bench/pkg0000", "/settings/tokens", "/benchorg/-/members"]
    print(f"{'page':40} {'who':6} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    worst = 0.0
    for who, client, paths in (("anon", anon, pages), ("owner", owner, pages + owner_only)):
        for path in paths:
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (who, path, r.status_code)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            worst = max(worst, p95)
            print(f"{path:40} {who:6} {statistics.median(times):10.1f} {p95:8.1f} {times[-1]:8.1f}", flush=True)
    print(f"worst p95: {worst:.1f} ms (target < 100 ms)")


if __name__ == "__main__":
    main()
