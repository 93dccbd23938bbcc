"""A contact as a typed value: read once per job, passed down, never re-read.

`Profile.from_item` turns the stored profile into one frozen value; everything a send needs
(zone, country, locale, subscription, pause, consent, template fields) reads it from there,
and so do segments and stages: the behaviour summary the stream keeps on the profile
(`chalicelib.summary`: last human engagement, interests' times, event counts, stage, segments)
is part of it. Later capabilities (scores) add fields here rather than reading the item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from chalicelib import summary
from chalicelib.scoring.state import ScoreState
from chalicelib.stamps import instant

__all__ = ["TEMPLATE_FIELDS", "Profile", "paused_until"]

TEMPLATE_FIELDS = ("first_name", "last_name", "company", "email", "locale", "country", "timezone")
"""The standard fields templates may see as `contact.<name>`."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Profile:
    """What the table knows about one contact, typed. Absent values are None (or empty)."""

    contact_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    locale: str | None = None
    timezone: str | None = None
    """As stored: possibly not a valid zone (planning then notes `invalid_contact_zone`)."""
    country: str | None = None
    status: str = "subscribed"
    unsubscribed_at: str | None = None
    paused_until: str | None = None
    topics: tuple[str, ...] | None = None
    """Topics the contact chose on the preferences page; None if they never chose."""
    tags: frozenset[str] = frozenset()
    interests: frozenset[str] = frozenset()
    consent_at: str | None = None
    consent_source: str | None = None
    created_at: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    # The behaviour summary (see `chalicelib.summary`); timestamps are `stamps.iso` text.
    last_opened_at: str | None = None
    last_clicked_at: str | None = None
    last_converted_at: str | None = None
    last_engaged_at: str | None = None
    """The last human open, click or conversion (machines never count)."""
    interest_at: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """When a human click last showed each interest (imported interests have no time)."""
    events: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)
    """Per product event name: count `n`, `first`, `last` and the `recent` occurrences."""
    stage: str | None = None
    segments: frozenset[str] = frozenset()
    """The segments the contact was in when the stream last evaluated them."""
    inactive_at: str | None = None
    """The due minute of the contact's pending inactivity check, if one is armed."""
    score: ScoreState | None = None
    """The lead score as last written (`chalicelib.scoring`); decay it with `engagement(at)`."""

    @classmethod
    def from_item(cls, contact_id: str, item: Mapping[str, Any]) -> Profile:
        """The value of a stored profile item (as `Table.profile` returns it)."""
        topics = item.get("topics")
        return cls(
            contact_id=contact_id,
            email=_text(item.get("email")),
            first_name=_text(item.get("first_name")),
            last_name=_text(item.get("last_name")),
            company=_text(item.get("company")),
            locale=_text(item.get("locale")),
            timezone=_raw(item.get("timezone")),
            country=_raw(item.get("country")),
            status=_text(item.get("status")) or "subscribed",
            unsubscribed_at=_text(item.get("unsubscribed_at")),
            paused_until=_text(item.get("paused_until")),
            topics=tuple(str(t) for t in topics) if isinstance(topics, list | tuple) else None,
            tags=frozenset(str(t) for t in item.get("tags") or ()),
            interests=frozenset(str(t) for t in item.get("interests") or ()),
            consent_at=_text(item.get("consent_at")),
            consent_source=_text(item.get("consent_source")),
            created_at=_text(item.get("created_at")),
            attributes=MappingProxyType(dict(item.get("attributes") or {})),
            last_opened_at=_text(item.get(summary.LAST_OPENED)),
            last_clicked_at=_text(item.get(summary.LAST_CLICKED)),
            last_converted_at=_text(item.get(summary.LAST_CONVERTED)),
            last_engaged_at=_text(item.get(summary.LAST_ENGAGED)),
            interest_at=MappingProxyType(dict(item.get(summary.INTEREST_AT) or {})),
            events=MappingProxyType(dict(item.get(summary.EVENTS) or {})),
            stage=_text(item.get(summary.STAGE)),
            segments=frozenset(str(s) for s in item.get(summary.SEGMENTS) or ()),
            inactive_at=_text(item.get(summary.INACTIVE_AT)),
            score=ScoreState.from_item(item.get("score")),
        )

    @property
    def unsubscribed(self) -> bool:
        return self.status == "unsubscribed" or self.unsubscribed_at is not None

    def template_fields(self, now: float | None = None) -> dict[str, Any]:
        """What templates see as `contact`: custom attributes, then the standard fields set,
        then `tags` and `interests` (sorted lists), `stage` (None before the first), and the
        lead score: `temperature`, `grade` and `score` (`fit`, `grade`, `temperature` and
        `engagement` decayed to `now`), None for a contact not scored yet."""
        context = dict(self.attributes)
        context.update({name: value for name in TEMPLATE_FIELDS if (value := getattr(self, name))})
        context.update(tags=sorted(self.tags), interests=sorted(self.interests), stage=self.stage)
        state = self.score
        score = None
        if state is not None:
            moment = int(now) if now is not None else state.ledger.ref
            score = {
                "fit": state.fit,
                "grade": state.grade,
                "temperature": state.temperature,
                "engagement": state.engagement(moment),
            }
        context.update(
            temperature=state.temperature if state else None,
            grade=state.grade if state else None,
            score=score,
        )
        return context


def paused_until(profile: Profile, now: datetime) -> datetime | None:
    """When a pause the contact chose ends, while it lasts; None when mail may go out now.

    The one pause rule: sends of a paused contact wait for the end of the pause (they are
    not skipped), and a test send is refused while it lasts.
    """
    if not profile.paused_until:
        return None
    ends = instant(profile.paused_until)
    return ends if ends > now else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _raw(value: object) -> str | None:
    """A string as stored; anything else kept visible (and invalid) rather than dropped."""
    if value is None or isinstance(value, str):
        return value or None
    return repr(value)
