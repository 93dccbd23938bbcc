"""Who may call the marketer API.

In AWS, API Gateway verifies SigV4 (IAM auth) and hands us the caller's ARN; on the local stack
a bearer API key from the API-keys secret stands in. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from chalicelib.conversions import SIGNATURE_HEADER, check_signature
from chalicelib.errors import Unauthorized
from chalicelib.secrets import ApiSecrets


def marketer(
    headers: Mapping[str, str], identity: Mapping[str, Any] | None, mode: str, secrets: ApiSecrets
) -> str:
    """The authenticated principal's name, or `Unauthorized`."""
    if mode == "iam":
        caller = (identity or {}).get("userArn") or (identity or {}).get("caller")
        if not caller:
            raise Unauthorized("credentials: this API needs an IAM-signed (SigV4) request")
        return str(caller)
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("credentials: send 'Authorization: Bearer <api key>'")
    matches = [
        name
        for name, known in secrets.api_keys.items()
        if hmac.compare_digest(known.encode(), key.strip().encode())
    ]
    if not matches:
        raise Unauthorized("credentials: unknown API key")
    return matches[0]


def server(
    headers: Mapping[str, str],
    identity: Mapping[str, Any] | None,
    mode: str,
    conversion_secrets: tuple[str, ...],
    body: bytes,
    now: float,
    tolerance: int,
) -> None:
    """A server-to-server call (product events): signed like a conversion callback with one of
    its secrets, or, where API Gateway checks IAM (`mode` `iam`), SigV4-signed."""
    signature = headers.get(SIGNATURE_HEADER, "")
    if (
        not signature
        and mode == "iam"
        and ((identity or {}).get("userArn") or (identity or {}).get("caller"))
    ):
        return
    check_signature(signature, body, conversion_secrets, now, tolerance)
