"""Domain errors: one small hierarchy. The HTTP answer of each is mapped in one table at the
edge (`STATUS` in `app.py`); the CLI prints them as clean messages.

Like itsdangerous' `BadSignature` / `SignatureExpired`, a token that is not genuine and a
genuine token that is too old are different errors, and the expired one knows when it was
issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "BadTemplate",
    "BadToken",
    "ConfigError",
    "ContactNotFound",
    "FileError",
    "FileInvalid",
    "ImportInterrupted",
    "InvalidInput",
    "NotEnrolled",
    "NurtureError",
    "PushConflict",
    "ReentryRefused",
    "TokenExpired",
    "TokenInvalid",
    "TooLarge",
    "Unauthorized",
    "UnknownModel",
    "UnknownStep",
    "UnknownWebhook",
    "Unreachable",
    "UnsafeWebhook",
    "UnsupportedMediaType",
    "WriteRefused",
]


class NurtureError(Exception):
    """Base of every error a caller may see."""


# ---------------------------------------------------------------------------------------------
# Tokens and credentials


class BadToken(NurtureError):
    """A token that must not be honoured. Recipients see one generic answer whatever the
    reason, so nothing leaks; the message is for logs."""


class TokenInvalid(BadToken):
    """Not a genuine token for this purpose: altered, truncated, re-encoded, signed by an
    unknown or retired key, or made for another purpose."""


class TokenExpired(BadToken):
    """A genuine token older than its purpose allows."""

    def __init__(self, issued_at: float, max_age_seconds: float) -> None:
        super().__init__(f"token expired: issued at {issued_at:.0f}, valid {max_age_seconds:.0f} s")
        self.issued_at = issued_at
        self.max_age_seconds = max_age_seconds


class Unauthorized(NurtureError):
    """Missing or wrong credentials (API key, IAM identity, request signature)."""


# ---------------------------------------------------------------------------------------------
# Input


class InvalidInput(NurtureError):
    """Bad public input; the message names the field (or row) and what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class TooLarge(InvalidInput):
    """A request body or file larger than the limit for it."""


class UnsupportedMediaType(InvalidInput):
    """A body in a format the route does not read (named by its content type)."""


class BadTemplate(InvalidInput):
    """A template rejected at upload or failing at render; names the part and line if known."""

    def __init__(self, part: str, line: int | None, problem: str) -> None:
        super().__init__(f"{part} template" + (f", line {line}" if line else ""), problem)
        self.part = part
        self.line = line


@dataclass(frozen=True)
class FileError:
    """One problem in a marketer's file; `path` is the YAML path (`""` for the whole file)."""

    path: str
    message: str
    line: int | None = None


class FileInvalid(NurtureError, ValueError):
    """A file (sequence, segment, ...) that cannot be used, with every problem found in it."""

    def __init__(self, file: str, errors: list[FileError]) -> None:
        self.file = file
        self.errors = tuple(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(_format_error(self.file, error) for error in self.errors)

    def summary(self) -> str:
        """One line: the first problem, and how many more there are."""
        first = _format_error(self.file, self.errors[0]) if self.errors else self.file
        more = len(self.errors) - 1
        return f"{first} (and {more} more)" if more > 0 else first


def _format_error(file: str, error: FileError) -> str:
    where = f"{file}: {error.path}: " if error.path else f"{file}: "
    suffix = f" (line {error.line})" if error.line is not None else ""
    return f"{where}{error.message}{suffix}"


# ---------------------------------------------------------------------------------------------
# What the table holds


class UnknownModel(NurtureError):
    """No such sequence, segment or stages file, or no such version of it."""


class UnknownStep(NurtureError):
    """A step id the sequence does not have."""


class ContactNotFound(NurtureError):
    """No contact with that id."""


class NotEnrolled(NurtureError):
    """The contact has never been enrolled in that sequence."""


class ReentryRefused(NurtureError):
    """The sequence's entry rules refuse this contact now."""


class Unreachable(NurtureError):
    """The contact may not be emailed at all: unsubscribed, suppressed, or without an address."""

    def __init__(self, field: str, contact_id: str, reason: str) -> None:
        super().__init__(f"{field}: contact {contact_id!r} is {reason.replace('_', ' ')}")
        self.reason = reason


class PushConflict(NurtureError):
    """Concurrent pushes of one model file kept colliding; trying again is safe."""


class WriteRefused(NurtureError):
    """DynamoDB refused a write as invalid (a number out of range, an item too large): trying
    it again can never succeed, so it is neither retried nor parked."""

    def __init__(self, code: str) -> None:
        super().__init__(f"the table refused the write ({code})")
        self.code = code


class ImportInterrupted(NurtureError):
    """AWS failed (after its own retries) in the middle of an import. `report` holds what was
    done up to there; the import is idempotent, so sending the file again finishes it."""

    def __init__(self, report: Any, why: str) -> None:
        super().__init__(
            f"import interrupted ({why}) after {report.summary()}; "
            "rows already in are left as they are, so importing the file again finishes it"
        )
        self.report = report
        self.why = why


class UnknownImport(NurtureError):
    """No contact import job with that id."""


class ImportNotReady(NurtureError):
    """An import job cannot start yet: nothing was uploaded to its URL."""


class ConfigError(NurtureError):
    """The deployment is misconfigured (missing or malformed setting or secret)."""


# ---------------------------------------------------------------------------------------------
# Webhooks


class UnsafeWebhook(NurtureError):
    """A webhook URL nurture must not call: not https, or an address that is not public
    (loopback, private, link-local, CGNAT, multicast, cloud metadata...)."""


class UnknownWebhook(NurtureError):
    """No webhook subscription with that id in the pushed file."""
