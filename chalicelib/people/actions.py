"""What a marketer does to one contact from the console or the API: pause and resume their
mail, take them out of a sequence."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib import store
from chalicelib.config import DAY
from chalicelib.errors import ContactNotFound, InvalidInput, NotEnrolled
from chalicelib.stamps import iso

__all__ = ["MAX_PAUSE_DAYS", "pause", "unenroll"]

MAX_PAUSE_DAYS = 365


def pause(table: store.Table, contact_id: str, days: object, now: float) -> str | None:
    """Hold the contact's sends for `days` whole days (0 resumes now); returns the end."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_PAUSE_DAYS:
        raise InvalidInput("days", f"must be a whole number from 0 to {MAX_PAUSE_DAYS}")
    until = iso(now + days * DAY) if days else None
    if not table.apply(store.pause_write(contact_id, until, iso(now))):
        raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
    return until


def unenroll(table: store.Table, contact_id: str, sequence_id: str, now: float) -> dict[str, Any]:
    """End the contact's enrollment in the sequence (pending sends then do nothing); an
    enrollment that already ended is answered as it is."""
    enrollments = store.Enrollments(table)
    found = enrollments.get(contact_id, sequence_id)
    if found is None:
        raise NotEnrolled(f"sequence_id: {contact_id!r} is not enrolled in {sequence_id!r}")
    if found.status == "active":
        enrollments.end(found, "exited", "unenrolled", iso(now))
        found = enrollments.get(contact_id, sequence_id) or found
    return asdict(found)
