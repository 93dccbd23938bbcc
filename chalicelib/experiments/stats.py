"""Confidence intervals for rates per send: Wilson score intervals for one rate (good at small
counts and near 0 or 1, unlike the normal approximation), and Newcombe's hybrid score interval
for the difference of two rates (holdout lift, variant against variant)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Z95", "Rate", "difference", "wilson"]

Z95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""


@dataclass(frozen=True)
class Rate:
    """`hits` of `trials` with its interval [low, high]."""

    hits: int
    trials: int
    rate: float
    low: float
    high: float


def wilson(hits: int, trials: int, z: float = Z95) -> Rate:
    """The Wilson score interval of hits/trials; with no trials, 0 within [0, 1]."""
    if trials <= 0:
        return Rate(hits, trials, 0.0, 0.0, 1.0)
    if not 0 <= hits <= trials:
        raise ValueError(f"hits {hits} must be between 0 and trials {trials}")
    p = hits / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # The interval holds p exactly; rounding must not move a bound past it (0 hits: low 0).
    return Rate(hits, trials, p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def difference(first: Rate, second: Rate) -> tuple[float, float, float]:
    """first.rate - second.rate with Newcombe's 95% interval (method 10), from the two Wilson
    intervals: (difference, low, high)."""
    d = first.rate - second.rate
    low = d - math.sqrt((first.rate - first.low) ** 2 + (second.high - second.rate) ** 2)
    high = d + math.sqrt((first.high - first.rate) ** 2 + (second.rate - second.low) ** 2)
    return d, max(-1.0, low), min(1.0, high)
