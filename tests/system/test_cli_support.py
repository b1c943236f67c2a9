"""Helpers shared by the anaconda-CLI system test modules (test_cli_*.py, test_permissions.py,
test_private_leaks.py). It holds no tests; the name only keeps it inside the paths these modules own.

- ``CLI``: ``clients.AnacondaCLI`` that writes the config file itself (what ``anaconda config --set url`` and
  ``--set ssl_verify False`` write) instead of spending two CLI runs on it, and disables the CLI's telemetry
  (``OTEL_SDK_DISABLED``: otherwise every run waits on https://public.telemetry.anaconda.com).
- ``fast_stop``: a module fixture that stops the module's Wharf at its teardown.
- raw API helpers for setup and for exact status codes: ``token``, ``auth``, ``raw_upload``, ``repodata``.
"""
from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests

from .clients import AnacondaCLI
from .harness import VENV_BIN

__all__ = ["CLI", "fast_stop", "create_accounts", "token", "auth", "raw_upload", "repodata", "listed",
           "wait_for_repodata", "sha256_of", "eventually",
           "concurrently", "status"]

TIMEOUT = 30


class CLI(AnacondaCLI):
    """The real ``anaconda`` command with its own HOME, configured for one Wharf."""

    def __init__(self, wharf, home: Path, token: str | None = None):  # noqa: D107 - no super(): no CLI runs
        self.env = dict(wharf.env)
        self.env["HOME"] = str(home)
        self.env["OTEL_SDK_DISABLED"] = "true"
        self.env.pop("ANACONDA_API_TOKEN", None)
        self.home, self.api = Path(home), wharf.api
        cfg = self.home / ".continuum" / "anaconda-client" / "config.yaml"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(f"ssl_verify: false\nurl: {wharf.api}\n")
        if token:
            self.store_token(token)

    def run(self, *args: str, check: bool = True, input: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Like AnacondaCLI.run, but with no controlling terminal (getpass then reads the password from stdin),
        stdin closed unless ``input`` is given (a prompt never waits on the test runner's terminal), and HOME as
        the working directory (``anaconda download`` writes there)."""
        r = subprocess.run([str(VENV_BIN / "anaconda"), *args], env=self.env, capture_output=True, text=True,
                           timeout=300, start_new_session=True, cwd=str(cwd or self.home),
                           **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}))
        if check and r.returncode != 0:
            raise AssertionError(f"anaconda {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def token_files(self) -> list[Path]:
        """Where anaconda-client keeps the token for this API URL (both of its token directories)."""
        name = quote_plus(self.api) + ".token"
        return [self.home / ".config" / "binstar" / name,
                self.home / ".continuum" / "anaconda-client" / "tokens" / name]

    def store_token(self, value: str) -> None:
        """Write the token files exactly as ``anaconda login`` does (so conda would find them too)."""
        for f in self.token_files():
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(value)
            f.chmod(0o600)

    @property
    def token(self) -> str | None:
        for f in self.token_files():
            if f.exists():
                return f.read_text().strip()
        return None

    def out(self, *args: str, **kw) -> str:
        """Run and return stdout + stderr (anaconda-client logs its messages to stderr)."""
        r = self.run(*args, **kw)
        return r.stdout + r.stderr

    def fails(self, *args: str, input: str | None = None, cwd: Path | None = None) -> str:
        r = self.run(*args, check=False, input=input, cwd=cwd)
        assert r.returncode != 0, f"anaconda {' '.join(args)} unexpectedly succeeded:\n{r.stdout}\n{r.stderr}"
        return r.stdout + r.stderr


@pytest.fixture(scope="module")
def fast_stop(wharf):
    """Stop the module's Wharf at teardown, as soon as the module's last test ran (``Wharf.stop`` signals every
    process at once)."""
    yield wharf
    wharf.stop()


def create_accounts(wharf, users: dict[str, str], orgs: dict[str, str] | None = None) -> None:
    """Create users ({login: password}) and organizations ({org: owner}) the way ``wharf user create`` and
    ``wharf org create`` do (the auth facade bootstrapped from the Wharf's environment), but in this process:
    one ``wharf`` run per account costs a second of imports each."""
    from services.auth.bootstrap import bootstrap
    from services.kernel.settings import Settings
    auth_service = bootstrap(Settings.from_env(dict(wharf.env)))
    for login, password in users.items():
        auth_service.create_user(login, password)
    for org, owner in (orgs or {}).items():
        auth_service.create_org(org, owner)


def token(wharf, login: str, password: str, note: str | None = None, **body) -> str:
    """A token from POST /api/authentications (HTTP Basic), e.g. ``scopes=[...]``, ``max_age=1``, ``org=X``."""
    payload = {"note": note or f"test-{os.urandom(4).hex()}"}
    if "max_age" in body:
        payload["max-age"] = body.pop("max_age")
    if "org" in body:
        payload["user"] = body.pop("org")
    payload.update(body)
    r = requests.post(wharf.api + "/authentications", auth=(login, password), json=payload, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def auth(tok: str | None) -> dict:
    return {"Authorization": f"token {tok}"} if tok else {}


def status(wharf, method: str, path: str, tok: str | None = None, **kw) -> int:
    """The status of one raw API call (``path`` under /api) with ``Authorization: token X``: for refusals whose
    CLI run would only repeat what another CLI run in the module already shows."""
    return requests.request(method, wharf.api + path, headers=auth(tok), timeout=TIMEOUT, **kw).status_code


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_upload(wharf, tok: str, owner: str, path: Path, package: str, version: str, basename: str,
               dtype: str = "conda", labels=(), public: bool = True) -> dict:
    """Upload one file through the same calls anaconda-client makes (package/release if missing, stage, the
    signed form POST, commit); for fast fixtures. Returns the commit response."""
    h = auth(tok)
    api = wharf.api
    if requests.get(f"{api}/package/{owner}/{package}", headers=h, timeout=TIMEOUT).status_code == 404:
        r = requests.post(f"{api}/package/{owner}/{package}", headers=h, timeout=TIMEOUT,
                          json={"public": public, "public_attrs": {"summary": f"{package} summary",
                                                                    "package_types": [dtype]}})
        assert r.status_code == 200, r.text
    if requests.get(f"{api}/release/{owner}/{package}/{version}", headers=h, timeout=TIMEOUT).status_code == 404:
        r = requests.post(f"{api}/release/{owner}/{package}/{version}", headers=h, json={}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
    data = Path(path).read_bytes()
    r = requests.post(f"{api}/stage/{owner}/{package}/{version}/{basename}", headers=h, timeout=TIMEOUT,
                      json={"distribution_type": dtype, "sha256": hashlib.sha256(data).hexdigest(),
                            "channels": list(labels)})
    assert r.status_code == 200, r.text
    st = r.json()
    fields = dict(st["form_data"])
    fields["Content-Length"] = str(len(data))
    fields["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
    up = requests.post(st["post_url"], data=fields, files={"file": (basename, data)}, timeout=60)
    assert up.status_code == 201, up.text
    c = requests.post(f"{api}/commit/{owner}/{package}/{version}/{basename}", json={"dist_id": st["dist_id"]},
                      headers=h, timeout=60)
    assert c.status_code == 200, c.text
    return c.json()


def repodata(wharf, owner: str, subdir: str = "noarch", label: str | None = None, tok: str | None = None,
             path_token: bool = False) -> str:
    """The repodata.json URL of a channel, optionally with the conda ``/t/<token>/`` prefix."""
    base = f"{wharf.base_url}/conda/" + (f"t/{tok}/" if path_token and tok else "") + owner
    return base + (f"/label/{label}" if label else "") + f"/{subdir}/repodata.json"


def listed(url: str, headers: dict | None = None) -> set[str]:
    """File names a repodata.json lists right now (asserting a 200)."""
    r = requests.get(url, headers=headers or {}, timeout=TIMEOUT)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    doc = r.json()
    return set(doc.get("packages", {})) | set(doc.get("packages.conda", {}))


def wait_for_repodata(url: str, filename: str, present: bool = True, timeout: float = 30.0,
                      headers: dict | None = None) -> dict | None:
    """Poll a repodata.json until ``filename`` is (or is no longer) listed. Unlike clients.wait_for_repodata, a
    404 counts as "not listed": a subdir whose last (public) file went away has no index at all."""
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(url, headers=headers or {}, timeout=TIMEOUT)
        doc = r.json() if r.status_code == 200 else None
        if r.status_code not in (200, 404):
            last = r.status_code
        else:
            listed_now = doc is not None and (filename in doc.get("packages", {}) or
                                              filename in doc.get("packages.conda", {}))
            if listed_now == present:
                return doc
            last = doc if doc is not None else 404
        if time.monotonic() > deadline:
            raise AssertionError(f"{filename} {'never appeared in' if present else 'still in'} {url}: {last}")
        time.sleep(0.2)


def eventually(check, timeout: float = 30.0, interval: float = 0.2):
    """Call ``check()`` until it stops raising AssertionError (for asynchronous index updates)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


def concurrently(*jobs):
    """Run independent jobs (callables, typically CLI runs: about a second of CPU each, mostly imports) on
    threads, and return their results in order; the first exception is raised after all have finished."""
    with ThreadPoolExecutor(max_workers=min(3, len(jobs))) as ex:
        futures = [ex.submit(job) for job in jobs]
    return [f.result() for f in futures]
