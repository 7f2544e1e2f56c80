"""Verify Azure Communication Services HMAC-SHA256 request signatures, as the real service does."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def expected_signature(key_b64: str, method: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    to_sign = f"{method}\n{path_and_query}\n{date};{host};{body_hash}"
    digest = hmac.new(base64.b64decode(key_b64), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(key_b64: str, method: str, path_and_query: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """Returns None when the signature is valid, else the reason it is not."""
    auth = headers.get("authorization", "")
    if not auth.startswith("HMAC-SHA256 "):
        return "missing HMAC-SHA256 Authorization header"
    fields = dict(part.split("=", 1) for part in auth[len("HMAC-SHA256 ") :].split("&") if "=" in part)
    signature = fields.get("Signature", "")
    date = headers.get("x-ms-date", "")
    claimed_hash = headers.get("x-ms-content-sha256", "")
    if claimed_hash != content_hash(body):
        return "x-ms-content-sha256 does not match the body"
    want = expected_signature(key_b64, method, path_and_query, date, headers.get("host", ""), claimed_hash)
    if not hmac.compare_digest(want, signature):
        return "signature does not match"
    return None
