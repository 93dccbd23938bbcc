"""Compact, URL-safe, HMAC-SHA256 signed tokens for tracking links.

A token is `base64url(body) "." base64url(tag)`; the body holds the key id, the purpose and
the claims the hot path needs, so open and click verify with zero reads. Several keys verify,
one signs: rotating keys never breaks links already in inboxes; removing a key retires it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.errors import ConfigError, TokenInvalid

MAX_TOKEN_LENGTH = 4096
TAG_BYTES = 16
MIN_KEY_BYTES = 16
_SEP = "\x1f"
_KID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_B64 = re.compile(r"[A-Za-z0-9_-]+")
_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SPARE_BITS = (0, 0x3F, 0xF, 0x3)
"""By the length's remainder mod 4: the bits of the last character no byte uses (with a
remainder of 1 no byte ends in it, so anything but `A` is refused here and `A` by the decoder)."""
_PADS = (b"", b"===", b"==", b"=")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_FIELD_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


class Purpose(StrEnum):
    """What a token may be used for; a token verifies only for its own purpose."""

    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"
    CONVERSION = "v"


@dataclass(frozen=True)
class Claims:
    """What a token vouches for. `issued_at` is the send time (unix seconds)."""

    purpose: Purpose
    contact_id: str
    send_id: str
    issued_at: int
    link: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Keyring:
    """Signing keys by id; `active` signs, every listed key verifies."""

    active: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ConfigError(f"signing keys: active key id {self.active!r} is not in keys")
        for kid, secret in self.keys.items():
            if not _KID.fullmatch(kid):
                raise ConfigError(f"signing keys: key id {kid!r} must match {_KID.pattern}")
            if len(secret) < MIN_KEY_BYTES:
                raise ConfigError(
                    f"signing keys: key {kid!r} is shorter than {MIN_KEY_BYTES} bytes"
                )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """Parse `{"active": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}`."""
        try:
            doc = json.loads(text)
            keys = {
                kid: base64.b64decode(value, validate=True) for kid, value in doc["keys"].items()
            }
            return cls(active=doc["active"], keys=keys)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ConfigError(f"signing keys: malformed document ({type(exc).__name__})") from exc


def sign(claims: Claims, keyring: Keyring) -> str:
    """Return the token for `claims`, signed with the active key."""
    fields = [keyring.active, claims.purpose.value, claims.contact_id, claims.send_id]
    fields.append(str(claims.issued_at))
    if claims.purpose is Purpose.CLICK:
        if claims.link is None or claims.url is None:
            raise ValueError("a click token needs a link index and a destination url")
        fields += [str(claims.link), claims.url]
    for field in fields:
        if not field or _FIELD_FORBIDDEN.search(field):
            raise ValueError(f"token field {field!r} is empty or holds control characters")
    body = _SEP.join(fields).encode()
    return f"{_b64encode(body)}.{_b64encode(_tag(keyring.keys[keyring.active], body))}"


def verify(token: str, purpose: Purpose, keyring: Keyring) -> Claims:
    """Return the claims of a genuine token for `purpose`, else raise `TokenInvalid`."""
    body, tag = _split(token)
    kid, _, rest = body.partition(_SEP.encode())
    key = keyring.keys.get(kid.decode("ascii", "replace"))
    if key is None:
        raise TokenInvalid("unknown or retired key id")
    if not hmac.compare_digest(_tag(key, body), tag):
        raise TokenInvalid("signature mismatch")
    return _claims(rest.decode(), purpose)


def _split(token: str) -> tuple[bytes, bytes]:
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenInvalid("malformed token")
    body_text, tag_text = token.split(".")
    return _b64decode(body_text), _b64decode(tag_text)


def _claims(text: str, purpose: Purpose) -> Claims:
    fields = text.split(_SEP)
    if fields[0] != purpose.value:
        raise TokenInvalid("token used for another purpose")
    try:
        if purpose is Purpose.CLICK:
            _, contact, send, issued, link, url = fields
            return Claims(purpose, contact, send, int(issued), int(link), url)
        _, contact, send, issued = fields
        return Claims(purpose, contact, send, int(issued))
    except ValueError as exc:
        raise TokenInvalid("malformed claims") from exc


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.digest(key, body, "sha256")[:TAG_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode strict, canonical unpadded base64url: a re-encoded variant is a different token.

    Canonical means the last character's bits beyond the data are zero (the encoder's); checked
    on that one character rather than by encoding the bytes again (on every open and click)."""
    if not _B64.fullmatch(text):
        raise TokenInvalid("not base64url")
    if _B64_ALPHABET.index(text[-1]) & _SPARE_BITS[len(text) % 4]:
        raise TokenInvalid("non-canonical encoding")
    try:  # base64.urlsafe_b64decode's own steps, without its layers of argument checks
        return binascii.a2b_base64(text.encode().translate(_TO_STANDARD) + _PADS[len(text) % 4])
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("not base64url") from exc
