"""Tracked URLs and the rule for what a click may redirect to."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from chalicelib.tokens import Purpose

MAX_URL_LENGTH = 2048
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_ROUTES = {Purpose.OPEN: "o", Purpose.CLICK: "c", Purpose.UNSUBSCRIBE: "u"}


class UnsafeDestination(ValueError):
    """A link target that a click must never redirect to."""


def check_destination(url: str) -> str:
    """Return `url` unchanged if it is an absolute http(s) URL safe to put in a Location header."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"is longer than {MAX_URL_LENGTH} characters")
    if _UNSAFE.search(url):
        raise UnsafeDestination("holds whitespace, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeDestination(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if not parts.hostname:
        raise UnsafeDestination("has no host")
    return url


def tracked_url(base_url: str, purpose: Purpose, token: str) -> str:
    """The public URL of a tracking route for `token` (`/o/…`, `/c/…`, `/u/…`)."""
    return f"{base_url.rstrip('/')}/{_ROUTES[purpose]}/{token}"
