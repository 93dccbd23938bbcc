"""A demo history (`python -m local.history`): contacts with eleven weeks of engagement and
the conversions that followed, so `nurture scoring backtest` and `nurture score explain` have
something real to read.

Deterministic (one seed): three kinds of people (eager, curious, quiet) open, click and view
pricing at their own rates, their mail apps prefetch some pixels (machine opens, which never
score), and the eager convert far more often in the month after the backtest's default
cutoff. Contacts come in through the real import path; events are stored as the hot path and
the events API store them, so the stream scores them like any other.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import contactfiles, contacts, store
from chalicelib.stamps import iso

__all__ = ["CONTACTS", "PERSONAS", "seed_history"]

CONTACTS = 100
DAYS = 77
CUTOFF_DAYS = 30
"""The backtest's default cutoff (now minus its 30-day window) falls here."""
PERSONAS = (
    # name, share, chance of engaging on a given day, chance of converting after the cutoff
    ("eager", 0.15, 0.30, 0.45),
    ("curious", 0.35, 0.10, 0.12),
    ("quiet", 0.50, 0.02, 0.02),
)
TITLES = ("CEO", "CTO", "VP", "Head", "Director", "Manager", "Engineer", "Analyst", "Student")
INDUSTRIES = ("software", "finance", "retail", "health", "education")


@dataclass(frozen=True)
class Seeded:
    contacts: int
    events: int
    conversions: int


def seed_history(table: store.Table, now: float, *, contacts_count: int = CONTACTS) -> Seeded:
    """Import the demo contacts and store their history; running it again changes nothing."""
    rng = random.Random(20260302)  # noqa: S311  # demo data, reproducible on purpose
    people = [_person(rng, n) for n in range(contacts_count)]
    csv = "email,first_name,job_title,company_size,industry\n" + "".join(
        f"{p.email},{p.first_name},{p.title},{p.size},{p.industry}\n" for p in people
    )
    ids = iter(f"demo{n:04d}" for n in range(contacts_count))
    placed: dict[str, str] = {}
    start = datetime.fromtimestamp(now, UTC) - timedelta(days=DAYS)
    contacts.import_contacts(  # imported when their history starts
        table,
        contactfiles.read_csv(io.BytesIO(csv.encode())),
        now=iso(start.timestamp() - 86_400),
        new_id=lambda: next(ids),
        on_contact=lambda found: placed.__setitem__(found.email, found.contact_id),
    )
    items = [
        item
        for person in people
        for item in _history(rng, person, placed[person.email], start, now)
    ]
    table.put_batch(items)
    converted = sum(1 for item in items if item["type"] == {"S": "converted"})
    return Seeded(len(people), len(items), converted)


@dataclass(frozen=True)
class _Person:
    email: str
    first_name: str
    title: str
    size: int
    industry: str
    persona: str
    rate: float
    converts: float


def _person(rng: random.Random, n: int) -> _Person:
    draw, persona = rng.random(), PERSONAS[-1]
    for candidate in PERSONAS:
        if draw < candidate[1]:
            persona = candidate
            break
        draw -= candidate[1]
    return _Person(
        f"lead{n:03d}@demo.example",
        f"Lead{n:03d}",
        rng.choice(TITLES),
        rng.choice((8, 40, 120, 600, 2500, 12000)),
        rng.choice(INDUSTRIES),
        persona[0],
        persona[2],
        persona[3],
    )


def _history(
    rng: random.Random, person: _Person, contact_id: str, start: datetime, now: float
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []

    def add(kind: str, at: datetime, **attrs: object) -> None:
        event_id = f"{contact_id}-{len(items):03d}"
        if kind == "event":
            stamp = iso(at.timestamp())
            product = store.ProductEvent(str(attrs["name"]), event_id, stamp, {}, contact_id)
            items.append(product.write()[0]["Put"]["Item"])
            return
        stamp = iso(at.timestamp())
        if kind in ("opened", "clicked"):  # keyed as the recipient routes key them
            link = attrs.pop("link", None)
            verdict, reason = str(attrs.pop("verdict")), str(attrs.pop("verdict_reason"))
            link_index = None if link is None else int(str(link))
            event = store.engagement(contact_id, kind, stamp, "", link_index, verdict, reason, None)
        else:
            event = store.Event(contact_id, kind, stamp, event_id, attrs=attrs)
        items.append(store.event_write(event)[0]["Put"]["Item"])

    for day in range(DAYS):
        moment = start + timedelta(days=day, hours=rng.randint(7, 20), minutes=rng.randint(0, 59))
        if moment.timestamp() >= now:
            break
        if rng.random() < 0.12:  # a mail app fetching the pixel: never scores
            add("opened", moment, verdict="machine", verdict_reason="apple_mpp")
        if rng.random() < person.rate:
            add("opened", moment + timedelta(minutes=1), verdict="human", verdict_reason="browser")
            if rng.random() < 0.5:
                add(
                    "clicked",
                    moment + timedelta(minutes=2),
                    verdict="human",
                    verdict_reason="browser",
                    link=0,
                )
            if rng.random() < 0.3:
                add("event", moment + timedelta(minutes=3), name="pricing_viewed")
            if person.persona == "eager" and rng.random() < 0.05:
                add("event", moment + timedelta(minutes=4), name="demo_requested")
    if rng.random() < person.converts:
        cutoff = datetime.fromtimestamp(now, UTC) - timedelta(days=CUTOFF_DAYS)
        at = cutoff + timedelta(days=rng.randint(1, CUTOFF_DAYS - 2), hours=rng.randint(8, 18))
        add("converted", at, conversion_id=f"order-{contact_id}")
    return items


def main() -> None:
    """`python -m local.history`: seed the running local stack (after `. .local/env`)."""
    import time

    from chalicelib import services

    seeded = seed_history(services.table(), time.time())
    print(
        f"{seeded.contacts} demo contacts with {seeded.events} events "
        f"({seeded.conversions} conversions in the last {CUTOFF_DAYS} days). Try:\n"
        "  nurture scoring backtest examples/scoring/b2b.yaml\n"
        "  nurture scoring push examples/scoring/b2b.yaml && nurture scoring rescore\n"
        "  nurture score explain lead000@demo.example"
    )


if __name__ == "__main__":
    main()
