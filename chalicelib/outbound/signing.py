"""Standard Webhooks signatures (https://www.standardwebhooks.com), so receivers verify with
an existing library.

Headers: `webhook-id` (the event id: stable across retries, for deduplication),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`: `v1,<base64
HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, one per secret, space-separated, so during a
rotation a receiver holding either the old or the new secret verifies.
Secrets look like `whsec_<base64 of 32 random bytes>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

from chalicelib.errors import InvalidInput

__all__ = ["PREFIX", "BadSignature", "checked_secret", "headers", "new_secret", "sign", "verify"]

PREFIX = "whsec_"
USER_AGENT = "nurture-webhooks/1"
TOLERANCE_SECONDS = 300
MIN_KEY_BYTES = 16


class BadSignature(Exception):
    """A delivery whose headers do not verify (our local receiver's verdict)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def checked_secret(value: object) -> str | None:
    """A secret a marketer typed (`whsec_` and base64 of at least 16 bytes), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(PREFIX):
        raise InvalidInput("secret", f"must start with {PREFIX}")
    try:
        key = base64.b64decode(value.removeprefix(PREFIX), validate=True)
    except binascii.Error:
        raise InvalidInput("secret", f"must be {PREFIX} followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput("secret", f"must hold at least {MIN_KEY_BYTES} bytes")
    return value


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = b".".join((message_id.encode(), str(timestamp).encode(), body))
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(
    message_id: str, timestamp: int, body: bytes, signing_secrets: Iterable[str]
) -> dict[str, str]:
    signatures = " ".join(sign(s, message_id, timestamp, body) for s in signing_secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def verify(secret: str, received: Mapping[str, str], body: bytes, now: float) -> str:
    """The message id of a delivery signed with `secret`, or `BadSignature`."""
    lowered = {name.lower(): value for name, value in received.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    if not message_id or not stamp.isascii() or not stamp.isdigit():
        raise BadSignature("missing webhook-id or webhook-timestamp")
    if abs(now - int(stamp)) > TOLERANCE_SECONDS:
        raise BadSignature("timestamp too far from now")
    expected = sign(secret, message_id, int(stamp), body)
    offered = lowered.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise BadSignature("no signature matches")
    return message_id


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))
