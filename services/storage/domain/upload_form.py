"""Upload forms: the signed, expiring policy a client presents when it POSTs a staged file's bytes."""
from __future__ import annotations

import re

from services.kernel import signing
from services.kernel.errors import BadRequest, Forbidden

_DIST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_dist_id(dist_id) -> str:
    """A dist_id becomes a blob key component: refuse anything that could escape ``staging/``."""
    if not isinstance(dist_id, str) or not _DIST_ID.match(dist_id) or ".." in dist_id:
        raise BadRequest("invalid upload id")
    return dist_id


def make_form(secret: str, dist_id: str, max_size: int, ttl: int) -> dict:
    """Form fields in the order an S3-style POST expects them (the file part comes last, after these)."""
    policy, signature = signing.sign_policy(secret, {"dist_id": check_dist_id(dist_id), "max_size": max_size},
                                            ttl)
    return {
        "key": dist_id,
        "policy": policy,
        "signature": signature,
        "success_action_status": "201",
        "Content-Type": "application/octet-stream",
    }


def check_form(secret: str, form: dict) -> dict:
    """Verify a posted form; ``Forbidden`` unless signature, expiry and key all check out."""
    if not isinstance(form, dict):
        raise Forbidden("upload form is missing")
    doc = signing.verify_policy(secret, str(form.get("policy") or ""), str(form.get("signature") or ""))
    dist_id = doc.get("dist_id")
    if not isinstance(dist_id, str) or form.get("key") != dist_id:
        raise Forbidden("upload form key does not match its policy")
    max_size = doc.get("max_size")
    if not isinstance(max_size, int) or isinstance(max_size, bool):
        raise Forbidden("upload policy is malformed")
    return {"dist_id": dist_id, "max_size": max_size}
