"""Public holidays by country (the `holidays` package), behind a small hashable protocol."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

import holidays as holidays_lib


class HolidayCalendar(Hashable, Protocol):
    """Public holidays of one place; hashable so planning results can be cached per calendar."""

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name if ``day`` is a public holiday, else None."""
        ...


@lru_cache(maxsize=4096)
def _country_year_holidays(country: str, year: int) -> dict[date, str]:
    return dict(holidays_lib.country_holidays(country, years=year).items())


@dataclass(frozen=True)
class CountryHolidays:
    """Adaptor over the ``holidays`` package, built once per (country, year)."""

    country: str

    def holiday_name(self, day: date) -> str | None:
        return _country_year_holidays(self.country, day.year).get(day)


@dataclass(frozen=True)
class NoHolidays:
    """A calendar without holidays, carrying why (e.g. the country is not supported)."""

    reason: str = ""

    def holiday_name(self, day: date) -> str | None:
        return None


def holiday_calendar(country: object) -> CountryHolidays | NoHolidays:
    """Calendar for an ISO-3166 alpha-2 code; unknown codes get NoHolidays with the reason."""
    code = country.strip().upper() if isinstance(country, str) else ""
    if code not in holidays_lib.list_supported_countries():
        return NoHolidays(reason=f"holidays_unknown_country:{code or repr(country)}")
    return CountryHolidays(code)
