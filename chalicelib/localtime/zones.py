"""Which zone a contact lives in: canonical IANA names and the fallback chain."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.localtime.countries import country_zone

ZoneSource = Literal["contact", "country", "sequence", "default", "utc"]

_GEOGRAPHIC_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)


@lru_cache(maxsize=1)
def canonical_zone_names() -> frozenset[str]:
    """IANA keys we accept: geographic ``Area/Location`` keys of the bundled tzdata, plus UTC.

    Rejected on purpose: POSIX-style and legacy names (``EST5EDT``, ``EST``, ``US/Eastern``,
    ``GMT``), ``Etc/GMT+3`` (its sign is inverted, a classic marketer trap) and ``Factory``.
    """
    listing = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    names = {line.strip() for line in listing.splitlines()}
    return frozenset(n for n in names if n.partition("/")[0] in _GEOGRAPHIC_AREAS) | {"UTC"}


def validate_zone(name: object) -> ZoneInfo:
    """Return the zone for a canonical IANA key, or raise ValueError naming the bad value."""
    if not isinstance(name, str) or name not in canonical_zone_names():
        raise ValueError(
            f"invalid time zone {name!r}: expected a canonical IANA name such as 'Europe/Riga'"
        )
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError as err:  # listed by tzdata but unreadable: broken install
        raise ValueError(f"invalid time zone {name!r}: no zone data found") from err


@dataclass(frozen=True)
class ResolvedZone:
    """The zone a contact's sends use, and which link of the fallback chain supplied it."""

    zone: ZoneInfo
    name: str
    source: ZoneSource
    notes: tuple[str, ...] = ()


def _zone_or_none(name: object) -> ZoneInfo | None:
    try:
        return validate_zone(name)
    except ValueError:
        return None


def resolve_zone(
    contact_tz: object, country: object, fallback_tz: object, fallback: ZoneSource = "sequence"
) -> ResolvedZone:
    """Pick contact → country → `fallback_tz` → UTC; never the server's own zone.

    `fallback` names the last link: a sequence's default zone when planning sends, the
    deployment's default zone for the contact's frequency cap. A given but unusable value is
    skipped and noted (``invalid_contact_zone``, ``unknown_country``, ``country_needs_zone``
    for a country of several zones with no clear default, ``invalid_<fallback>_zone``); a
    missing one (None) is skipped silently. A ``utc`` source means we know nothing about the
    contact (promise 9's ``no_timezone``).
    """
    notes: list[str] = []
    zone = _zone_or_none(contact_tz)
    if zone is not None:
        return ResolvedZone(zone, zone.key, "contact")
    if contact_tz is not None:
        notes.append("invalid_contact_zone")
    if country is not None:
        found = country_zone(country) if isinstance(country, str) else None
        zone = _zone_or_none(found.zone) if found else None
        if zone is not None:
            return ResolvedZone(zone, zone.key, "country", tuple(notes))
        needs_zone = found is not None and found.kind == "needs_zone"
        notes.append("country_needs_zone" if needs_zone else "unknown_country")
    zone = _zone_or_none(fallback_tz)
    if zone is not None:
        return ResolvedZone(zone, zone.key, fallback, tuple(notes))
    if fallback_tz is not None:
        notes.append(f"invalid_{fallback}_zone")
    return ResolvedZone(ZoneInfo("UTC"), "UTC", "utc", tuple(notes))
