"""Local-time maths for send times: which zone a contact lives in and when a step may go out.

Pure: the current time, zones, windows and holiday calendars are passed in, so the scheduler
edge (EventBridge Scheduler, DynamoDB due buckets) stays thin and this stays testable without
AWS.

- `zones`: canonical IANA names and the contact → country → fallback → UTC chain.
- `countries`: the zone a country decides, from the tz database's `zone.tab`.
- `calendars`: public holidays by country.
- `windows`: send windows, quiet hours and the first allowed minute, across DST.
"""

from chalicelib.localtime.calendars import (
    CountryHolidays,
    HolidayCalendar,
    NoHolidays,
    holiday_calendar,
)
from chalicelib.localtime.countries import (
    MULTI_ZONE_DEFAULTS,
    CountryZone,
    country_zone,
    country_zones,
)
from chalicelib.localtime.windows import (
    NoSendTimeError,
    QuietHours,
    SendWindow,
    Slot,
    ceil_minute,
    next_send_time,
    next_time_of_day,
)
from chalicelib.localtime.zones import (
    ResolvedZone,
    ZoneSource,
    canonical_zone_names,
    resolve_zone,
    validate_zone,
)

__all__ = [
    "MULTI_ZONE_DEFAULTS",
    "CountryHolidays",
    "CountryZone",
    "HolidayCalendar",
    "NoHolidays",
    "NoSendTimeError",
    "QuietHours",
    "ResolvedZone",
    "SendWindow",
    "Slot",
    "ZoneSource",
    "canonical_zone_names",
    "ceil_minute",
    "country_zone",
    "country_zones",
    "holiday_calendar",
    "next_send_time",
    "next_time_of_day",
    "resolve_zone",
    "validate_zone",
]
