"""Contacts: validate and normalise rows, and import them once each.

Only the set of identity digests seen (for in-file duplicates) grows with an import, at about
100 bytes per distinct contact. Every rejected row names its line, field and reason.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache, partial
from importlib import resources
from itertools import islice
from typing import Any, Literal

from chalicelib.emails import hash_identity, normalise_email
from chalicelib.errors import ImportInterrupted, WriteRefused
from chalicelib.localtime import validate_zone
from chalicelib.numbers import storable
from chalicelib.store import (
    AWS_ERRORS,
    KnownContact,
    ProfileChange,
    Scalar,
    Table,
    email_claim_write,
    profile_create_write,
    profile_update_write,
)

MAX_CELL = 4096  # characters in one cell; larger cells reject their row
MAX_ATTRIBUTES = 50  # custom attributes per contact
MAX_LABELS = 100  # tags or interests per contact
BATCH = 50  # contacts looked up together (two keys each: BatchGetItem takes 100)

TEXT_FIELDS = ("first_name", "last_name", "company", "consent_source")
SET_FIELDS = ("tags", "interests")
STANDARD_FIELDS = frozenset(
    ("email", "locale", "timezone", "country", "consent_at", *TEXT_FIELDS, *SET_FIELDS)
)
ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 16  # 82 random bits
_LOCALE = re.compile(r"([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?", re.IGNORECASE)


@dataclass(frozen=True)
class Contact:
    """One valid row, normalised; absent or blank cells are simply not in it."""

    line: int
    email: str
    identity: str
    fields: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    attributes: Mapping[str, Scalar] = field(default_factory=dict)

    @property
    def email_hash(self) -> str:
        return hash_identity(self.identity)


@dataclass(frozen=True)
class Rejected:
    """A row that was not imported: where it starts, which field, and why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


Row = Contact | Rejected
Outcome = Literal["imported", "updated", "unchanged", "suppressed"]


@dataclass(frozen=True)
class Placed:
    """Where an imported row went: its contact id (None for a contact a dry run would create,
    or a suppressed address nobody holds) and the outcome."""

    line: int
    email: str
    contact_id: str | None
    outcome: Outcome


@dataclass
class FirstPlaced:
    """The first `limit` rows an import placed, and how many more there were: a caller shows
    ids without holding a whole file's worth in memory."""

    limit: int
    first: list[Placed] = field(default_factory=list)
    more: int = 0

    def add(self, placed: Placed) -> None:
        if len(self.first) < self.limit:
            self.first.append(placed)
        else:
            self.more += 1


@dataclass
class ImportReport:
    """Counts per outcome, plus every row not imported, in file order."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    @property
    def rows(self) -> int:
        """Rows read, imported or not."""
        return self.imported + self.updated + self.unchanged + self.suppressed + len(self.rejected)

    def summary(self) -> str:
        return (
            f"imported {self.imported}, updated {self.updated}, unchanged {self.unchanged}, "
            f"suppressed {self.suppressed}, rejected {len(self.rejected)}"
        )

    def record(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


# ---------------------------------------------------------------- fields


def new_contact_id() -> str:
    """A random id of lower-case letters and digits: never starts with `-` (which a command
    line would read as an option) and is selected whole by a double click."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from the tzdata we already bundle."""
    listing = resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text("utf-8")
    return frozenset(line[:2] for line in listing.splitlines() if line and line[0] != "#")


def _text(value: object) -> str | None:
    """Free text is stored exactly as given (formula-looking or not); blank means absent."""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value if value.strip() else None


def _locale(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    found = _LOCALE.fullmatch(text.strip().replace("_", "-"))
    if not found:
        raise ValueError(f"{text!r} is not a language tag such as 'en' or 'pt-BR'")
    language, script, region = found.groups()
    parts = (language.lower(), script and script.title(), region and region.upper())
    return "-".join(p for p in parts if p)


def _timezone(value: object) -> str | None:
    """Blank means unset (the country, then the sequence's zone, is used); a bad name is an
    error, never silently a default."""
    if isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, str):
        raise ValueError(f"invalid time zone {value!r}: expected an IANA name such as 'Asia/Tokyo'")
    return validate_zone(value.strip()).key


def _country(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    code = text.strip().upper()
    if code not in country_codes():
        raise ValueError(f"{text!r} is not an ISO 3166 alpha-2 country code such as 'DE'")
    return code


def _timestamp(value: object) -> str | None:
    """An ISO 8601 instant with an offset; a naive time would silently take the server's zone."""
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2026-01-31T09:00:00Z)")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_FIELD_PARSERS: dict[str, Callable[[object], str | None]] = {
    "locale": _locale,
    "timezone": _timezone,
    "country": _country,
    "consent_at": _timestamp,
    **dict.fromkeys(TEXT_FIELDS, _text),
}


def _labels(value: object) -> frozenset[str]:
    """`;`-separated in CSV, a list of strings in JSONL; blanks dropped."""
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of strings")
    labels = frozenset(i.strip() for i in items if i.strip())
    if len(labels) > MAX_LABELS:
        raise ValueError(f"more than {MAX_LABELS} values")
    return labels


def _attribute(value: object) -> Scalar:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        number = storable(value)  # a number DynamoDB would refuse is this row's problem
        return int(number) if isinstance(value, int) else number
    raise ValueError(f"expected text, a number or true/false, got {type(value).__name__}")


def _oversized(value: object) -> bool:
    if isinstance(value, str):
        return len(value) > MAX_CELL
    return isinstance(value, list) and sum(len(str(v)) for v in value) > MAX_CELL


def attribute_name_problem(name: str) -> str | None:
    """Why `name` cannot be a custom attribute, or None if it can."""
    if ATTRIBUTE_NAME.fullmatch(name):
        return None
    return "custom attribute names must match [a-z][a-z0-9_]{0,63}"


def contact_from_cells(line: int, cells: Mapping[str, object]) -> Row:
    """Validate one row; `None` cells are absent. Every bad field of the row is named."""
    problems: list[tuple[str, str]] = []
    email, identity = "", ""
    fields: dict[str, str] = {}
    labels: dict[str, frozenset[str]] = {}
    attributes: dict[str, Scalar] = {}
    for name, value in cells.items():
        if value is None:
            continue
        try:
            if _oversized(value):
                raise ValueError(f"cell longer than {MAX_CELL} characters")
            if name == "email":
                if not isinstance(value, str):
                    raise ValueError("expected text")
                email, identity = normalise_email(value)
            elif name in _FIELD_PARSERS:
                parsed = _FIELD_PARSERS[name](value)
                if parsed is not None:
                    fields[name] = parsed
            elif name in SET_FIELDS:
                if found := _labels(value):
                    labels[name] = found
            elif problem := attribute_name_problem(name):
                raise ValueError(problem)
            elif (attribute := _attribute(value)) is not None:
                attributes[name] = attribute
        except ValueError as err:
            problems.append((name, str(err)))
    if not email and "email" not in dict(problems):
        problems.insert(0, ("email", "missing"))
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(("attributes", f"more than {MAX_ATTRIBUTES} custom attributes"))
    if problems:
        return Rejected(line, problems[0][0], "; ".join(_problem_list(problems)))
    return Contact(line, email, identity, fields, labels, attributes)


def _problem_list(problems: Sequence[tuple[str, str]]) -> list[str]:
    """First reason as is, further ones prefixed with their field."""
    first, *rest = problems
    return [first[1], *(f"{name}: {reason}" for name, reason in rest)]


# ---------------------------------------------------------------- import


def first_occurrences(rows: Iterable[Row]) -> Iterator[Row]:
    """Drop later rows for an identity already seen in this file, reporting them by line."""
    seen: set[bytes] = set()
    for row in rows:
        if isinstance(row, Contact):
            digest = hashlib.blake2b(row.identity.encode(), digest_size=16).digest()
            if digest in seen:
                yield duplicate(row)
                continue
            seen.add(digest)
        yield row


def duplicate(row: Contact) -> Rejected:
    """A later row for an address an earlier row of the same file (or import job) placed."""
    return Rejected(row.line, "email", f"duplicate of an earlier row ({row.identity})")


def profile_change(contact: Contact, profile: Mapping[str, Any] | None) -> ProfileChange:
    """What importing `contact` must write: only present fields that differ from `profile`.

    Tags and interests are added to, never replaced; status and unsubscribe fields are never
    part of an import.
    """
    stored: Mapping[str, Any] = profile or {}
    stored_attributes: Mapping[str, Any] = stored.get("attributes") or {}
    fields: dict[str, Scalar] = {} if profile else {"email": contact.email}
    fields.update({k: v for k, v in contact.fields.items() if stored.get(k) != v})
    return ProfileChange(
        fields=fields,
        sets={
            name: added
            for name, values in contact.labels.items()
            if (added := values - set(stored.get(name) or ()))
        },
        attributes={k: v for k, v in contact.attributes.items() if stored_attributes.get(k) != v},
    )


def plan(contact: Contact, known: KnownContact) -> tuple[Outcome, ProfileChange]:
    """What importing `contact` over what the table knows comes to, and what it must write."""
    change = profile_change(contact, known.profile)
    if known.suppressed:
        return "suppressed", change
    if known.profile is None:
        return "imported", change
    return ("unchanged" if change.empty else "updated"), change


def import_contacts(
    table: Table,
    rows: Iterable[Row],
    *,
    now: str,
    new_id: Callable[[], str],
    dry_run: bool = False,
    workers: int = 1,
    on_batch: Callable[[], None] = lambda: None,
    on_contact: Callable[[Placed], None] = lambda placed: None,
) -> ImportReport:
    """Import valid rows once each; a second run of the same rows writes nothing.

    Suppressed addresses are skipped and existing contacts' subscription state is left alone,
    so an import never re-subscribes anyone. `workers` threads write one batch's contacts at
    once (they are distinct addresses), which is what makes DynamoDB latency bearable.
    `on_contact` hears, in file order, the id each valid row was given or matched.

    A row the table refuses is rejected like any bad row and the import goes on. If AWS fails
    for longer than its retries, `ImportInterrupted` carries the report of what was done.
    """
    report = ImportReport()
    contacts = _contacts_only(first_occurrences(rows), report)
    one = partial(_import_one, table, now=now, new_id=new_id, dry_run=dry_run)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while batch := list(islice(contacts, BATCH)):
            try:
                known = table.known_contacts([c.email_hash for c in batch])
            except AWS_ERRORS as exc:
                raise _interrupted(report, exc) from exc
            failure: Exception | None = None
            for placed in pool.map(one, batch, [known[c.email_hash] for c in batch]):
                if isinstance(placed, Rejected):
                    report.rejected.append(placed)
                elif isinstance(placed, Exception):
                    failure = failure or placed
                else:
                    report.record(placed.outcome)
                    on_contact(placed)
            if failure is not None:
                raise _interrupted(report, failure) from failure
            on_batch()
    report.rejected.sort(key=lambda row: row.line)
    return report


def _interrupted(report: ImportReport, cause: Exception) -> ImportInterrupted:
    report.rejected.sort(key=lambda row: row.line)
    code = getattr(cause, "response", {}).get("Error", {}).get("Code")
    return ImportInterrupted(report, str(code or type(cause).__name__))


def _contacts_only(rows: Iterable[Row], report: ImportReport) -> Iterator[Contact]:
    for row in rows:
        if isinstance(row, Rejected):
            report.rejected.append(row)
        else:
            yield row


def _import_one(
    table: Table,
    contact: Contact,
    known: KnownContact,
    *,
    now: str,
    new_id: Callable[[], str],
    dry_run: bool,
) -> Placed | Rejected | Exception:
    """Apply one contact; a write that lost a race is re-planned from a fresh read.

    Runs in a worker thread, so an AWS failure is returned, not raised, for the caller to stop
    the import after recording the rest of the batch.
    """
    try:
        for _attempt in range(3):
            placed = partial(Placed, contact.line, contact.email, known.contact_id)
            outcome, change = plan(contact, known)
            if dry_run or outcome in ("suppressed", "unchanged"):
                return placed(outcome)
            contact_id = known.contact_id or new_id()
            if _write(table, contact, known, change, now, contact_id):
                return Placed(contact.line, contact.email, contact_id, outcome)
            known = table.known_contacts([contact.email_hash])[contact.email_hash]
    except WriteRefused as refused:
        return Rejected(contact.line, "row", f"{refused}; check the row's values")
    except AWS_ERRORS as exc:
        failure: Exception = exc
        return failure
    return Rejected(contact.line, "email", "the contact kept changing during the import; retry")


def _write(
    table: Table,
    contact: Contact,
    known: KnownContact,
    change: ProfileChange,
    now: str,
    contact_id: str,
) -> bool:
    """Claim the address first, then fill the profile: a crash in between is finished later."""
    if known.profile is not None:
        has_attributes = "attributes" in known.profile
        return table.apply(
            profile_update_write(contact_id, change, now, has_attributes=has_attributes)
        )
    if known.contact_id is None and not table.apply(
        email_claim_write(contact.email_hash, contact_id, now)
    ):
        return False
    return table.apply(profile_create_write(contact_id, contact.email_hash, change, now))
