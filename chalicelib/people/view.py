"""One contact as a marketer looks at it: the profile, where each enrollment stands, and a
timeline of events, sends and skips (with reasons), newest first, page by page.

The sends of a contact are found without an index: a send id is derived from (contact,
sequence, run, step), so the enrollments name every sequence send there can be; events name
the rest (test sends SES reported on).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib import emails, store
from chalicelib.errors import ContactNotFound, InvalidInput
from chalicelib.send import SendJob
from chalicelib.sequences import Sequence
from chalicelib.stamps import iso
from chalicelib.tracking import CLICK_METHOD

__all__ = ["MAX_PAGE", "TIMELINE_COLUMNS", "Page", "Span", "View", "plain", "span"]

MAX_PAGE = 500
TIMELINE_COLUMNS = (
    "at",
    "type",
    "sequence_id",
    "step_id",
    "variant",
    "send_id",
    "verdict",
    "verdict_reason",
    "reason",
    "reason_text",
    "value",
    "currency",
    "link",
    "method",
    "delivery_status",
    "zone",
    "zone_source",
)
"""Columns of a timeline exported as CSV."""
EARLIEST, LATEST = "0000", "9999"
_HIDDEN = frozenset(("GSI1PK", "GSI1SK", "ttl", "contact_id", "event_id"))
_KEYS = frozenset(("PK", "SK"))
"""The table's keys: where an event is stored, not what happened (left out of the timeline)."""
_SEND_FIELDS = (
    "sequence_id",
    "step_id",
    "variant",
    "run",
    "version",
    "status",
    "reason",
    "zone",
    "zone_source",
)
_SEND_TYPES = {"sent": "sent", "claimed": "sending", "uncertain": "uncertain"}
"""Timeline types of sends that went out, are going out, or may have gone out (a crash after
SES was called: see `send`)."""


@dataclass(frozen=True)
class Span:
    """A time range as the table's ISO strings: `since` inclusive, `until` exclusive."""

    since: str = EARLIEST
    until: str = LATEST


def span(since: str | None, until: str | None) -> Span:
    """Parse `since`/`until` query values: a date (`2026-03-01`, whole days: `until` includes
    its day) or a UTC timestamp (`2026-03-01T12:00:00Z`); errors name the field."""
    low = _moment(since, "since", end=False) if since else EARLIEST
    high = _moment(until, "until", end=True) if until else LATEST
    if low >= high:
        raise InvalidInput("until", "must be later than since")
    return Span(low, high)


@dataclass(frozen=True)
class Page:
    entries: list[dict[str, Any]]
    next_cursor: str | None


class View:
    """Reads for one contact; `sequence` loads a pinned sequence version (cached)."""

    def __init__(
        self,
        table: store.Table,
        versions: store.Versions,
        sequence: Any,
    ) -> None:
        self.table = table
        self.people = store.People(table)
        self.versions = versions
        self.sequence = sequence

    def find(self, email: str) -> list[dict[str, Any]]:
        """The contact holding `email`, as a list of none or one profile."""
        from chalicelib import contactnames

        try:
            return [self.profile(contactnames.by_email(self.table, email))]
        except ContactNotFound:
            return []

    def profile(self, contact_id: str) -> dict[str, Any]:
        """The stored profile with where each enrollment stands; `ContactNotFound` if none."""
        items = list(self.people.partition(contact_id))
        profile = next((dict(i.attrs) for i in items if i.kind == "profile"), None)
        if profile is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        email = profile.get("email")
        found = self.people.suppression(emails.email_hash(email)) if email else None
        return {
            **plain(profile),
            "contact_id": contact_id,
            "suppressed": plain(found) if found else None,
            "enrollments": [plain(i.attrs) for i in items if i.kind == "enrollment"],
        }

    def sends(self, contact_id: str, named: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
        """Every send record of the contact: those its enrollments can have made, and `named`."""
        ids = set(named)
        for item in self.people.partition(contact_id):
            if item.kind == "enrollment":
                ids.update(self._possible_sends(contact_id, item.attrs))
        return self.people.sends(ids)

    def timeline(
        self, contact_id: str, within: Span, cursor: str | None = None, limit: int = 50
    ) -> Page:
        """Up to `limit` entries within `within`, newest first, after `cursor` (from the last
        page's `next_cursor`)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be from 1 to {MAX_PAGE}")
        before = _decode(cursor) if cursor else None
        if self.table.profile(contact_id) is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        events = self.people.events_page(contact_id, within.since, within.until, before, limit)
        sends = self.sends(contact_id, (str(e["send_id"]) for e in events if e.get("send_id")))
        entries: list[tuple[store.Position, dict[str, Any]]] = []
        for event in events:
            shown_event = _event_entry(event, sends)
            if shown_event is not None:
                entries.append((store.position(event), shown_event))
        # With a full page of events, older ones may follow: sends join only above the last.
        floor = store.position(events[-1]) if len(events) == limit else (within.since, "")
        for send in sends.values():
            found = _send_entry(send)
            if found is None:
                continue
            position = (str(found["at"]), f"send#{send['send_id']}")
            if (
                floor < position
                and position[0] < within.until
                and (before is None or position < before)
            ):
                entries.append((position, found))
        entries.sort(key=lambda pair: pair[0], reverse=True)
        shown = entries[:limit]
        more = len(entries) > limit or len(events) == limit
        next_cursor = _encode(shown[-1][0]) if shown and more else None
        return Page([entry for _, entry in shown], next_cursor)

    def _possible_sends(self, contact_id: str, enrollment: Mapping[str, Any]) -> set[str]:
        sequence_id = str(enrollment["sequence_id"])
        steps = {step.id for step in self._versions_of(sequence_id, int(enrollment["version"]))}
        runs = range(1, int(enrollment.get("run", 1)) + 1)
        return {
            SendJob(contact_id, sequence_id, 0, step, run).send_id for run in runs for step in steps
        }

    def _versions_of(self, sequence_id: str, pinned: int) -> list[Any]:
        """Steps of the pinned version and of the newest (a re-entry may have used either)."""
        loaded: list[Sequence] = [self.sequence(sequence_id, pinned)]
        head = self.versions.head(sequence_id)
        if head is not None and head.version != pinned:
            loaded.append(self.sequence(sequence_id, head.version))
        return [step for sequence in loaded for step in sequence.steps]


def plain(value: Any) -> Any:
    """Stored values as JSON: whole Decimals as ints, others as floats; sets as sorted lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if k not in _HIDDEN}
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def _event_entry(
    event: Mapping[str, Any], sends: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """An event as a timeline entry, with the sequence and step of its send; a `sent` event of
    a known send is the send's own entry already."""
    send = sends.get(str(event.get("send_id", "")))
    if event.get("type") == "sent" and send is not None:
        return None
    entry: dict[str, Any] = {k: v for k, v in plain(event).items() if k not in _KEYS}
    if entry.get("type") == "clicked":
        entry.setdefault("method", CLICK_METHOD)  # a GET click's item names no method
    if send is not None:
        entry.update(
            {k: plain(send[k]) for k in ("sequence_id", "step_id", "variant") if k in send}
        )
    return entry


def _send_entry(send: Mapping[str, Any]) -> dict[str, Any] | None:
    """A send that went out (or is going out) as a timeline entry; skipped and failed sends
    appear through their `skipped`/`rejected` events, which carry the reason."""
    status = str(send.get("status"))
    if status not in _SEND_TYPES:
        return None
    at = send.get("sent_at") or send.get("ses_calling_at") or send.get("claimed_at")
    if not at:
        return None
    entry = {"at": at, "type": _SEND_TYPES[status], "send_id": send["send_id"]}
    entry.update({k: plain(send[k]) for k in _SEND_FIELDS if k in send and k != "status"})
    if "delivery_status" in send:
        entry["delivery_status"] = send["delivery_status"]
    return entry


def _encode(position: store.Position) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _decode(cursor: str) -> store.Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
    except (ValueError, binascii.Error):
        raise InvalidInput("cursor", "is not a cursor this API gave") from None
    if (
        not isinstance(found, list)
        or len(found) != 2
        or not all(isinstance(part, str) and 0 < len(part) <= 200 for part in found)
    ):
        raise InvalidInput("cursor", "is not a cursor this API gave")
    return (found[0], found[1])


def _moment(raw: str, field: str, *, end: bool) -> str:
    """A date or UTC timestamp as the table's ISO form; a whole-day `until` ends with its day."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return iso((start + (timedelta(days=1) if end else timedelta())).timestamp())
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            field, "must be a date (2026-03-01) or a UTC time (2026-03-01T12:00:00Z)"
        ) from None
    if moment.utcoffset() is None:
        raise InvalidInput(field, "a time needs its offset (Z for UTC)")
    return iso(moment.timestamp())
