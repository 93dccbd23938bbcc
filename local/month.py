"""A simulated month for the console (`make demo` loads it): 2,000 contacts enrolled day by
day in `spring-launch` (`month.yaml`: an A/B subject test, a 10% holdout, a reminder and a last
call) and what they did, the way real audiences do: Apple Mail Privacy Protection opening
four in ten messages, people opening and clicking at each variant's rate, buyers with order
values in two currencies, unsubscribes with their reasons, skips, bounces and complaints, and
purchases that come without any email (what the holdout measures).

Only the totals are stored: the funnel's counts per step, variant and day and the holdout's
groups, written beside what the stream counts with plain batched puts (`Funnel.settle`), so
loading takes a moment and the stack's own writes stay as fast as before. The simulated
contacts have no profiles: contacts you import or enroll show their own timelines. A/B arms
and the holdout are assigned from each contact id with the product's own functions.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from chalicelib import catalog, store
from chalicelib.compose import choose
from chalicelib.experiments.assign import held_out
from chalicelib.funnel import Counted, Funnel
from chalicelib.sequences import Sequence, load_sequence
from chalicelib.stamps import iso

__all__ = ["CONTACTS", "FILE", "SEQUENCE", "Month", "load", "simulate"]

FILE = Path(__file__).resolve().with_name("month.yaml")
SEQUENCE = "spring-launch"
ORIGIN = "month"
CONTACTS = 2000
DAYS = 30
OPEN_RATE = {"plain": 0.30, "curious": 0.40, "reminder": 0.28, "last_call": 0.33}
CLICK_RATE = {"plain": 0.16, "curious": 0.27, "reminder": 0.22, "last_call": 0.30}
BUY_RATE = 0.22  # of human clickers
ORGANIC_BUY_RATE = 0.03  # of every enrolled contact within the month, mail or not
APPLE_SHARE = 0.4  # readers whose mail app opens every message (a machine open)
UNSUBSCRIBE_REASONS = (
    ("too_many", 40),
    ("not_relevant", 35),
    ("never_signed_up", 5),
    ("other", 20),
)
SKIP_REASONS = (("capped", 70), ("invalid_address", 30))
LATER_STEPS = (("reminder", 3), ("last_call", 4))  # step, days after the one before


@dataclass
class Month:
    """What the month adds up to: the funnel's totals per cell and the holdout's groups."""

    cells: dict[store.Cell, dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    cohorts: dict[store.Cohort, dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )

    def add(self, cell: store.Cell, *metrics: str, amount: Decimal = Decimal(1)) -> None:
        for metric in metrics:
            self.cells[cell][metric] += amount

    def counted(self) -> Counted:
        return Counted(
            {cell: dict(totals) for cell, totals in self.cells.items()},
            {cohort: dict(totals) for cohort, totals in self.cohorts.items()},
        )


def simulate(sequence: Sequence, start: datetime, contacts: int, seed: int = 14) -> Month:
    """The month from `start`: contacts enrolled evenly over its days, each sent the
    announcement the day it enrolls, then the reminder and the last call unless it bought,
    left or bounced; sends after the month's end are not made yet. The holdout counts each
    group's contacts by day of enrolment, those who bought (all within the goal's 14 days) and
    what they spent."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not security
    month, announce = Month(), sequence.step("announce")
    end = start + timedelta(days=DAYS)
    for n in range(contacts):
        contact_id = f"month{n:05d}"
        enrolled = start + timedelta(days=n * DAYS // contacts)
        held = held_out(contact_id, sequence.id, sequence.holdout)
        cohort = month.cohorts[
            store.Cohort("held" if held else "treated", enrolled.date().isoformat())
        ]
        cohort["enrolled"] += 1
        order = _order(rng) if rng.random() < ORGANIC_BUY_RATE else None  # without any email
        if not held:
            _, arm = choose(announce, None, "en", f"{contact_id}\x1f{sequence.id}\x1fannounce")
            order = _recipient(rng, month, str(arm), enrolled, end) or order
        if order is not None:
            cohort["converted"] += 1
            cohort[f"revenue:{order[0]}"] += order[1]
    return month


def _order(rng: random.Random) -> tuple[str, Decimal]:
    """A purchase: its currency and value."""
    currency = "USD" if rng.random() < 0.15 else "EUR"
    return currency, Decimal(rng.randrange(1900, 19900)) / 100


def _recipient(
    rng: random.Random, month: Month, arm: str, day: datetime, end: datetime
) -> tuple[str, Decimal] | None:
    """One contact's sends and what each led to; the order, when the contact bought."""
    apple = rng.random() < APPLE_SHARE
    for step, variant, wait in (("announce", arm, 0), *((s, "", w) for s, w in LATER_STEPS)):
        day += timedelta(days=wait)
        if day >= end:
            return None
        cell = store.Cell(step, variant, day.date().isoformat())
        if rng.random() < 0.015:
            month.add(cell, "skipped", f"skipped:{_pick(rng, SKIP_REASONS)}")
            continue
        ended = _sent(rng, month, cell, apple)
        if ended is not None:
            return ended or None
    return None


def _sent(
    rng: random.Random, month: Month, cell: store.Cell, apple: bool
) -> tuple[str, Decimal] | bool | None:
    """One message and its outcome: the order when the contact bought, False when it left (an
    unsubscribe, a bounce, a complaint), None when the sequence goes on."""
    month.add(cell, "sent")
    if rng.random() < 0.01:
        month.add(cell, "bounced")
        return False
    month.add(cell, "delivered")
    if apple:
        month.add(cell, "opened_machine")
    if rng.random() < 0.002:
        month.add(cell, "complained")
        return False
    if rng.random() >= OPEN_RATE[cell.variant or cell.step_id]:
        return None
    month.add(cell, "opened")
    if rng.random() < 0.03:
        month.add(cell, "unsubscribed", f"unsubscribed:{_pick(rng, UNSUBSCRIBE_REASONS)}")
        return False
    if rng.random() >= CLICK_RATE[cell.variant or cell.step_id]:
        return None
    month.add(cell, "clicked")
    if rng.random() >= BUY_RATE:
        return None
    month.add(cell, "converted")
    currency, value = _order(rng)
    month.add(cell, f"revenue:{currency}", amount=value)
    return currency, value


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in weighted], [w for _, w in weighted])[0]


def load(
    table: store.Table, versions: store.Versions, now: float, contacts: int = CONTACTS
) -> Month | None:
    """On a table without `spring-launch`: push it as of the month's first day (so its winner
    rule's wait is over) and store the month's totals. None when it is there already (a
    restored local state keeps the month it had; a second month would add up)."""
    if versions.history(SEQUENCE):
        return None
    start = datetime.fromtimestamp(now, UTC).replace(hour=7, minute=0, second=0, microsecond=0)
    start -= timedelta(days=DAYS)
    sequence = load_sequence(FILE)
    catalog.push(versions, sequence, iso(start.timestamp()))
    month = simulate(sequence, start, contacts)
    Funnel(table).settle(sequence.id, month.counted(), ORIGIN)
    return month
