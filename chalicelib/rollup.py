"""The funnel's rollup job: every minute, the marks of each closed minute become one total per
sequence; when an hour closes, a sequence's running totals take in its minute totals once
these reach a quarter of their size, and at each UTC day's end in any case (where they are kept
and how a report reads them: `store/rollups.py`). So a report reads at most a quarter more
than the running totals, or a day of minute totals, and the running totals, which grow with
the cells counted rather than with sends, are rewritten a bounded number of times a day.

A minute is closed GRACE after it ends: a mark is stamped with its minute just before its
PutItem, and the SDK's retries and the index's propagation (normally well under a second) end
long before. A run rolls at most MINUTES_PER_RUN minutes, so after an outage the job catches
up over a few runs without nearing its timeout; reports stay exact meanwhile (they add up the
marks the rollup has not reached). A run closes at most one hour; superseded running totals
are deleted KEEP_HOURS after the hour that replaced them, and minute totals KEEP_HOURS after
their day's end: a report, which read the progress at most seconds before, never misses what
it goes on to read.

On its first run the job adds up, per sequence, every mark written before marks were indexed
or up to the first closed minute into its first running totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import islice

from chalicelib.stamps import hour_before, hours_after, minute, minutes_after
from chalicelib.store import Table
from chalicelib.store.reports import SHARDS
from chalicelib.store.rollups import Progress, Rollups, last_day_end, sequence_of
from chalicelib.store.tallies import Cell, Marks, Totals, merged

GRACE = 180
"""Seconds after a minute ends before its marks are rolled up."""
MINUTES_PER_RUN = 240
KEEP_HOURS = 2
FOLD_SHARE = 4
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
        last_hour = progress.minute[:13]
        if not progress.minute.endswith(":59"):
            last_hour = hour_before(last_hour)
        for hour in islice(hours_after(progress.hour, last_hour), 1):
            folded = self._hour(hour)
            progress = replace(progress, hour=hour)
            self.rollups.advance(progress)
            # Folded by their day's end at the latest, then kept KEEP_HOURS more.
            self.rollups.drop_minutes(hour_before(hour, 24 + KEEP_HOURS))
            for sequence_id in folded:
                self.rollups.drop_running(sequence_id, hour_before(hour, KEEP_HOURS))
        if progress != start:
            self.rollups.advance(progress)
        return progress

    def _minute(self, at: str) -> None:
        by_sequence: dict[str, Marks] = defaultdict(Marks)
        for item in self.rollups.written(at):
            by_sequence[sequence_of(item)].add(item)
        for sequence_id, marks in by_sequence.items():
            self.rollups.put_minute(sequence_id, at, marks.tally())

    def _hour(self, hour: str) -> list[str]:
        """Fold minute totals into running totals where due: for each sequence that counted
        something in `hour`, once its minute totals since its running totals reach 1/FOLD_SHARE
        of their size; and at a UTC day's end, for every sequence that counted something that
        day. The sequences folded."""
        since = last_day_end(hour_before(hour))
        day_end = hour.endswith("T23")
        # At a day's end each minute total of the day is read once, here; otherwise this
        # hour's, and a sequence's earlier ones only if it counted something in this hour.
        found: dict[str, list[tuple[str, int, Iterable[tuple[Cell, Totals]]]]] = defaultdict(list)
        for at in hours_after(since, hour) if day_end else [hour]:
            for sequence_id, chars, cells in self.rollups.minute_totals(at):
                found[sequence_id].append((at, chars, cells))
        folded = []
        for sequence_id, totals in sorted(found.items()):
            newest = self.rollups.newest_running(sequence_id, hour_before(hour))
            start = max(newest[0] if newest else "", since)
            earlier = [] if day_end else hours_after(start, hour_before(hour))
            for at in earlier:
                totals.extend(
                    (at, c, cells) for _, c, cells in self.rollups.minute_totals(at, sequence_id)
                )
            pending = [(chars, cells) for at, chars, cells in totals if at > start]
            if not day_end and newest and sum(c for c, _ in pending) * FOLD_SHARE < newest[1]:
                continue
            before = self.rollups.running(sequence_id, newest[0]) if newest else {}
            total = merged([before.items(), *(cells for _, cells in pending)])
            self.rollups.put_running(sequence_id, hour, total)
            folded.append(sequence_id)
        return folded

    def _baseline(self, closed: str) -> Progress:
        """The first run: each sequence's marks up to the closed minute, added up once into
        its first running totals (of the hour before the closed minute's)."""
        progress = Progress(closed, hour_before(closed[:13]))
        for sequence_id in self.sequence_ids():
            marks = Marks()
            for item in self.rollups.unindexed(sequence_id, closed):
                marks.add(item)
            if tally := marks.tally():
                self.rollups.put_running(sequence_id, progress.hour, tally)
        self.rollups.advance(progress)
        return progress
