"""Domain errors: one small hierarchy, mapped to HTTP status codes in one place (`app.py`)."""

from __future__ import annotations


class NurtureError(Exception):
    """Base of every error a caller may see; `status` is the HTTP answer it maps to."""

    status = 500


class BadToken(NurtureError):
    """A token that is altered, truncated, expired, retired or used for the wrong purpose.

    The message is for logs only: callers see one generic answer so nothing leaks.
    """

    status = 404


class Unauthorized(NurtureError):
    status = 401


class InvalidInput(NurtureError):
    """Bad public input; the message names the field (or row) and what is wrong with it."""

    status = 400

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ConfigError(NurtureError):
    """The deployment is misconfigured (missing or malformed setting or secret)."""
