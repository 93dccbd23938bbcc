"""The funnel marketers read: per step, how many sends went out and what they led to.

Every metric counts a send at most once (a unique open, a unique click), from the table's
stream, so retries and redelivered records never inflate it. Test sends (run 0) are left out.
Opens by machines (Apple MPP, proxies) are counted apart from human opens; a human click
counts as an open too.

Counts are kept per cell: the send's step, its A/B variant (stored on the send when SES is
called) and the UTC day it was claimed, so a report has variants and a daily trend without
reading sends. Unsubscribes and skips are counted by reason too, revenue per currency (once
per conversion id), and a sequence's holdout per contact (`enrolled`, `converted`, by group).
Everything is read back as one `Counted` (`Funnel.counted`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib import store
from chalicelib.sequences import Sequence

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
    UTC day) and per holdout group (`treated`, `held`: contacts `enrolled` and `converted`)."""

    cells: Mapping[store.Cell, Mapping[str, Decimal]] = field(default_factory=dict)
    groups: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)

    def within(self, since: str | None, until: str | None) -> Counted:
        """Only sends of days from `since` to `until` (ISO dates, both included); the holdout
        counts contacts and stays whole."""
        kept = {
            cell: totals
            for cell, totals in self.cells.items()
            if (since is None or cell.day >= since) and (until is None or cell.day <= until)
        }
        return Counted(kept, self.groups)

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

    def holdout(self) -> dict[str, tuple[int, int]]:
        """(contacts enrolled, contacts converted) of the `treated` and `held` groups."""
        return {
            group: (
                int(self.groups.get(group, {}).get("enrolled", 0)),
                int(self.groups.get(group, {}).get("converted", 0)),
            )
            for group in HOLDOUT_GROUPS
        }


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


def tally(rows: Iterable[store.Counter]) -> Counted:
    """Stored counter rows summed per cell and per holdout group (shards and origins)."""
    cells: dict[store.Cell, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    groups: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        into = cells[row.cell] if row.cell is not None else groups[str(row.group)]
        for name, value in row.totals.items():
            into[name] += value
    return Counted(cells, groups)


class Funnel:
    def __init__(self, table: store.Table) -> None:
        self.table = table
        self.sends = store.Sends(table)
        self.reports = store.Reports(table)

    def count(self, send_id: str, metrics: tuple[str, ...]) -> None:
        origin = self.sends.origin(send_id) if metrics and send_id else None
        if origin is None or origin.run == 0:
            return
        cell = store.Cell(origin.step_id, origin.variant, origin.day)
        for metric in metrics:
            self.table.apply(store.count_once_write(send_id, metric, origin.sequence_id, cell))

    def event(self, event: Mapping[str, Any]) -> None:
        """A stored event, as the rules finally classified it: its send's metrics; for a
        conversion also its revenue (once per conversion id) and the contact's holdout
        groups' conversions."""
        send_id = str(event.get("send_id") or "")
        self.count(send_id, event_metrics(event))
        if event.get("type") != "converted":
            return
        contact_id, at = str(event.get("contact_id", "")), str(event.get("at", ""))
        for sequence_id, group in self.reports.holdout_groups(contact_id).items():
            self.table.apply(store.holdout_converted_write(contact_id, sequence_id, group, at))
        value = event.get("value")
        origin = self.sends.origin(send_id) if send_id and value is not None else None
        if origin is None or origin.run == 0:
            return
        currency = str(event.get("currency") or "XXX")
        write = store.count_once_write(
            send_id,
            f"{REVENUE}{currency}",
            origin.sequence_id,
            store.Cell(origin.step_id, origin.variant, origin.day),
            Decimal(str(value)),
            guard=f"revenue#{event.get('conversion_id', '')}",
        )
        self.table.apply(write)

    def enrolled(self, enrollment: Mapping[str, Any]) -> None:
        """A new enrollment: the contact joins its group of the sequence's holdout (`held`
        when enrolled as held out), once whatever re-entries follow."""
        group = "held" if enrollment.get("status") == "held_out" else "treated"
        write = store.holdout_enrolled_write(
            str(enrollment["contact_id"]),
            str(enrollment["sequence_id"]),
            group,
            str(enrollment.get("enrolled_at", "")),
        )
        self.table.apply(write)

    def settle(self, sequence_id: str, counted: Counted, origin: str) -> None:
        """Store totals counted elsewhere (the local demo's simulated month) beside what the
        stream counts, with plain batched puts; storing them again replaces them."""
        items = store.settled_items(sequence_id, counted.cells, counted.groups, origin)
        self.table.put_batch(items)

    def counted(self, sequence_id: str) -> Counted:
        """Everything counted for the sequence, shards summed."""
        return tally(self.reports.counters(sequence_id))

    def report(self, sequence: Sequence) -> list[StepFunnel]:
        """Every step in sequence order, with zeros where nothing happened yet."""
        counted = self.counted(sequence.id)
        return [
            StepFunnel(step.id, {m: counted.step(step.id)[m] for m in METRICS})
            for step in sequence.steps
        ]
