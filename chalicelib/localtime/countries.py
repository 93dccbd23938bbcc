"""Which zone a country's contacts live in, from the tz database's own country table.

`zone.tab` (bundled with the `tzdata` package) lists, for every ISO 3166 country that has
zones, each zone in use there. A country with one zone maps to it. A country with several gets
the default below, chosen as the zone where most of its people live; where no zone holds a
clear majority (the Democratic Republic of the Congo, Micronesia, the US Minor Outlying
Islands, Antarctica), there is no guess: the contact's own zone is needed (`country_needs_zone`
is noted and the next link of the fallback chain is used).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

MULTI_ZONE_DEFAULTS: dict[str, str] = {
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "CY": "Asia/Nicosia",
    "DE": "Europe/Berlin",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "GL": "America/Nuuk",
    "ID": "Asia/Jakarta",
    "KI": "Pacific/Tarawa",
    "KZ": "Asia/Almaty",
    "MH": "Pacific/Majuro",
    "MN": "Asia/Ulaanbaatar",
    "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur",
    "NZ": "Pacific/Auckland",
    "PF": "Pacific/Tahiti",
    "PG": "Pacific/Port_Moresby",
    "PS": "Asia/Hebron",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "US": "America/New_York",
    "UZ": "Asia/Tashkent",
}
"""Countries with several zones and the zone most of their people live in."""

CountryKind = Literal["single", "default", "needs_zone", "unknown"]


@dataclass(frozen=True)
class CountryZone:
    """What a country code says about a contact's zone: `zone` is None unless it decides one."""

    code: str
    kind: CountryKind
    zone: str | None


@lru_cache(maxsize=1)
def country_zones() -> dict[str, tuple[str, ...]]:
    """Every zone of every country in the bundled `zone.tab`, in the table's order."""
    listing = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones: dict[str, list[str]] = {}
    for line in listing.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, name, *_comment = line.split("\t")
            zones.setdefault(code, []).append(name)
    return {code: tuple(names) for code, names in zones.items()}


@lru_cache(maxsize=512)
def country_zone(country: str) -> CountryZone:
    """The zone an ISO 3166 alpha-2 code decides, and why (single zone, default or none)."""
    code = country.strip().upper()
    zones = country_zones().get(code, ())
    if len(zones) == 1:
        return CountryZone(code, "single", zones[0])
    if code in MULTI_ZONE_DEFAULTS:
        return CountryZone(code, "default", MULTI_ZONE_DEFAULTS[code])
    return CountryZone(code, "needs_zone" if zones else "unknown", None)
