"""Server-to-server conversion callbacks: signed, validated, counted once per conversion id.

A request is signed like a webhook: header `X-Nurture-Signature: t=<unix>,v1=<hex>` where
`v1 = HMAC-SHA256(secret, "<t>.<raw body>")`. Any listed secret verifies (rotation); spaces
around the parts and several `v1` entries (the sender rotating) are accepted.

The value is money: a storable decimal from 0 up to 1e12 (`-0` refused), in a currency of
`data/currencies.json` (ISO 4217). A conversion id seen before answers with the conversion as
it was first recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib import jsondoc, numbers, store
from chalicelib.errors import BadToken, ContactNotFound, InvalidInput, TooLarge, Unauthorized
from chalicelib.parking import Parking, commit
from chalicelib.tokens import Keyring, Purpose, verify

SIGNATURE_HEADER = "x-nurture-signature"
MAX_BODY_BYTES = 16 * 1024
MAX_VALUE = Decimal(10**12)
CURRENCIES = Path(__file__).resolve().parent / "data" / "currencies.json"
_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_CONTACT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


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
    """Raise `Unauthorized` unless `header` signs `body` recently with one of `secrets_`.
    One pass over the header's parts: it runs on the hot path of `POST /api/events`."""
    stamps: list[str] = []
    given: list[str] = []
    for part in header.split(","):
        name, equals, value = part.partition("=")
        name = name.strip()
        if equals and name == "t":
            stamps.append(value.strip())
        elif equals and name == "v1" and value.isascii():
            given.append(value.strip().lower())
    if len(stamps) != 1 or not _is_stamp(stamps[0]):
        raise Unauthorized("signature: missing or malformed timestamp")
    stamp = int(stamps[0])
    if abs(now - stamp) > tolerance:
        raise Unauthorized("signature: timestamp outside the allowed window")
    signed = f"{stamp}.".encode() + body
    for secret in secrets_:
        expected = hmac.digest(secret.encode(), signed, "sha256").hex()
        for value in given:
            if hmac.compare_digest(expected, value):
                return
    raise Unauthorized("signature: does not match")


def _is_stamp(text: str) -> bool:
    """1 to 12 ASCII digits (what a regular expression would say, for half the CPU)."""
    return text.isascii() and text.isdigit() and len(text) <= 12


def sign_request(secret: str, body: bytes, now: int) -> str:
    """The signature header value a client sends (used by the CLI, tests and docs)."""
    digest = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={now},v1={digest}"


def parse(body: bytes, keyring: Keyring) -> Conversion:
    """Validate the JSON body; errors name the field."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge("body", f"is larger than {MAX_BODY_BYTES} bytes")
    doc = jsondoc.parse(body)
    if not isinstance(doc, dict):
        raise InvalidInput("body", "must be a JSON object")
    unknown = sorted(set(doc) - {"conversion_id", "token", "contact_id", "value", "currency"})
    if unknown:
        raise InvalidInput(unknown[0], "is not a known field")
    conversion_id = _text(doc, "conversion_id")
    if not _ID.fullmatch(conversion_id):
        raise InvalidInput("conversion_id", "must be 1-128 of A-Z a-z 0-9 . _ : @ -")
    if ("token" in doc) == ("contact_id" in doc):
        raise InvalidInput("token", "give the conversion token, or contact_id (exactly one)")
    if "contact_id" in doc:
        contact_id = _text(doc, "contact_id")
        if not _CONTACT.fullmatch(contact_id):
            raise InvalidInput("contact_id", "must be 1-128 of A-Z a-z 0-9 . _ : - (no @)")
        return Conversion(conversion_id, contact_id, "", _value(doc), _currency(doc))
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
    if isinstance(value, float):  # parsed JSON holds Decimals; a float came from elsewhere
        raise InvalidInput("value", "must be an exact decimal number")
    try:
        return numbers.money(value, MAX_VALUE)
    except ValueError as exc:
        raise InvalidInput("value", f"{exc} (a number from 0 to less than 1e12)") from None


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 codes of money, from `data/currencies.json`."""
    return frozenset(json.loads(CURRENCIES.read_text("utf-8"))["codes"])


def _currency(doc: dict[str, Any]) -> str | None:
    currency = doc.get("currency")
    if currency is None:
        return None
    if not isinstance(currency, str) or currency not in currencies():
        raise InvalidInput("currency", "must be an ISO 4217 currency code such as EUR or USD")
    return currency


def record(
    table: store.Table, parking: Parking, conversion: Conversion, at: str, expires_at: int
) -> tuple[Conversion, bool]:
    """Store the conversion once. Returns the conversion as recorded (the first one, for an id
    seen before, whoever sends it now) and whether this call recorded it. A conversion named
    by contact id (no email to attribute it to: a holdout's) needs a known contact."""
    if not conversion.send_id and table.profile(conversion.contact_id) is None:
        raise ContactNotFound(f"contact_id: no contact {conversion.contact_id!r}")
    write = store.conversion_write(event_for(conversion, at, expires_at), conversion.conversion_id)
    if commit(table, parking, write):
        return conversion, True
    first = table.recorded_conversion(conversion.conversion_id)
    if first is None:  # the guard went missing between the two calls: answer what was sent
        return conversion, False
    return replace(conversion, contact_id=first.contact_id, send_id=first.send_id), False
