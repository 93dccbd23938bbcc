"""Server-to-server conversion callbacks: signed, validated, counted once per conversion id.

A request is signed like a webhook: header `X-Nurture-Signature: t=<unix>,v1=<hex>` where
`v1 = HMAC-SHA256(secret, "<t>.<raw body>")`. Any listed secret verifies (rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib import store
from chalicelib.errors import BadToken, InvalidInput, Unauthorized
from chalicelib.parking import Parking, commit
from chalicelib.tokens import Keyring, Purpose, verify

SIGNATURE_HEADER = "x-nurture-signature"
MAX_BODY_BYTES = 16 * 1024
_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Conversion:
    conversion_id: str
    contact_id: str
    send_id: str
    value: Decimal | None
    currency: str | None


def check_signature(
    header: str, body: bytes, secrets_: tuple[str, ...], now: float, tolerance: int
) -> None:
    """Raise `Unauthorized` unless `header` signs `body` recently with one of `secrets_`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        raise Unauthorized("signature: missing or malformed timestamp") from None
    if abs(now - stamp) > tolerance:
        raise Unauthorized("signature: timestamp outside the allowed window")
    given = parts.get("v1", "")
    signed = f"{stamp}.".encode() + body
    if not any(
        hmac.compare_digest(hmac.new(s.encode(), signed, hashlib.sha256).hexdigest(), given)
        for s in secrets_
    ):
        raise Unauthorized("signature: does not match")


def sign_request(secret: str, body: bytes, now: int) -> str:
    """The signature header value a client sends (used by the CLI, tests and docs)."""
    digest = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={now},v1={digest}"


def parse(body: bytes, keyring: Keyring) -> Conversion:
    """Validate the JSON body; errors name the field."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"is larger than {MAX_BODY_BYTES} bytes")
    try:
        doc = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidInput("body", "must be a JSON object")
    unknown = sorted(set(doc) - {"conversion_id", "token", "value", "currency"})
    if unknown:
        raise InvalidInput(unknown[0], "is not a known field")
    conversion_id = _text(doc, "conversion_id")
    if not _ID.fullmatch(conversion_id):
        raise InvalidInput("conversion_id", "must be 1-128 of A-Z a-z 0-9 . _ : @ -")
    try:
        claims = verify(_text(doc, "token"), Purpose.CONVERSION, keyring)
    except BadToken:
        raise InvalidInput("token", "is not a valid conversion token") from None
    return Conversion(conversion_id, claims.contact_id, claims.send_id, _value(doc), _currency(doc))


def event_for(conversion: Conversion, at: str, expires_at: int) -> store.Event:
    attrs: dict[str, store.Scalar] = {
        "conversion_id": conversion.conversion_id,
        "value": conversion.value,
        "currency": conversion.currency,
    }
    return store.Event(
        conversion.contact_id,
        "converted",
        at,
        secrets.token_hex(8),
        conversion.send_id,
        attrs,
        expires_at,
    )


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if value is None:
        raise InvalidInput(name, "is required")
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a string")
    return value


def _value(doc: dict[str, Any]) -> Decimal | None:
    """Money stays decimal end to end: `49.90` is never `49.899999`."""
    value = doc.get("value")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not 0 <= value < 10**12:
        raise InvalidInput("value", "must be a number from 0 to 1e12")
    return Decimal(value)


def _currency(doc: dict[str, Any]) -> str | None:
    currency = doc.get("currency")
    if currency is None:
        return None
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidInput("currency", "must be a 3-letter ISO 4217 code such as EUR")
    return currency


def record(
    table: store.Table, parking: Parking, conversion: Conversion, at: str, expires_at: int
) -> bool:
    """Store the conversion; False when this conversion id was already counted."""
    return commit(
        table,
        parking,
        store.conversion_write(event_for(conversion, at, expires_at), conversion.conversion_id),
    )
