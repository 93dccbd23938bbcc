"""Try a scoring file on stored history before pushing it: each contact's band at a cutoff,
computed from the events before it, then the share of each band that reached the goal in the
window after it, and the lift of hot over cold.

The stage at the cutoff comes from the timeline's `stage_changed` events; fit reads the
profile as it is now (profiles keep no history), which the report says. One streaming pass
over the profiles, one query per contact: memory stays flat whatever the table holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chalicelib import store
from chalicelib.errors import InvalidInput
from chalicelib.fields import format_duration, parse_duration
from chalicelib.profiles import Profile
from chalicelib.scoring.model import BANDS, Scoring
from chalicelib.scoring.scorer import Scorer
from chalicelib.segments.model import EventName
from chalicelib.stamps import iso

__all__ = ["Backtest", "Goal", "Span", "backtest", "parse_cutoff"]

_EVENT_NAME: TypeAdapter[str] = TypeAdapter(EventName)


@dataclass(frozen=True)
class Goal:
    """What counts as converting: a `converted` event, or a product event by name."""

    event: str | None = None

    @classmethod
    def parse(cls, text: str) -> Goal:
        if text == "converted":
            return cls()
        name = text.removeprefix("event:")
        if not text.startswith("event:") or not _event_name(name):
            raise InvalidInput("goal", "must be converted or event:NAME (a product event name)")
        return cls(name)

    def reached(self, event: Mapping[str, Any]) -> bool:
        if self.event is None:
            return event.get("type") == "converted"
        return event.get("type") == store.PRODUCT_EVENT and event.get("name") == self.event

    def __str__(self) -> str:
        return "converted" if self.event is None else f"event {self.event}"


@dataclass(frozen=True)
class Span:
    cutoff: datetime
    window: timedelta


def parse_cutoff(cutoff: str | None, window: str, now: datetime | None = None) -> Span:
    """The cutoff (a UTC date or time; default now minus the window) and the window."""
    try:
        length = parse_duration(window)
    except ValueError as exc:
        raise InvalidInput("window", str(exc)) from None
    if cutoff is None:
        moment = (now or datetime.now(UTC)) - length
    else:
        try:
            moment = datetime.fromisoformat(cutoff.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("cutoff", "must be a date (2026-03-01) or a UTC time") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Span(moment.astimezone(UTC), length)


@dataclass(frozen=True)
class Row:
    band: str
    contacts: int
    reached: int

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.reached) / self.contacts if self.contacts else None


@dataclass(frozen=True)
class Backtest:
    name: str
    span: Span
    goal: Goal
    rows: Sequence[Row]
    skipped: int
    """Contacts created after the cutoff (they were not there to be scored)."""

    @property
    def lift(self) -> Decimal | None:
        """The goal rate of hot contacts over that of cold ones."""
        rates = {row.band: row.rate for row in self.rows}
        hot, cold = rates.get("hot"), rates.get("cold")
        return hot / cold if hot is not None and cold else None

    def doc(self) -> dict[str, Any]:
        return {
            "scoring": self.name,
            "cutoff": iso(self.span.cutoff.timestamp()),
            "window": format_duration(self.span.window),
            "goal": str(self.goal),
            "bands": [
                {
                    "band": row.band,
                    "contacts": row.contacts,
                    "reached": row.reached,
                    "rate": _percent(row.rate),
                }
                for row in self.rows
            ],
            "lift": f"{self.lift:.2f}" if self.lift is not None else None,
            "skipped": self.skipped,
        }

    def text(self) -> str:
        doc = self.doc()
        lines = [
            f"backtest of {self.name!r} on stored history",
            f"bands at {doc['cutoff']}; goal: {doc['goal']} within {doc['window']} after",
            f"{'band':<6}{'contacts':>10}{'reached':>10}{'rate':>9}",
        ]
        for row in doc["bands"]:
            rate = row["rate"] or "-"
            lines.append(f"{row['band']:<6}{row['contacts']:>10}{row['reached']:>10}{rate:>9}")
        total = Row("all", sum(r.contacts for r in self.rows), sum(r.reached for r in self.rows))
        lines.append(
            f"{'all':<6}{total.contacts:>10}{total.reached:>10}{_percent(total.rate) or '-':>9}"
        )
        lift = f"{doc['lift']}x" if doc["lift"] else "n/a (no cold contact reached the goal)"
        lines.append(f"lift of hot over cold: {lift}")
        lines.append("fit reads profiles as they are now; engagement and stage as of the cutoff")
        if self.skipped:
            lines.append(f"{self.skipped} contacts created after the cutoff are left out")
        return "\n".join(lines) + "\n"


def backtest(
    table: store.Table,
    scoring: Scoring,
    span: Span,
    goal: Goal,
    *,
    topics: Sequence[str] = (),
    stages: Sequence[str] = (),
) -> Backtest:
    """Score every contact as of `span.cutoff` with `scoring` and count who reached `goal`."""
    scorer = Scorer(scoring, 0, span.cutoff, topics=topics, stages=stages)
    start, end = iso(span.cutoff.timestamp()), iso((span.cutoff + span.window).timestamp())
    moment = int(span.cutoff.timestamp())
    counts = {band: [0, 0] for band in BANDS}
    skipped = 0
    for items, _ in store.profile_pages(table, None, 500):
        for item in items:
            contact_id = str(item.get("contact_id", ""))
            if not contact_id or str(item.get("created_at") or "") > start:
                skipped += 1
                continue
            events = table.events(contact_id)
            before = [e for e in events if str(e.get("at", "")) < start]
            profile = replace(
                Profile.from_item(contact_id, item), stage=_stage_at(before), score=None
            )
            band = scorer.observe(profile, None, None, moment, history=before).state.temperature
            reached = any(goal.reached(e) and start <= str(e.get("at", "")) < end for e in events)
            counts[band][0] += 1
            counts[band][1] += int(reached)
    rows = [Row(band, *counts[band]) for band in BANDS]
    return Backtest(scoring.name, span, goal, rows, skipped)


def _stage_at(events: Sequence[Mapping[str, Any]]) -> str | None:
    moves = [e for e in events if e.get("type") == "stage_changed"]
    return str(moves[-1].get("to_stage")) if moves else None


def _event_name(name: str) -> bool:
    try:
        _EVENT_NAME.validate_python(name)
    except ValidationError:
        return False
    return True


def _percent(rate: Decimal | None) -> str | None:
    return f"{rate * 100:.1f}%" if rate is not None else None
