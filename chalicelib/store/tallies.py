"""Funnel totals per cell: marks added up from their stored items, and totals kept as text.

A cell is where a send's counts go (its step, A/B variant and UTC day, and the contact's stage
and segments when it was sent). A tally is a set of cells with their metric totals. Rolled-up
totals (`store/rollups.py`) are stored as JSON text, split into parts that each fit an item;
totals are JSON numbers written from the decimals' text and read back as decimals, so revenue
stays exact.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from chalicelib.store import jsontext
from chalicelib.store.sends import segment_set

Totals = dict[str, Decimal]
K = TypeVar("K")
PART_CHARS = 300_000
"""The most text one stored part holds (an item holds at most 400 KB)."""
_CELL = ("s", "v", "d", "g", "sg")
"""A mark's cell: step, variant, day, stage and segments (absent attributes read as `""`)."""


class Cell(NamedTuple):
    """Where a send's counts go: its step, A/B variant (`""` without) and UTC day, and the
    contact's stage (`""` for none) and segments when it was sent; `stage` None for counts
    written before sends were stamped, which no stage or segment filter can place. A tuple:
    a report hashes tens of thousands of them."""

    step_id: str
    variant: str = ""
    day: str = ""
    stage: str | None = None
    segments: frozenset[str] = frozenset()


Tally = dict[Cell, Totals]
_ZERO = Decimal(0)


class Marks:
    """Marks added up by cell from their low-level items (no deserializer: it would be most of
    the time a mark costs), each distinct cell made once."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, ...], Totals] = defaultdict(lambda: defaultdict(Decimal))

    def add(self, item: Mapping[str, Any]) -> None:
        where = tuple(item[name]["S"] if name in item else "" for name in _CELL)
        totals = self._sums[(*where, "1" if "g" in item else "")]
        amount = item.get("a")
        totals[item["m"]["S"]] += Decimal(amount["N"]) if amount else 1

    def tally(self) -> Tally:
        return {
            Cell(step, variant, day, stage if stamped else None, segment_set(segments)): dict(t)
            for (step, variant, day, stage, segments, stamped), t in self._sums.items()
        }


def merged(tallies: Iterable[Iterable[tuple[K, Mapping[str, Decimal]]]]) -> dict[K, Totals]:
    """Several tallies (as cell, or other key, and totals pairs) added up."""
    total: dict[K, Totals] = {}
    for tally in tallies:
        for cell, totals in tally:
            into = total.get(cell)
            if into is None:
                total[cell] = dict(totals)
                continue
            for metric, value in totals.items():
                into[metric] = into.get(metric, _ZERO) + value
    return total


def encoded(tally: Mapping[Cell, Mapping[str, Decimal]], limit: int = PART_CHARS) -> list[str]:
    """The tally as JSON text in parts of at most `limit` characters (one cell is never split),
    cells in a fixed order: the same tally is always the same parts."""
    order = sorted(
        tally,
        key=lambda c: (
            c.step_id,
            c.variant,
            c.day,
            c.stage or "",
            c.stage is None,
            sorted(c.segments),
        ),
    )
    parts: list[str] = []
    current: list[str] = []
    size = 2
    for c in order:
        where = json.dumps([c.step_id, c.variant, c.day, c.stage, sorted(c.segments)])
        # Totals as JSON numbers written from the decimals' own text: read back exactly.
        totals = ",".join(f"{json.dumps(m)}:{v}" for m, v in sorted(tally[c].items()))
        text = f"{where[:-1]},{{{totals}}}]"
        if current and size + len(text) + 1 > limit:
            parts.append(f"[{','.join(current)}]")
            current, size = [], 2
        current.append(text)
        size += len(text) + 1
    if current:
        parts.append(f"[{','.join(current)}]")
    return parts


def decoded(text: str) -> Iterator[tuple[Cell, Totals]]:
    """The cells and totals of one stored part."""
    for step, variant, day, stage, segments, totals in jsontext.DECIMALS.decode(text):
        yield Cell(step, variant, day, stage, frozenset(segments)), totals
