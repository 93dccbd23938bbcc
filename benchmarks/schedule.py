"""Plan one step for 1,000,000 enrollments spread over 400 zones.

Reports planning speed (the product's `schedule.plan_step`, as enrolling plans a first step,
per core), the schedules it needs (one per distinct UTC minute) against the distinct (zone,
local slot) pairs, and the DynamoDB writes: timers go out in batches of 25 through
`Timers.put_many`, measured on moto for a 100,000-enrollment slice. Targets: schedules <=
distinct (zone, local slot) pairs; planning >= 50,000 enrollments/s per core.

Run: python benchmarks/schedule.py [--no-writes]
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    NURTURE_TABLE="bench-schedule",
)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moto import mock_aws

from chalicelib import localtime, schedule, services, store
from chalicelib.profiles import Profile
from chalicelib.sequences import parse_sequence

ENROLLMENTS = 1_000_000
ZONES = 400
WRITE_SLICE = 100_000
SEQUENCE = parse_sequence("""
id: bench
name: Bench
default_timezone: Europe/Berlin
default_locale: en
send_window: {start: "09:00", end: "11:00", days: [tue, wed, thu], skip_holidays: true}
steps:
  - id: first
    template: {en: {subject: "Hi", html: "<p>Hi</p>"}}
""")
FIRST = SEQUENCE.steps[0]
NOW = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)  # a Monday, a week before EU summer time
COUNTRIES = ["US", "GB", "DE", "FR", "LV", "IN", "NP", "AU", "BR", "JP", None]


def profiles() -> list[Profile]:
    names = sorted(localtime.canonical_zone_names())
    zones = [names[int(i * len(names) / ZONES)] for i in range(ZONES)]
    rng = random.Random(8)
    return [
        Profile(f"c{n}", timezone=rng.choice(zones), country=rng.choice(COUNTRIES))
        for n in range(ENROLLMENTS)
    ]


def plan_all(people: list[Profile], spread: bool) -> tuple[float, list]:
    """Plan everyone; `spread` gives each enrollment its own instant over a week (no sharing)."""
    rng = random.Random(9)
    afters = (
        [NOW + timedelta(seconds=rng.randrange(7 * 86400)) for _ in people]
        if spread
        else [NOW] * len(people)
    )
    schedule._plan.cache_clear()
    began = time.process_time()
    plans = [
        schedule.plan_step(FIRST, after, p, SEQUENCE, NOW)
        for after, p in zip(afters, people, strict=True)
    ]
    return time.process_time() - began, plans


def report(label: str, seconds: float, plans: list) -> None:
    minutes = {p.minute for p in plans}
    pairs = {(p.zone, p.local.replace(tzinfo=None)) for p in plans}
    print(
        f"{label}: {ENROLLMENTS:,} enrollments planned in {seconds:.2f} s CPU "
        f"= {ENROLLMENTS / seconds:,.0f}/s per core, {seconds / ENROLLMENTS * 1e5:.2f} s per 100k"
    )
    print(
        f"  schedules (distinct UTC minutes): {len(minutes):,}   "
        f"distinct (zone, local slot) pairs: {len(pairs):,}   "
        f"schedules <= pairs: {len(minutes) <= len(pairs)}"
    )


def writes(plans: list) -> None:
    with mock_aws():
        table = services.table()
        table.create()
        timers = [
            store.Timer(p.minute, f"c{n}", "bench", 1, 0, "send", "first")
            for n, p in enumerate(plans[:WRITE_SLICE])
        ]
        began = time.perf_counter()
        requests = store.Timers(table).put_many(timers)
        elapsed = time.perf_counter() - began
    print(
        f"timers for {WRITE_SLICE:,} enrollments: {len(timers):,} items in {requests:,} "
        f"BatchWriteItem requests ({elapsed:.1f} s on in-process moto); "
        f"for {ENROLLMENTS:,}: {ENROLLMENTS:,} items, {-(-ENROLLMENTS // 25):,} requests"
    )


if __name__ == "__main__":
    people = profiles()
    cohort_seconds, cohort = plan_all(people, spread=False)
    report("cohort enrolled at one instant", cohort_seconds, cohort)
    spread_seconds, spread = plan_all(people, spread=True)
    report("enrollments spread over 7 days", spread_seconds, spread)
    if "--no-writes" not in sys.argv:  # the moto part takes about a minute
        writes(cohort)
