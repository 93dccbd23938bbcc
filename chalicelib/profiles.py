"""A contact as a typed value: read once per job, passed down, never re-read.

`Profile.from_item` turns the stored profile into one frozen value; everything a send needs
(zone, country, locale, subscription, pause, consent, template fields) reads it from there.
Later capabilities (segments, stages, scores) add fields here rather than reading the item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

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
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

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
            attributes=MappingProxyType(dict(item.get("attributes") or {})),
        )

    @property
    def unsubscribed(self) -> bool:
        return self.status == "unsubscribed" or self.unsubscribed_at is not None

    def template_fields(self) -> dict[str, Any]:
        """What templates see as `contact`: custom attributes, then the standard fields set."""
        context = dict(self.attributes)
        context.update({name: value for name in TEMPLATE_FIELDS if (value := getattr(self, name))})
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
