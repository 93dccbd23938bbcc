"""The funnel marketers read: per step, how many sends went out and what they led to.

Every metric counts a send at most once (a unique open, a unique click), from the table's
stream, so retries and redelivered records never inflate it. Test sends (run 0) are left out.
Opens by machines (Apple MPP, proxies) are counted apart from human opens; a human click
counts as an open too.

Counts are kept per cell: the send's step, its A/B variant (stored on the send when SES is
called) and the UTC day it was claimed, so a report has variants and a daily trend without
reading sends. Unsubscribes and skips are counted by reason too, revenue per currency (once
per conversion id), and a sequence's holdout per contact (`enrolled`, `converted` and revenue,
by group and day of enrolment). A holdout contact's conversions count only within the
sequence's goal window from its enrolment (`goal: {within}`; without a goal, HOLDOUT_WINDOW),
for the treated and the held out alike. Everything is read back as one `Counted`
(`Funnel.counted`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib import store
from chalicelib.sequences import Sequence
from chalicelib.stamps import instant, iso, minute

METRICS = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "converted",
    "unsubscribed",
    "bounced",
    "complained",
    "skipped",
    "opened_machine",
    "uncertain",
)


REASON_METRICS = ("unsubscribed", "skipped")
"""Metrics also counted by reason, as `unsubscribed:too_many`, `skipped:capped`."""
REVENUE = "revenue:"
"""Revenue is summed per currency, as `revenue:EUR` (`revenue:XXX` for no currency)."""
HOLDOUT_WINDOW = timedelta(days=30)
"""How long after enrolling a holdout contact's conversions count when the sequence has no
goal (with one, the goal's `within`)."""


def holdout_window(sequence: Sequence) -> tuple[timedelta, str]:
    """The holdout's conversion window from enrolment, and where it comes from (`goal` or
    `default`)."""
    if sequence.goal is not None:
        return sequence.goal.within, "goal"
    return HOLDOUT_WINDOW, "default"


def event_metrics(event: Mapping[str, Any]) -> tuple[str, ...]:
    """What a stored event adds to its send's funnel."""
    kind, human = event.get("type"), event.get("verdict") == "human"
    if kind == "opened":
        return ("opened",) if human else ("opened_machine",)
    if kind == "clicked":
        return ("clicked", "opened") if human else ()
    if kind == "unsubscribed":
        return ("unsubscribed", f"unsubscribed:{event.get('reason') or 'unstated'}")
    if kind in ("delivered", "converted", "bounced", "complained"):
        return (str(kind),)
    return ()


def send_metrics(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """A send item that just became `sent`, `skipped` (with its reason) or `uncertain` (a crash
    after SES was called: counted as sent, since it most likely went out, and as uncertain)."""
    status = new.get("status")
    if old.get("status") == status:
        return ()
    if status == "skipped":
        return ("skipped", f"skipped:{new.get('reason') or 'unknown'}")
    return {"sent": ("sent",), "uncertain": ("sent", "uncertain")}.get(str(status), ())


@dataclass(frozen=True)
class StepFunnel:
    step_id: str
    counts: Mapping[str, int]

    def rate(self, metric: str) -> float:
        """Share of sent messages; 0 before anything was sent."""
        sent = self.counts.get("sent", 0)
        return self.counts.get(metric, 0) / sent if sent else 0.0


@dataclass(frozen=True)
class Counted:
    """What the funnel counted for a sequence: totals per cell (step, A/B variant, the send's
    UTC day) and per holdout cohort (group `treated` or `held`, and UTC day of enrolment:
    contacts `enrolled`, `converted`, `revenue:{currency}`)."""

    cells: Mapping[store.Cell, Mapping[str, Decimal]] = field(default_factory=dict)
    cohorts: Mapping[store.Cohort, Mapping[str, Decimal]] = field(default_factory=dict)

    def within(self, since: str | None, until: str | None) -> Counted:
        """Only sends of days from `since` to `until` (ISO dates, both included), and the
        holdout's contacts enrolled on those days; holdout counts kept before enrolment days
        were (`undated`) are left out of a range."""

        def inside(day: str) -> bool:
            return (since is None or day >= since) and (until is None or day <= until)

        if since is None and until is None:
            return self
        return Counted(
            {cell: totals for cell, totals in self.cells.items() if inside(cell.day)},
            {c: totals for c, totals in self.cohorts.items() if c.day and inside(c.day)},
        )

    def audience(self, segment: str | None, stage: str | None) -> Counted:
        """Only sends to contacts who were in `segment` and at `stage` when sent (either may be
        None: any); counts written before sends were stamped are left out (see `unstamped`).
        The holdout, which compares contacts as enrolled, is kept whole."""
        return Counted(
            {
                cell: totals
                for cell, totals in self.cells.items()
                if cell.stage is not None
                and (stage is None or cell.stage == stage)
                and (segment is None or segment in cell.segments)
            },
            self.cohorts,
        )

    def unstamped(self) -> dict[str, Any]:
        """What was counted for sends made before sends were stamped with the contact's stage
        and segments: no stage or segment filter can place it."""
        return _shaped(_summed(t for cell, t in self.cells.items() if cell.stage is None))

    def step(self, step_id: str, variant: str | None = None) -> dict[str, Any]:
        """A step's (or one of its variants') metrics, reasons and revenue."""
        return _shaped(
            _summed(
                totals
                for cell, totals in self.cells.items()
                if cell.step_id == step_id and (variant is None or cell.variant == variant)
            )
        )

    def days(self) -> list[dict[str, Any]]:
        """Every step's metrics per day of the send, oldest first."""
        by_day: dict[str, list[Mapping[str, Decimal]]] = defaultdict(list)
        for cell, totals in self.cells.items():
            if cell.day:
                by_day[cell.day].append(totals)
        return [{"day": day, **_shaped(_summed(by_day[day]))} for day in sorted(by_day)]

    def holdout(self) -> dict[str, HoldoutGroup]:
        """Each holdout group's contacts enrolled and converted, and its revenue per currency."""
        found = {}
        for group in HOLDOUT_GROUPS:
            total = _summed(t for c, t in self.cohorts.items() if c.group == group)
            revenue = {
                name.removeprefix(REVENUE): str(value)
                for name, value in sorted(total.items())
                if name.startswith(REVENUE)
            }
            found[group] = HoldoutGroup(
                int(total.get("enrolled", 0)), int(total.get("converted", 0)), revenue
            )
        return found

    def undated(self) -> int:
        """Holdout contacts counted before enrolment days were kept (no date range has them)."""
        return sum(int(t.get("enrolled", 0)) for c, t in self.cohorts.items() if not c.day)


@dataclass(frozen=True)
class HoldoutGroup:
    enrolled: int
    converted: int
    revenue: Mapping[str, str]
    """Per currency, as exact decimal text."""


HOLDOUT_GROUPS = ("treated", "held")


def _summed(rows: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        for name, value in row.items():
            total[name] += value
    return total


def _shaped(total: Mapping[str, Decimal]) -> dict[str, Any]:
    shaped: dict[str, Any] = {metric: int(total.get(metric, 0)) for metric in METRICS}
    for metric in REASON_METRICS:
        prefix = f"{metric}:"
        shaped[f"{metric}_reasons"] = {
            name.removeprefix(prefix): int(value)
            for name, value in sorted(total.items())
            if name.startswith(prefix)
        }
    shaped["revenue"] = {
        name.removeprefix(REVENUE): str(value)
        for name, value in sorted(total.items())
        if name.startswith(REVENUE)
    }
    return shaped


class Funnel:
    def __init__(self, table: store.Table, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.clock = clock
        self.sends = store.Sends(table)
        self.reports = store.Reports(table)
        self.versions = store.Versions(table, "sequence")
        self._windows: dict[tuple[str, int], timedelta] = {}

    def count(self, send_id: str, metrics: tuple[str, ...]) -> None:
        origin = self.sends.origin(send_id) if metrics and send_id else None
        if origin is None or origin.run == 0:
            return
        cell = _cell(origin)
        written = minute(self.clock())
        for metric in metrics:
            write = store.count_once_write(
                send_id, metric, origin.sequence_id, cell, written=written
            )
            self.table.apply(write)

    def event(self, event: Mapping[str, Any]) -> None:
        """A stored event, as the rules finally classified it: its send's metrics; for a
        conversion also its revenue (once per conversion id) and, within each holdout window
        the contact is in, its group's conversion and revenue."""
        send_id = str(event.get("send_id") or "")
        self.count(send_id, event_metrics(event))
        if event.get("type") != "converted":
            return
        contact_id, at = str(event.get("contact_id", "")), str(event.get("at", ""))
        value = event.get("value")
        currency = str(event.get("currency") or "XXX")
        conversion_id = str(event.get("conversion_id") or event.get("event_id") or "")
        for membership in self.reports.memberships(contact_id):
            if not _in_window(membership, at):
                continue
            self.table.apply(store.holdout_converted_write(contact_id, membership, at))
            if value is not None and conversion_id:
                amount = Decimal(str(value))
                write = store.holdout_revenue_write(
                    contact_id, membership, conversion_id, currency, amount
                )
                self.table.apply(write)
        origin = self.sends.origin(send_id) if send_id and value is not None else None
        if origin is None or origin.run == 0:
            return
        write = store.count_once_write(
            send_id,
            f"{REVENUE}{currency}",
            origin.sequence_id,
            _cell(origin),
            Decimal(str(value)),
            guard=f"revenue#{event.get('conversion_id', '')}",
            written=minute(self.clock()),
        )
        self.table.apply(write)

    def enrolled(self, enrollment: Mapping[str, Any]) -> None:
        """A new enrollment: the contact joins its group of the sequence's holdout (`held`
        when enrolled as held out), once whatever re-entries follow, with the window its
        conversions count in (from the version it enrolled on)."""
        group = "held" if enrollment.get("status") == "held_out" else "treated"
        sequence_id, at = str(enrollment["sequence_id"]), str(enrollment.get("enrolled_at", ""))
        window = self._window(sequence_id, int(enrollment.get("version") or 0))
        until = iso(instant(at).timestamp() + window.total_seconds())
        write = store.holdout_enrolled_write(
            str(enrollment["contact_id"]), sequence_id, group, at, until
        )
        self.table.apply(write)

    def _window(self, sequence_id: str, version: int) -> timedelta:
        key = (sequence_id, version)
        if key not in self._windows:
            from chalicelib import catalog

            sequence = catalog.load(self.versions, sequence_id, version or None)
            self._windows[key] = holdout_window(sequence)[0]
        return self._windows[key]

    def settle(self, sequence_id: str, counted: Counted, origin: str) -> None:
        """Store totals counted elsewhere (the local demo's simulated month) beside what the
        stream counts, with plain batched puts; storing them again replaces them."""
        items = store.settled_items(sequence_id, counted.cells, counted.cohorts, origin)
        self.table.put_batch(items)

    def counted(self, sequence_id: str, recount: bool = False) -> Counted:
        """Everything counted for the sequence, shards summed (every mark added up when asked
        to `recount`, whatever the rollup holds)."""
        return Counted(*self.reports.counted(sequence_id, self.clock(), recount))

    def report(self, sequence: Sequence) -> list[StepFunnel]:
        """Every step in sequence order, with zeros where nothing happened yet."""
        counted = self.counted(sequence.id)
        return [
            StepFunnel(step.id, {m: counted.step(step.id)[m] for m in METRICS})
            for step in sequence.steps
        ]


def _cell(origin: store.SendOrigin) -> store.Cell:
    return store.Cell(origin.step_id, origin.variant, origin.day, origin.stage, origin.segments)


def _in_window(membership: store.Membership, at: str) -> bool:
    """Whether a conversion at `at` counts for the holdout: from enrolment to the window's end,
    both included (a membership from before windows were kept counts any conversion)."""
    if membership.until is None:
        return True
    return instant(membership.enrolled_at) <= instant(at) <= instant(membership.until)
