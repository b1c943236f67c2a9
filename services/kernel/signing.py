"""HMAC helpers: upload form policies, token digests, content addresses."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from .errors import Forbidden


def token_digest(secret: str, token: str) -> str:
    """What is stored for a token: keyed sha256 (tokens are high-entropy, so no slow KDF is needed)."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def sign_policy(secret: str, payload: dict, expires_in: int) -> tuple[str, str]:
    """Return (policy, signature) form fields for an expiring, tamper-proof upload policy."""
    doc = dict(payload, exp=int(time.time()) + int(expires_in))
    policy = base64.urlsafe_b64encode(json.dumps(doc, sort_keys=True).encode()).decode()
    sig = hmac.new(secret.encode(), policy.encode(), hashlib.sha256).hexdigest()
    return policy, sig


def verify_policy(secret: str, policy: str, signature: str) -> dict:
    """Check signature and expiry of a policy made by ``sign_policy``; ``Forbidden`` when either fails."""
    expected = hmac.new(secret.encode(), (policy or "").encode(), hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected, signature):
        raise Forbidden("upload policy signature does not match")
    try:
        doc = json.loads(base64.urlsafe_b64decode(policy.encode()))
    except ValueError:
        raise Forbidden("upload policy is malformed")
    if int(doc.get("exp", 0)) < time.time():
        raise Forbidden("upload policy has expired")
    return doc


def blob_key_for(sha256: str) -> str:
    """Content address of a package blob."""
    return f"blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def staging_key_for(dist_id: str) -> str:
    return f"staging/{dist_id}"


def index_key_for(sha256: str) -> str:
    """Content address of a published index file (repodata.json, .zst, shards...)."""
    return f"indexes/sha256/{sha256[:2]}/{sha256}"
