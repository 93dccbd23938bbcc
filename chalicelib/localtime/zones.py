"""Which zone a contact lives in: canonical IANA names and the fallback chain."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZoneSource = Literal["contact", "country", "sequence", "utc"]

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
# Most populous zone per ISO-3166 alpha-2 country: a guess only used when the contact has none.
COUNTRY_DEFAULT_ZONES: dict[str, str] = {
    "AE": "Asia/Dubai",
    "AR": "America/Argentina/Buenos_Aires",
    "AT": "Europe/Vienna",
    "AU": "Australia/Sydney",
    "BD": "Asia/Dhaka",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CH": "Europe/Zurich",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "CO": "America/Bogota",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "EG": "Africa/Cairo",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "ID": "Asia/Jakarta",
    "IE": "Europe/Dublin",
    "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata",
    "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "KE": "Africa/Nairobi",
    "KR": "Asia/Seoul",
    "LK": "Asia/Colombo",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MA": "Africa/Casablanca",
    "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur",
    "NG": "Africa/Lagos",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "NP": "Asia/Kathmandu",
    "NZ": "Pacific/Auckland",
    "PE": "America/Lima",
    "PH": "Asia/Manila",
    "PK": "Asia/Karachi",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade",
    "RU": "Europe/Moscow",
    "SA": "Asia/Riyadh",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "TH": "Asia/Bangkok",
    "TR": "Europe/Istanbul",
    "TW": "Asia/Taipei",
    "UA": "Europe/Kyiv",
    "US": "America/New_York",
    "UY": "America/Montevideo",
    "VN": "Asia/Ho_Chi_Minh",
    "ZA": "Africa/Johannesburg",
}


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


def resolve_zone(contact_tz: object, country: object, sequence_tz: object) -> ResolvedZone:
    """Pick contact → country default → sequence default → UTC; never the server's own zone.

    A given but unusable value is skipped and noted (``invalid_contact_zone``,
    ``unknown_country``, ``invalid_sequence_zone``); a missing one (None) is skipped silently.
    A ``utc`` source means we know nothing about the contact (promise 9's ``no_timezone``).
    """
    code = country.strip().upper() if isinstance(country, str) else ""
    chain: tuple[tuple[ZoneSource, object, object, str], ...] = (
        ("contact", contact_tz, contact_tz, "invalid_contact_zone"),
        ("country", country, COUNTRY_DEFAULT_ZONES.get(code), "unknown_country"),
        ("sequence", sequence_tz, sequence_tz, "invalid_sequence_zone"),
    )
    notes: list[str] = []
    for source, given, zone_name, note in chain:
        zone = _zone_or_none(zone_name)
        if zone is not None:
            return ResolvedZone(zone, zone.key, source, tuple(notes))
        if given is not None:
            notes.append(note)
    return ResolvedZone(ZoneInfo("UTC"), "UTC", "utc", tuple(notes))
