"""``wharf health gateway``: the gateway's ``/healthz`` over HTTP (requests, like every HTTP client of Wharf, lives
in an adapter)."""
from __future__ import annotations

import requests


def check(url: str, timeout: float = 5) -> None:
    """Raises when ``url`` does not answer 2xx within ``timeout`` seconds."""
    requests.get(url, timeout=timeout).raise_for_status()
