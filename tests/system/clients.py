"""Drive the real clients: the `anaconda` CLI (anaconda-client 1.16) and py-rattler."""
from __future__ import annotations

import asyncio
import json

import subprocess
import time
from pathlib import Path

import requests

from .harness import VENV_BIN


class AnacondaCLI:
    """The unmodified `anaconda` command, with its own HOME (config and token files)."""

    def __init__(self, wharf, home: Path):
        self.env = dict(wharf.env)
        self.env["HOME"] = str(home)
        home.mkdir(parents=True, exist_ok=True)
        self.env.pop("ANACONDA_API_TOKEN", None)
        self.run("config", "--set", "url", wharf.api)
        self.run("config", "--set", "ssl_verify", "False")

    def run(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([str(VENV_BIN / "anaconda"), *args], env=self.env, capture_output=True, text=True,
                           timeout=300, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"anaconda {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def org(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run("org", *args, **kw)


def wait_for_repodata(url: str, filename: str, present: bool = True, timeout: float = 30.0,
                      headers: dict | None = None) -> dict:
    """Poll ``url`` (a repodata.json) until ``filename`` is (or is no longer) listed."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = requests.get(url, headers=headers or {}, timeout=10)
        if r.status_code == 200:
            doc = r.json()
            listed = filename in doc.get("packages", {}) or filename in doc.get("packages.conda", {})
            if listed == present:
                return doc
            last = doc
        else:
            last = r.status_code
        time.sleep(0.2)
    raise AssertionError(f"{filename} {'never appeared in' if present else 'still in'} {url}: {last}")


def rattler_solve_install(channel: str, specs: list[str], prefix: Path, cache: Path) -> dict:
    """Solve ``specs`` against ``channel`` with py-rattler and install them; returns {name: version}."""
    import rattler

    async def go():
        gateway = rattler.Gateway(cache_dir=str(cache / "repodata"))
        records = await rattler.solve(sources=[channel], specs=specs, gateway=gateway,
                                      platforms=[rattler.Platform.current(), rattler.Platform("noarch")])
        await rattler.install(records, target_prefix=str(prefix), cache_dir=str(cache / "pkgs"),
                              show_progress=False)
        return {r.name.normalized: str(r.version) for r in records}

    return asyncio.run(go())


def conda_meta(prefix: Path) -> dict:
    out = {}
    for f in (prefix / "conda-meta").glob("*.json"):
        d = json.loads(f.read_text())
        out[d["name"]] = d["version"]
    return out


