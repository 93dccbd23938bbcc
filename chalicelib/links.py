"""Tracked URLs and the rule for what a click may redirect to.

A destination is checked and normalised once, when a template is uploaded and its links are
signed, and again (the same function) before a click answers: an ASCII URL is returned exactly
as written, byte for byte; an international one gets its host in IDNA (`bücher.example` ->
`xn--bcher-kva.example`) and every other non-ASCII character percent-encoded as UTF-8
(RFC 3986), so a `Location` header is always ASCII. Characters no URL may carry (controls,
spaces, Unicode line and paragraph separators, invisible formatting such as bidi overrides,
unassigned or private code points) are refused.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from chalicelib.tokens import Purpose

MAX_URL_LENGTH = 2048
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
_ROUTES = {Purpose.OPEN: "o", Purpose.CLICK: "c", Purpose.UNSUBSCRIBE: "u"}


class UnsafeDestination(ValueError):
    """A link target that a click must never redirect to."""


def check_destination(url: str) -> str:
    """`url` as an absolute http(s) URL safe for a `Location` header: unchanged if it is ASCII,
    else normalised to ASCII (IDNA host, percent-encoded UTF-8); `UnsafeDestination` if not."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"is longer than {MAX_URL_LENGTH} characters")
    if _UNSAFE.search(url):
        raise UnsafeDestination("holds whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unbalanced [ or ] around the host
        raise UnsafeDestination(f"is not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeDestination(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if not parts.hostname:
        raise UnsafeDestination("has no host")
    if url.isascii():
        return url
    ascii_url = _to_ascii(url, len(parts.scheme) + 3, parts.netloc)
    if len(ascii_url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"is longer than {MAX_URL_LENGTH} characters once encoded")
    return ascii_url


def _to_ascii(url: str, start: int, netloc: str) -> str:
    """`url` with its netloc (at `start`) and everything else made ASCII."""
    import unicodedata  # only international destinations need these

    for char in _NON_ASCII.findall(url):
        for one in char:
            if unicodedata.category(one) in _REFUSED_CATEGORIES:
                name = unicodedata.name(one, "unnamed")
                raise UnsafeDestination(f"holds U+{ord(one):04X} ({name}), which no URL may carry")
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport, "", ""
    if not hostport.startswith("[") and ":" in hostport:
        host, colon, port = hostport.rpartition(":")
    if not port.isascii():
        raise UnsafeDestination(f"port {port!r} is not a number")
    ascii_netloc = _percent_encoded(userinfo) + at + _idna(host) + colon + port
    return url[:start] + ascii_netloc + _percent_encoded(url[start + len(netloc) :])


def _idna(host: str) -> str:
    if host.isascii():
        return host
    import idna

    try:
        return str(idna.encode(host, uts46=True).decode("ascii"))
    except (idna.IDNAError, UnicodeError) as exc:
        raise UnsafeDestination(f"host {host!r} is not a valid international name ({exc})") from exc


def _percent_encoded(text: str) -> str:
    return _NON_ASCII.sub(lambda run: quote(run[0], safe=""), text)


def tracked_url(base_url: str, purpose: Purpose, token: str) -> str:
    """The public URL of a tracking route for `token` (`/o/…`, `/c/…`, `/u/…`)."""
    return f"{base_url.rstrip('/')}/{_ROUTES[purpose]}/{token}"
