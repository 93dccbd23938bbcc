"""Receipts as plain data: the JSON shape `score explain`, the API and sales alerts share.

Amounts that decay are exact decimal text (`"9.07"`), so the lines of a receipt add up to its
total in any language that reads them; points before decay are whole numbers as text too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.stamps import iso

if TYPE_CHECKING:
    from chalicelib.scoring.fit import FitOutcome
    from chalicelib.scoring.state import ScoreState

__all__ = ["BRIEF_LINES", "brief", "fit_doc", "line_docs", "number"]

BRIEF_LINES = 10
"""Engagement lines an alert carries (the largest; the total is always the whole score)."""


def number(value: Decimal | int) -> str:
    return str(value) if isinstance(value, int) else format(value, "f")


def fit_doc(fit: FitOutcome | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {
        "score": fit.score,
        "grade": fit.grade,
        "groups": [
            {
                "id": group.id,
                "points": group.points,
                "raw": group.raw,
                "min": group.min,
                "max": group.max,
                "capped": group.capped,
                "rules": [
                    {"label": rule.label, "points": rule.points, "matched": rule.matched}
                    for rule in group.rules
                ],
            }
            for group in fit.groups
        ],
    }


def line_docs(state: ScoreState, now: int) -> list[dict[str, Any]]:
    """Every engagement line with its value now; they add up to the engagement score."""
    return [
        {
            "kind": line.kind,
            "day": line.day,
            "carried": line.carried,
            "events": line.events,
            "offered": number(line.offered),
            "credited": number(line.credited),
            "capped": number(line.offered - line.credited),
            "value": number(value),
        }
        for line, value in state.ledger.read(now)
    ]


def brief(state: ScoreState, fit: FitOutcome | None, now: int) -> dict[str, Any]:
    """The receipt an alert carries: fit by group, the largest engagement lines, the band."""
    lines = sorted(line_docs(state, now), key=lambda doc: -abs(Decimal(doc["value"])))
    return {
        "at": iso(now),
        "fit": (
            {
                "score": fit.score,
                "grade": fit.grade,
                "groups": [{"id": g.id, "points": g.points} for g in fit.groups],
            }
            if fit
            else None
        ),
        "engagement": {
            "score": number(state.engagement(now)),
            "lines": [
                {key: doc[key] for key in ("kind", "day", "events", "value")}
                for doc in lines[:BRIEF_LINES]
            ],
            "lines_omitted": max(0, len(lines) - BRIEF_LINES),
        },
        "stage": state.stage,
        "temperature": state.temperature,
    }
