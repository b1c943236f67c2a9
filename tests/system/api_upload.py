"""A small HTTP client doing what ``anaconda upload`` does (package, release, stage, form POST, commit) with
plain requests: fast enough for many uploads, and able to send what the real CLI never would (hostile input)."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import requests


def login(base_url: str, login: str, password: str, note: str = "tests") -> str:
    r = requests.post(f"{base_url}/api/authentications", auth=(login, password),
                      json={"note": note, "scopes": ["all"]}, timeout=30)
    r.raise_for_status()
    return r.json()["token"]


class StepFailed(AssertionError):
    """A preparatory step (create package or release) was refused; ``response`` says how."""

    def __init__(self, message: str, response: requests.Response):
        super().__init__(message)
        self.response = response


class Uploader:
    def __init__(self, base_url: str, token: str, timeout: float = 120.0):
        self.base = base_url
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def ensure_package(self, owner: str, package: str, public: bool = True) -> None:
        r = self.s.get(f"{self.base}/api/package/{owner}/{package}", timeout=self.timeout)
        if r.status_code == 200:
            return
        r = self.s.post(f"{self.base}/api/package/{owner}/{package}", json={"public": public},
                        timeout=self.timeout)
        if r.status_code not in (200, 409):
            raise StepFailed(f"create package {owner}/{package}: {r.status_code} {r.text}", r)

    def ensure_release(self, owner: str, package: str, version: str) -> None:
        r = self.s.get(f"{self.base}/api/release/{owner}/{package}/{version}", timeout=self.timeout)
        if r.status_code == 200:
            return
        r = self.s.post(f"{self.base}/api/release/{owner}/{package}/{version}", json={}, timeout=self.timeout)
        if r.status_code not in (200, 409):
            raise StepFailed(f"create release: {r.status_code} {r.text}", r)

    def stage(self, owner, package, version, basename, data: bytes | None = None, dtype: str = "conda",
              labels=("main",), sha256: str | None = None) -> requests.Response:
        body = {"distribution_type": dtype, "channels": list(labels)}
        if sha256 is not None or data is not None:
            body["sha256"] = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
        return self.s.post(f"{self.base}/api/stage/{owner}/{package}/{version}/{basename}", json=body,
                           timeout=self.timeout)

    @staticmethod
    def post_form(staged: dict, data: bytes, md5: bytes | None = None, form_overrides: dict | None = None,
                  timeout: float = 120.0) -> requests.Response:
        form = dict(staged["form_data"])
        form["Content-Length"] = str(len(data))
        form["Content-MD5"] = base64.b64encode(md5 if md5 is not None else hashlib.md5(data).digest()).decode()
        form.update(form_overrides or {})
        return requests.post(staged["post_url"], data=form, files={"file": ("upload", data)}, timeout=timeout)

    def commit(self, owner, package, version, basename, dist_id: str) -> requests.Response:
        return self.s.post(f"{self.base}/api/commit/{owner}/{package}/{version}/{basename}",
                           json={"dist_id": dist_id}, timeout=self.timeout)

    def upload(self, owner: str, package: str, version: str, path: Path | None = None, *, basename=None,
               data: bytes | None = None, dtype: str = "conda", labels=("main",), public: bool = True,
               subdir: str | None = None) -> requests.Response:
        """The whole flow; returns the first response that is not a success (or the commit's), so a caller can
        retry a 503 from any step (an outage) the same way."""
        data = data if data is not None else Path(path).read_bytes()
        basename = basename or (f"{subdir}/{Path(path).name}" if subdir else Path(path).name)
        try:
            self.ensure_package(owner, package, public)
            self.ensure_release(owner, package, version)
        except StepFailed as exc:
            return exc.response
        r = self.stage(owner, package, version, basename, data, dtype, labels)
        if r.status_code != 200:
            return r
        staged = r.json()
        r = self.post_form(staged, data, timeout=self.timeout)
        if r.status_code != 201:
            return r
        return self.commit(owner, package, version, basename, staged["dist_id"])
