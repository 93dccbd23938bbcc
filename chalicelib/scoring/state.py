"""A contact's score as stored on its profile (`store.SCORE`): fit, grade, stage, the engagement
ledger with its as-of instant, the temperature when last written, the next decay crossing,
the alert's hysteresis and the latest scored events (which also make a duplicate stream
record score nothing).

Plain data in and out (`from_item` / `to_item`): the profile reads it without the scoring
model, and `engagement(at)` decays it at read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.scoring.ledger import Ledger, Line

__all__ = ["RECENT", "ScoreState", "Scored"]

RECENT = 20
"""Scored events kept: the latest engagements an alert shows, and the ids a duplicate stream
record is recognised by."""


@dataclass(frozen=True)
class Scored:
    """One event that earned points (possibly 0, over the daily cap)."""

    event_id: str
    kind: str
    at: str
    points: Decimal


@dataclass(frozen=True)
class ScoreState:
    version: int
    """The scoring version that computed it."""
    fit: int | None
    grade: str | None
    stage: str | None
    ledger: Ledger
    temperature: str
    at: str
    """When it was last computed and written."""
    due: str | None = None
    """The due minute of the next band crossing by decay alone."""
    armed: bool = True
    """Whether the alert may fire (false from an alert until the contact falls to `rearm`)."""
    alerted_at: str | None = None
    recent: tuple[Scored, ...] = field(default=())

    def engagement(self, moment: datetime | int) -> Decimal:
        """The engagement score at `moment`, decayed from the stored one."""
        seconds = int(moment.timestamp()) if isinstance(moment, datetime) else moment
        return self.ledger.at(seconds)

    def seen(self, event_id: str) -> bool:
        return any(scored.event_id == event_id for scored in self.recent)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "v": self.version,
            "h": self.ledger.half_life,
            "ref": self.ledger.ref,
            "lines": [
                [line.kind, line.day, line.events, line.offered, line.credited, line.value]
                for line in self.ledger.lines
            ],
            "t": self.temperature,
            "at": self.at,
            "armed": self.armed,
            "recent": [[s.event_id, s.kind, s.at, s.points] for s in self.recent],
        }
        optional = {
            "fit": self.fit,
            "grade": self.grade,
            "stage": self.stage,
            "due": self.due,
            "alerted": self.alerted_at,
        }
        item.update({name: value for name, value in optional.items() if value is not None})
        return item

    @classmethod
    def from_item(cls, item: Any) -> ScoreState | None:
        """The stored state, or None when there is none (or it is not one we wrote)."""
        if not isinstance(item, Mapping):
            return None
        try:
            ledger = Ledger(
                int(item["h"]),
                int(item["ref"]),
                tuple(
                    Line(str(k), str(d), int(n), Decimal(o), Decimal(c), Decimal(v))
                    for k, d, n, o, c, v in item.get("lines") or ()
                ),
            )
            fit = item.get("fit")
            return cls(
                version=int(item["v"]),
                fit=int(fit) if fit is not None else None,
                grade=_text(item.get("grade")),
                stage=_text(item.get("stage")),
                ledger=ledger,
                temperature=str(item["t"]),
                at=str(item["at"]),
                due=_text(item.get("due")),
                armed=bool(item.get("armed", True)),
                alerted_at=_text(item.get("alerted")),
                recent=tuple(
                    Scored(str(i), str(k), str(a), Decimal(p))
                    for i, k, a, p in item.get("recent") or ()
                ),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
