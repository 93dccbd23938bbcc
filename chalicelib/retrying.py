"""How long a due minute whose timers failed is fired again, and when.

Scheduler and EventBridge invoke Lambda asynchronously: a failed invocation gets Lambda's two
retries within minutes, then the dead-letter queue, not Scheduler's retry policy. A DynamoDB or
SES outage can last hours, so a minute with failed timers is fired again by a schedule of our
own, later and later, for up to RETRY_FOR; only then does the invocation fail (and, after
Lambda's retries, reach ScheduleDlq, which `nurture dlq redrive` replays). Timers done are gone
from the bucket and sends are claimed once, so nothing is sent twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib import observability
from chalicelib.schedule import minute_instant
from chalicelib.stamps import iso

RETRY_FOR = timedelta(hours=12)
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(minutes=30)

__all__ = ["LONGEST_WAIT", "RETRY_FOR", "next_attempt", "retry"]


class Resumer(Protocol):
    def resume(self, key: str, at: datetime) -> None: ...


def next_attempt(due: datetime, now: datetime) -> datetime | None:
    """When to fire again a minute due at `due` that failed at `now` (a quarter of the time it
    has been failing, from one minute to half an hour), or None once RETRY_FOR has passed."""
    failing = max(now - due, timedelta(0))
    if failing >= RETRY_FOR:
        return None
    wait = min(max(failing / 4, FIRST_WAIT), LONGEST_WAIT)
    return now + wait


def retry(scheduler: Resumer, minute: str, now: float) -> str | None:
    """Fire `minute` again later (a schedule of its own); when, or None once it has failed for
    RETRY_FOR. Counted (`DueMinutesRetried`) and logged: a person sees an outage go by."""
    when = datetime.fromtimestamp(now, UTC)
    later = next_attempt(minute_instant(minute), when)
    if later is None:
        return None
    scheduler.resume(minute, later)
    at = iso(later.timestamp())
    observability.logger.warning("due minute retried", extra={"minute": minute, "at": at})
    observability.count("DueMinutesRetried")
    return at
