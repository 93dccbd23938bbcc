"""Domain errors: one small hierarchy, mapped to HTTP status codes in one place (`app.py`)."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class FileError:
    """One problem in a marketer's file; `path` is the YAML path (`""` for the whole file)."""

    path: str
    message: str
    line: int | None = None


class FileInvalid(NurtureError, ValueError):
    """A file (sequence, segment, ...) that cannot be used, with every problem found in it."""

    status = 422

    def __init__(self, file: str, errors: list[FileError]) -> None:
        self.file = file
        self.errors = tuple(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(_format_error(self.file, error) for error in self.errors)


def _format_error(file: str, error: FileError) -> str:
    where = f"{file}: {error.path}: " if error.path else f"{file}: "
    suffix = f" (line {error.line})" if error.line is not None else ""
    return f"{where}{error.message}{suffix}"
