"""What every command module shares: domain errors as clean exits, and the CLI's clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from chalicelib.errors import NurtureError
from chalicelib.stamps import iso

__all__ = ["FAILED", "FileRefused", "moment", "now", "or_fail"]

T = TypeVar("T")

FAILED = 1
"""Exit status when input was rejected or nothing was done."""


class FileRefused(click.ClickException):
    """The file as a whole cannot be used (encoding, header); nothing in it was read."""

    exit_code = 2


def or_fail(action: Callable[[], T]) -> T:
    """Run `action`; a domain error is printed as a clean message with exit status 1."""
    try:
        return action()
    except NurtureError as error:
        raise click.ClickException(str(error)) from None


def now() -> str:
    """Timestamps the CLI writes, in the table's one format (as the API writes them)."""
    return iso(time.time())


def moment() -> datetime:
    """Now, as the aware UTC instant segments and triggers are evaluated at."""
    return datetime.fromtimestamp(time.time(), UTC)
