"""The funnel's rollup job: every minute, the marks of each closed minute become one total per
sequence, and when a day closes each sequence's running totals move on by the day's minute
totals (where they are kept and how a report reads them: `store/rollups.py`).

A minute is closed GRACE after it ends: a mark is stamped with its minute just before its
PutItem, and the SDK's retries and the index's propagation (normally well under a second) end
long before. A run rolls at most MINUTES_PER_RUN minutes, so after an outage the job catches
up over a few runs without nearing its timeout; reports stay exact meanwhile (they add up the
marks the rollup has not reached). A run closes at most one day, and minute totals and
superseded running totals are deleted KEEP_DAYS days after the day that replaced them: a
report, which read the progress at most seconds before, never misses what it goes on to read.

On its first run the job adds up, per sequence, every mark written before marks were indexed
or up to the first closed minute into its first running totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import islice

from chalicelib.stamps import day_before, days_after, minute, minutes_after
from chalicelib.store import Table
from chalicelib.store.reports import SHARDS
from chalicelib.store.rollups import Progress, Rollups, sequence_of
from chalicelib.store.tallies import Cell, Marks, Totals, merged

GRACE = 180
"""Seconds after a minute ends before its marks are rolled up."""
MINUTES_PER_RUN = 240
KEEP_DAYS = 2
SAVE_EVERY = 30
"""Minutes rolled between two saves of the progress within a run."""


class RollUp:
    def __init__(self, table: Table, sequence_ids: Callable[[], Iterable[str]]) -> None:
        self.rollups = Rollups(table, SHARDS)
        self.sequence_ids = sequence_ids

    def run(self, now: float) -> Progress:
        """Roll up what closed by `now`; the progress reached."""
        closed = minute(now - GRACE - 60)
        start = self.rollups.progress() or self._baseline(closed)
        progress = start
        for rolled, at in enumerate(islice(minutes_after(start.minute, closed), MINUTES_PER_RUN)):
            self._minute(at)
            progress = replace(progress, minute=at)
            if rolled % SAVE_EVERY == SAVE_EVERY - 1:
                self.rollups.advance(progress)
        last_day = progress.minute[:10]
        if not progress.minute.endswith("T23:59"):
            last_day = day_before(last_day)
        for day in islice(days_after(progress.day, last_day), 1):
            rolled_up = self._day(day)
            progress = replace(progress, day=day)
            self.rollups.advance(progress)
            dropped = _days_before(day, KEEP_DAYS)
            self.rollups.drop_minutes(dropped)
            for sequence_id in rolled_up:
                self.rollups.drop_running(sequence_id, dropped)
        if progress != start:
            self.rollups.advance(progress)
        return progress

    def _minute(self, at: str) -> None:
        by_sequence: dict[str, Marks] = defaultdict(Marks)
        for item in self.rollups.written(at):
            by_sequence[sequence_of(item)].add(item)
        for sequence_id, marks in by_sequence.items():
            self.rollups.put_minute(sequence_id, at, marks.tally())

    def _day(self, day: str) -> list[str]:
        """Running totals of `day` for each sequence that counted something that day: those of
        the day before (or older) plus the day's minute totals. The sequences."""
        by_sequence: dict[str, list[Iterable[tuple[Cell, Totals]]]] = defaultdict(list)
        for sequence_id, cells in self.rollups.minute_totals(day):
            by_sequence[sequence_id].append(list(cells))
        for sequence_id, tallies in by_sequence.items():
            before = self.rollups.running(sequence_id, day_before(day))
            self.rollups.put_running(sequence_id, day, merged([before.items(), *tallies]))
        return list(by_sequence)

    def _baseline(self, closed: str) -> Progress:
        """The first run: each sequence's marks up to the closed minute, added up once into
        its first running totals (of the day before the closed minute's)."""
        progress = Progress(closed, day_before(closed[:10]))
        for sequence_id in self.sequence_ids():
            marks = Marks()
            for item in self.rollups.unindexed(sequence_id, closed):
                marks.add(item)
            if marks.count:
                self.rollups.put_running(sequence_id, progress.day, marks.tally())
        self.rollups.advance(progress)
        return progress


def _days_before(day: str, count: int) -> str:
    for _ in range(count):
        day = day_before(day)
    return day
