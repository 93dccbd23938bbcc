"""Plan 200,000 enrollments over 400 zones and report throughput and distinct delivery instants.

Run: python benchmarks/schedule_plan.py  (target: >= 50,000 enrollments/s on one core)
"""

from __future__ import annotations

import random
import sys
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.localtime import (
    SendWindow,
    canonical_zone_names,
    group_by_instant,
    next_send_time,
)

ENROLLMENTS = 200_000
ZONES = 400
WINDOW = SendWindow(time(9), time(11), frozenset({1, 2, 3}))  # 09:00-11:00, Tue-Thu
START = datetime(2026, 3, 23, tzinfo=UTC)  # a Monday, one week before EU summer time
SPREAD = timedelta(days=7)


def sample_zones() -> list[ZoneInfo]:
    """400 canonical zones spread evenly over the sorted list, so every continent appears."""
    names = sorted(canonical_zone_names())
    step = len(names) / ZONES
    return [ZoneInfo(names[int(i * step)]) for i in range(ZONES)]


def main() -> None:
    rng = random.Random(8)
    zones = sample_zones()
    seconds = int(SPREAD.total_seconds())
    enrollments = [
        (n, rng.choice(zones), START + timedelta(seconds=rng.randrange(seconds)))
        for n in range(ENROLLMENTS)
    ]
    began = clock.perf_counter()
    planned = [(n, next_send_time(after, zone, WINDOW).utc) for n, zone, after in enrollments]
    planning = clock.perf_counter() - began
    groups = group_by_instant(planned)
    grouping = clock.perf_counter() - began - planning
    print(f"zones: {len(zones)}  enrollments: {ENROLLMENTS:,}  enrolled over: {SPREAD.days} days")
    print(f"planning: {planning:.3f}s = {ENROLLMENTS / planning:,.0f} enrollments/s")
    print(f"grouping: {grouping:.3f}s = {ENROLLMENTS / grouping:,.0f} enrollments/s")
    print(f"distinct delivery instants (schedules): {len(groups):,}")
    print(f"largest group: {max(len(keys) for keys in groups.values()):,} recipients")


if __name__ == "__main__":
    main()
