"""The contact's frequency cap: pure rules over a profile, a sequence and the time.

The cap belongs to the contact, not to a sequence. Every marketing send counts once in the
contact's local day and once in their ISO week, whichever sequence sends it; a sequence with a
`frequency_cap` is refused while the counter of its period is full. Test sends and sequences
marked `transactional: true` are neither counted nor capped.

The day and week are the contact's, in one zone per contact: their own zone, else their
country's, else the deployment's default (`NURTURE_DEFAULT_TIMEZONE`), never a sequence's
zone, so two sequences with different zones agree on what "today" is for one contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from chalicelib import localtime
from chalicelib.profiles import Profile
from chalicelib.sequences import Sequence
from chalicelib.store import CapRule

COUNTER_DAYS = 9
"""How long a counter is kept: past the end of its week in every zone."""


@dataclass(frozen=True)
class CapPolicy:
    """The cap rules of one deployment; built in `services` with the configured default zone."""

    default_zone: str = "UTC"

    def zone(self, profile: Profile) -> localtime.ResolvedZone:
        """The contact's cap zone: contact → country → the deployment default → UTC."""
        return _resolve(profile.timezone, profile.country, self.default_zone)

    def rule(self, profile: Profile, sequence: Sequence, now: datetime) -> CapRule | None:
        """The counters a send of `sequence` to this contact adds to, and its limit if any."""
        if sequence.transactional:
            return None
        local = now.astimezone(self.zone(profile).zone).date()
        year, week, _ = local.isocalendar()
        cap = sequence.frequency_cap
        return CapRule(
            day=f"D{local.isoformat()}",
            week=f"W{year}-{week:02d}",
            expires_at=int(now.timestamp()) + COUNTER_DAYS * 86_400,
            limit=cap.max if cap else None,
            per=cap.per if cap else "day",
        )

    def lifts_at(self, profile: Profile, sequence: Sequence, now: datetime) -> datetime:
        """When the contact's current day (or week, for a weekly cap) ends: the first moment a
        postponed send may find room again."""
        zone = self.zone(profile).zone
        today = now.astimezone(zone).date()
        weekly = sequence.frequency_cap is not None and sequence.frequency_cap.per == "week"
        days = 7 - today.weekday() if weekly else 1
        following = today + timedelta(days=days)
        return datetime(following.year, following.month, following.day, tzinfo=zone)


@lru_cache(maxsize=4096)
def _resolve(contact_tz: str | None, country: str | None, default: str) -> localtime.ResolvedZone:
    return localtime.resolve_zone(contact_tz, country, default, "default")
