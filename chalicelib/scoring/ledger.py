"""The engagement ledger: what a contact's human engagement is worth now, line by line.

One line per engagement kind and UTC day (the unit a daily cap counts in), plus one carried
line for days older than `DETAIL_DAYS`. Every line's value is stored as of one shared
instant, `ref`; reading at a later instant multiplies each by the same decay factor
2^(-(t - ref) / half_life) and rounds it to cents. The engagement score *is* the sum of those
rounded lines, so a receipt always adds up to the score exactly, and decay is computed at
read: nothing rewrites a score as time passes.

Decimal arithmetic with fixed rounding (ROUND_HALF_EVEN) throughout: the same ledger reads the
same on every machine. Decay factors are kept to 12 places, stored values to 6, lines to 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cached_property

__all__ = [
    "CARRIED",
    "DETAIL_DAYS",
    "MAX_LINES",
    "Ledger",
    "Line",
    "cents",
    "day_of",
    "decay",
]

DETAIL_DAYS = 30
"""Days kept line by line (a month, as Marketo's window); older days are carried in one line."""
MAX_LINES = 48
"""Lines kept at most (the oldest days are carried sooner): keeps the score about 2 KB of
the profile item, which every scored event rewrites."""
CARRIED = "carried"
_CTX = Context(prec=20, rounding=ROUND_HALF_EVEN)
_LN2 = Decimal("0.69314718055994530941723212145818")
_FACTOR = Decimal("1E-12")
_STORED = Decimal("1E-6")
_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_ONE = Decimal(1)
_NEVER = 200
"""Half-lives after which decay is taken as zero (2^-200: nothing rounds up from it)."""


def decay(seconds: int, half_life: int) -> Decimal:
    """2^(-seconds / half_life) to 12 places; 1 when no time passed."""
    if seconds <= 0:
        return _ONE
    if seconds >= _NEVER * half_life:
        return _ZERO
    exponent = _CTX.multiply(_CTX.divide(Decimal(-seconds), Decimal(half_life)), _LN2)
    return _CTX.exp(exponent).quantize(_FACTOR, rounding=ROUND_HALF_EVEN)


def cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _stored(value: Decimal) -> Decimal:
    return value.quantize(_STORED, rounding=ROUND_HALF_EVEN)


def day_of(moment: int) -> str:
    """The UTC day of an epoch second, `2026-03-02`."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Line:
    """One kind of engagement on one UTC day (or everything carried from before `day`)."""

    kind: str
    day: str
    events: int
    offered: Decimal
    """Points the events offered."""
    credited: Decimal
    """Points after the daily cap (what decays)."""
    value: Decimal
    """`credited`, each event decayed from its own time to the ledger's `ref` (6 places)."""

    @property
    def carried(self) -> bool:
        return self.kind == CARRIED


@dataclass(frozen=True)
class Ledger:
    half_life: int
    """Seconds."""
    ref: int
    """The epoch second every line's value is as of."""
    lines: tuple[Line, ...] = ()

    def factor(self, moment: int) -> Decimal:
        """The decay every line takes from `ref` to `moment`."""
        return decay(moment - self.ref, self.half_life)

    def read(self, moment: int) -> list[tuple[Line, Decimal]]:
        """Each line with its value at `moment`, rounded to cents."""
        factor = _scaled(self.factor(moment), 12)
        return [
            (line, Decimal(_cents(micros, factor)).scaleb(-2))
            for line, micros in zip(self.lines, self._micros, strict=True)
        ]

    def at(self, moment: int) -> Decimal:
        """The engagement score at `moment`: the sum of its rounded lines."""
        return self.with_factor(self.factor(moment))

    def with_factor(self, factor: Decimal) -> Decimal:
        scaled = _scaled(factor, 12)
        return Decimal(sum(_cents(micros, scaled) for micros in self._micros)).scaleb(-2)

    @cached_property
    def _micros(self) -> tuple[int, ...]:
        """Line values in millionths: the rounding below is exact integer arithmetic (and
        about ten times faster than decimal's, which a deadline search repeats)."""
        return tuple(_scaled(line.value, 6) for line in self.lines)

    def credited_today(self, kind: str, day: str) -> Decimal:
        found = self._line(kind, day)
        return found.credited if found else _ZERO

    def add(
        self, kind: str, moment: int, points: int, daily_cap: int | None
    ) -> tuple[Ledger, Decimal]:
        """The ledger with one event of `kind` at `moment` worth `points`, and the points it
        was credited after the daily cap (0 once the day's cap is reached)."""
        ledger = self.rebased(max(self.ref, moment))
        day = day_of(moment)
        found = ledger._line(kind, day)
        so_far = found.credited if found else _ZERO
        wanted = Decimal(points)
        if daily_cap is not None:
            room = max(_ZERO, Decimal(daily_cap) - abs(so_far))
            wanted = min(abs(wanted), room).copy_sign(wanted) if room else _ZERO
        worth = _stored(wanted * decay(ledger.ref - moment, self.half_life))
        line = Line(
            kind,
            day,
            (found.events if found else 0) + 1,
            (found.offered if found else _ZERO) + Decimal(points),
            so_far + wanted,
            (found.value if found else _ZERO) + worth,
        )
        others = [existing for existing in ledger.lines if existing is not found]
        return replace(ledger, lines=_ordered([*others, line])), wanted

    def rebased(self, ref: int) -> Ledger:
        """The same ledger with its values as of a later `ref`."""
        if ref <= self.ref:
            return self
        factor = decay(ref - self.ref, self.half_life)
        lines = (
            Line(line.kind, line.day, line.events, line.offered, line.credited, value)
            for line in self.lines
            if (value := _stored(line.value * factor))
        )
        return Ledger(self.half_life, ref, tuple(lines))

    def folded(self, today: int) -> Ledger:
        """Days older than `DETAIL_DAYS` before `today` (and the oldest beyond `MAX_LINES`)
        summed into the carried line. All values share `ref`, so the sum is exact."""
        cutoff = day_of(today - DETAIL_DAYS * 86_400)
        detail = [line for line in self.lines if not line.carried]
        old = [line for line in detail if line.day < cutoff]
        kept = [line for line in detail if line.day >= cutoff]
        if len(kept) >= MAX_LINES:
            days = sorted({line.day for line in kept})
            while len(kept) >= MAX_LINES and days:
                oldest = days.pop(0)
                old += [line for line in kept if line.day == oldest]
                kept = [line for line in kept if line.day != oldest]
        if not old:
            return self
        carried = [line for line in self.lines if line.carried]
        total = _merge([*carried, *old])
        return replace(self, lines=_ordered([*kept, *([total] if total.value else [])]))

    def _line(self, kind: str, day: str) -> Line | None:
        for line in self.lines:
            if line.kind == kind and line.day == day:
                return line
        return None

    def first_minute(self, after: int, holds: Callable[[Decimal], bool]) -> int | None:
        """The first whole minute after `after` at which `holds(score)` is false, as epoch
        seconds; None if it holds for good (the score only decays toward zero).

        The exact score is bisected over whole minutes between a minute where it holds and
        one where it does not. When every line is positive the score only falls, and the
        unrounded sum (one exponential) is never more than half a cent a line away from it:
        that sum's crossing, found in floats, narrows the minutes to search to a few hours.
        """
        if not self.lines or holds(self.with_factor(_ZERO)):
            return None
        low = _next_minute(after)
        if not holds(self.at(low)):
            return low
        found = self._narrowed(low, holds) if all(line.value > 0 for line in self.lines) else None
        low, high = found or (low, self._failing(low, holds))
        while high - low > 60:
            middle = low + (high - low) // 120 * 60
            if holds(self.at(middle)):
                low = middle
            else:
                high = middle
        return high

    def _failing(self, start: int, holds: Callable[[Decimal], bool]) -> int:
        """A whole minute after `start` at which `holds` fails (doubling steps)."""
        step = 60
        while holds(self.at(start + step)) and step < _NEVER * self.half_life:
            step *= 2
        return start + step

    def _narrowed(self, start: int, holds: Callable[[Decimal], bool]) -> tuple[int, int] | None:
        """Minutes (holds, fails) around the crossing of the unrounded sum, found by galloping
        from that crossing's minute (the exact one is rarely more than a few minutes away)."""
        total = float(sum(line.value for line in self.lines))

        def approx(seconds: float) -> Decimal:
            return Decimal(repr(total * 2 ** (-seconds / self.half_life))).quantize(_CENT)

        low, high = float(start - self.ref), float(start - self.ref + 60)
        while holds(approx(high)) and high < _NEVER * self.half_life:
            low, high = high, high * 2
        for _ in range(50):
            middle = (low + high) / 2
            low, high = (middle, high) if holds(approx(middle)) else (low, middle)
        guess = max(start, _next_minute(self.ref + math.floor(high)) - 60)
        step = 60
        if holds(self.at(guess)):
            while holds(self.at(guess + step)):
                if step > _NEVER * self.half_life:
                    return None
                step *= 2
            return guess + step // 2 if step > 60 else guess, guess + step
        while guess - step > start and not holds(self.at(guess - step)):
            step *= 2
        return max(start, guess - step), guess if step == 60 else guess - step // 2


def _scaled(value: Decimal, places: int) -> int:
    """`value` (with at most `places` decimals) as an integer count of 10^-places."""
    return int(value.scaleb(places))


def _cents(micros: int, factor: int) -> int:
    """round_half_even(micros * 10^-6 * factor * 10^-12, cents) in cents."""
    quotient, remainder = divmod(micros * factor, 10**16)
    twice = 2 * remainder
    if twice > 10**16 or (twice == 10**16 and quotient % 2):
        quotient += 1
    return quotient


def _next_minute(moment: int) -> int:
    """The first whole minute strictly after `moment`."""
    return (moment // 60 + 1) * 60


def _merge(lines: Iterable[Line]) -> Line:
    items = list(lines)
    return Line(
        CARRIED,
        max(line.day for line in items),
        sum(line.events for line in items),
        sum((line.offered for line in items), _ZERO),
        sum((line.credited for line in items), _ZERO),
        sum((line.value for line in items), _ZERO),
    )


def _ordered(lines: Iterable[Line]) -> tuple[Line, ...]:
    """Carried first, then by day and kind."""
    return tuple(sorted(lines, key=lambda line: (not line.carried, line.day, line.kind)))
