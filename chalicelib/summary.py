"""What the table remembers of a contact's behaviour, kept on the profile from the stream.

Last human open, click and conversion; interests with the time of the human click that showed
them; per product event name a count, first and last time and its last `RECENT` occurrences
(with their scalar properties); the lifecycle stage and the segments the contact is in.
Segments and stages read these fields and nothing else, so evaluating them never scans events.

`observe` is pure: the summary fields one stored event changes, with their new values (whole
maps and sets: an update costs DynamoDB the item's size whatever it changes). People, not
machines, move it: machine opens and scanner clicks change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.store.productevents import PRODUCT_EVENT

if TYPE_CHECKING:
    from chalicelib.profiles import Profile

__all__ = [
    "EVENTS",
    "INACTIVE_AT",
    "INTERESTS",
    "INTEREST_AT",
    "LAST_CLICKED",
    "LAST_CONVERTED",
    "LAST_ENGAGED",
    "LAST_OPENED",
    "PRODUCT",
    "RECENT",
    "SEGMENTS",
    "STAGE",
    "STAGE_AT",
    "Changes",
    "applied",
    "human_engagement",
    "kept_properties",
    "observe",
]

LAST_OPENED = "last_opened_at"
LAST_CLICKED = "last_clicked_at"
LAST_CONVERTED = "last_converted_at"
LAST_ENGAGED = "last_engaged_at"
INTERESTS = "interests"
INTEREST_AT = "interest_at"
EVENTS = "events"
STAGE = "stage"
STAGE_AT = "stage_at"
SEGMENTS = "segments"
INACTIVE_AT = "inactive_at"
PRODUCT = PRODUCT_EVENT
"""The timeline type of product events (their own name is the `name` attribute)."""
RECENT = 10
KEPT_PROPERTIES = 20
KEPT_TEXT = 200

Changes = dict[str, Any]
"""Summary fields to set on the profile, by item attribute name (None removes one)."""


def human_engagement(event: Mapping[str, Any]) -> bool:
    """A person opened, clicked or converted (what inactivity and recency count)."""
    kind = event.get("type")
    if kind == "converted":
        return True
    return kind in ("opened", "clicked") and event.get("verdict") == "human"


def observe(profile: Profile, event: Mapping[str, Any], link_tags: Iterable[str] = ()) -> Changes:
    """The summary fields `event` changes on `profile`, with their new values (none: `{}`).

    `link_tags` are the `data-nurture-tag`s of the clicked link. A product event already among
    the kept occurrences of its name (a redelivery, a retried request) changes nothing.
    """
    kind, at = event.get("type"), str(event.get("at", ""))
    if kind == PRODUCT:
        entry = _with_occurrence(profile, event)
        return {EVENTS: {**profile.events, str(event["name"]): entry}} if entry else {}
    if not human_engagement(event):
        return {}
    names = {"opened": (LAST_OPENED,), "clicked": (LAST_CLICKED, LAST_OPENED)}.get(
        str(kind), (LAST_CONVERTED,)
    )
    changes: Changes = {
        name: at for name in (*names, LAST_ENGAGED) if (getattr(profile, name) or "") < at
    }
    shown = {tag: at for tag in link_tags if profile.interest_at.get(tag, "") < at}
    if shown:
        changes[INTEREST_AT] = {**profile.interest_at, **shown}
        changes[INTERESTS] = profile.interests | set(shown)
    return changes


def applied(profile: Profile, changes: Changes) -> Profile:
    """`profile` with summary `changes` made (None clears a field)."""
    known = {f.name for f in fields(profile)}
    typed: dict[str, Any] = {}
    for name, value in changes.items():
        if name in (INTERESTS, SEGMENTS):
            typed[name] = frozenset(value or ())
        elif name in (EVENTS, INTEREST_AT):
            typed[name] = value or {}
        elif name in known:
            typed[name] = value
    return replace(profile, **typed)


def _with_occurrence(profile: Profile, event: Mapping[str, Any]) -> dict[str, Any]:
    name, at, event_id = str(event["name"]), str(event["at"]), str(event["event_id"])
    entry = profile.events.get(name) or {}
    recent = list(entry.get("recent") or ())
    if any(seen.get("id") == event_id for seen in recent):
        return {}
    recent.append({"at": at, "id": event_id, "p": kept_properties(event.get("properties"))})
    recent.sort(key=lambda seen: str(seen.get("at", "")), reverse=True)
    return {
        "n": int(entry.get("n", 0)) + 1,
        "first": min(str(entry.get("first") or at), at),
        "last": max(str(entry.get("last") or at), at),
        "recent": recent[:RECENT],
    }


def kept_properties(properties: Any) -> dict[str, Any]:
    """The properties a segment's `where` can test: top-level scalars (text up to 200
    characters), at most 20 of them."""
    if not isinstance(properties, Mapping):
        return {}
    kept: dict[str, Any] = {}
    for name, value in sorted(properties.items()):
        if len(kept) == KEPT_PROPERTIES:
            break
        if isinstance(value, bool | Decimal | int) or (
            isinstance(value, str) and len(value) <= KEPT_TEXT
        ):
            kept[str(name)] = value
    return kept
