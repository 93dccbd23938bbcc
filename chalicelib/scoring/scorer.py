"""The pure core of scoring: what one event (or a changed profile, or the clock) does to a
contact's score.

`Scorer.observe` takes the profile, the stored state and the event, and answers the new state
(or None when nothing a reader could see changed), the points the event earned, and what
happened: a `temperature_changed` (heated or cooled) and, once per crossing, an `alert`. The
state carries the next instant its band would change by decay alone (`due`), which a timer in
the due-minute buckets turns into the `cooled` transition at that minute.

People, not machines: an open or click scores only with a `human` verdict; machine opens,
scanner clicks (HEAD, known scanners, bursts) and unknown verdicts score zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib import summary
from chalicelib.scoring import receipts
from chalicelib.scoring.fit import FitOutcome, FitRules
from chalicelib.scoring.ledger import Ledger
from chalicelib.scoring.model import BANDS, EMAIL_KINDS, LEVELS, Points, Scoring
from chalicelib.scoring.state import RECENT, Scored, ScoreState
from chalicelib.segments import event_matches
from chalicelib.stamps import instant, iso

__all__ = ["Outcome", "Scorer", "event_second", "unscored_reason"]

HUMAN_ONLY = ("opened", "clicked")


@dataclass(frozen=True)
class Outcome:
    state: ScoreState
    """The score now (also when unchanged)."""
    changed: bool
    """Whether anything a reader sees changed: only then is it written."""
    happened: tuple[tuple[str, Mapping[str, Any]], ...]
    """Timeline events it causes: `temperature_changed`, `alert`."""
    points: Decimal | None
    """What the event earned (after the daily cap); None when it does not score."""
    fit: FitOutcome | None


def event_second(event: Mapping[str, Any]) -> int:
    return int(instant(str(event["at"])).timestamp())


def unscored_reason(event: Mapping[str, Any]) -> str | None:
    """Why an engagement event scores nothing whatever the model says (a machine's), or None."""
    kind = event.get("type")
    if kind in HUMAN_ONLY and event.get("verdict") != "human":
        verdict = event.get("verdict") or "unknown"
        why = event.get("verdict_reason")
        noun = "open" if kind == "opened" else "click"
        return f"{verdict} {noun}" + (f" ({why})" if why else "")
    return None


class Scorer:
    """One scoring version, compiled for a run at `now` (a stream batch, a timer, a rescore)."""

    def __init__(
        self,
        scoring: Scoring,
        version: int,
        now: datetime,
        *,
        topics: Iterable[str] = (),
        stages: Iterable[str] = (),
    ) -> None:
        self.scoring, self.version = scoring, version
        self.half_life = int(scoring.engagement.half_life.total_seconds())
        self.fit = FitRules(scoring.fit, now, topics=topics, stages=stages) if scoring.fit else None
        self._products = scoring.product_kinds()

    # --- events -------------------------------------------------------------------------------

    def rule(self, event: Mapping[str, Any]) -> tuple[str, Points] | None:
        """The engagement kind and points of an event, or None when it scores nothing."""
        kind = event.get("type")
        if unscored_reason(event) is not None:
            return None
        if kind in EMAIL_KINDS:
            points = getattr(self.scoring.engagement, str(kind))
            return (str(kind), points) if points is not None else None
        if kind == summary.PRODUCT:
            for name, rule in self._products:
                if event_matches(rule, event):
                    return name, rule
        return None

    def replay(
        self, events: Iterable[Mapping[str, Any]], now: int
    ) -> tuple[Ledger, tuple[Scored, ...], dict[str, Decimal]]:
        """The ledger of a whole history (oldest first), and what each scored event earned."""
        ledger = Ledger(self.half_life, 0)
        recent: tuple[Scored, ...] = ()
        earned: dict[str, Decimal] = {}
        ordered = sorted(events, key=lambda e: (str(e.get("at", "")), str(e.get("event_id", ""))))
        for event in ordered:
            if event.get("event_id") in earned:
                continue
            ledger, recent, points = self._apply(ledger, recent, event)
            if points is not None:
                earned[str(event["event_id"])] = points
        return ledger.folded(now), recent, earned

    def _apply(
        self, ledger: Ledger, recent: tuple[Scored, ...], event: Mapping[str, Any]
    ) -> tuple[Ledger, tuple[Scored, ...], Decimal | None]:
        found = self.rule(event)
        event_id = str(event.get("event_id", ""))
        if found is None or not event_id or any(s.event_id == event_id for s in recent):
            return ledger, recent, None
        kind, points = found
        moment = event_second(event)
        ledger, credited = ledger.folded(moment).add(kind, moment, points.points, points.daily_cap)
        scored = Scored(event_id, kind, str(event["at"]), credited)
        latest = sorted((*recent, scored), key=lambda s: (s.at, s.event_id))[-RECENT:]
        return ledger, tuple(latest), credited

    # --- the contact --------------------------------------------------------------------------

    def needs_history(self, prev: ScoreState | None) -> bool:
        """Whether the contact's stored events must be replayed (no state of this version)."""
        return prev is None or prev.version != self.version

    def stage_of(self, profile: Any) -> str | None:
        source = self.scoring.stage.attribute
        value = profile.attributes.get(source) if source else getattr(profile, "stage", None)
        return str(value) if value not in (None, "") else None

    def level(self, stage: str | None, engagement: Decimal) -> str:
        levels = self.scoring.spec_for(stage).levels
        if engagement >= levels.high:
            return LEVELS[0]
        return LEVELS[1] if engagement >= levels.medium else LEVELS[2]

    def band(self, grade: str | None, stage: str | None, engagement: Decimal) -> str:
        spec = self.scoring.spec_for(stage)
        bands = (spec.by_grade or {}).get(grade, spec.bands) if grade else spec.bands  # type: ignore[call-overload]
        return str(getattr(bands, self.level(stage, engagement)))

    def observe(
        self,
        profile: Any,
        prev: ScoreState | None,
        event: Mapping[str, Any] | None,
        now: int,
        *,
        history: Iterable[Mapping[str, Any]] = (),
        cause: str = "event",
    ) -> Outcome:
        """The contact's score after `event` (None: the profile changed, or the clock moved).

        Without a state of this version, `history` (the contact's stored events) is replayed
        first. A `rescore` never pages sales: a contact already past the alert is marked
        alerted instead.
        """
        points: Decimal | None = None
        if prev is not None and prev.version == self.version:
            ledger, recent = prev.ledger, prev.recent
            if event is not None:
                ledger, recent, points = self._apply(ledger.folded(now), recent, event)
        else:
            events = list(history)
            if event is not None:
                events.append(event)
            ledger, recent, earned = self.replay(events, now)
            points = earned.get(str(event.get("event_id"))) if event is not None else None
        fit = self.fit(profile) if self.fit else None
        grade = fit.grade if fit else None
        stage = self.stage_of(profile)
        engagement = ledger.at(now)
        temperature = self.band(grade, stage, engagement)
        before = prev.temperature if prev else None
        happened: list[tuple[str, Mapping[str, Any]]] = []
        if temperature != before and not (before is None and temperature == BANDS[-1]):
            happened.append(
                (
                    "temperature_changed",
                    {
                        "from": before,
                        "to": temperature,
                        "transition": _transition(before, temperature),
                        "cause": cause,
                        "score": engagement,
                        "fit": fit.score if fit else None,
                        "grade": grade,
                    },
                )
            )
        armed = prev.armed if prev else True
        alerted_at = prev.alerted_at if prev else None
        alert = self.scoring.alert
        state = ScoreState(
            self.version,
            fit.score if fit else None,
            grade,
            stage,
            ledger,
            temperature,
            iso(now),
            None,
            armed,
            alerted_at,
            recent,
        )
        if alert is not None:
            if armed and self._alerting(temperature, engagement):
                state = replace(state, armed=False, alerted_at=iso(now))
                if cause != "rescore":
                    happened.append(("alert", self._alert(state, fit, engagement, now)))
            elif not armed and self._rearmed(temperature, engagement):
                state = replace(state, armed=True)
        state = replace(state, due=self.deadline(state, now))
        changed = prev is None or replace(prev, at="") != replace(state, at="")
        return Outcome(state, changed, tuple(happened), points, fit)

    # --- decay and alerts -----------------------------------------------------------------------

    def deadline(self, state: ScoreState, now: int) -> str | None:
        """The due minute (`2026-03-02T10:17Z`) at which decay alone changes the band or the
        alert's state, or None when it never will."""
        current = self._observed(state, state.ledger.at(now))

        def holds(engagement: Decimal) -> bool:
            return self._observed(state, engagement) == current

        moment = state.ledger.first_minute(now, holds)
        if moment is None:
            return None
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%MZ")

    def _observed(self, state: ScoreState, engagement: Decimal) -> tuple[str, bool]:
        band = self.band(state.grade, state.stage, engagement)
        if self.scoring.alert is None:
            return band, False
        if state.armed:
            return band, self._alerting(band, engagement)
        return band, self._rearmed(band, engagement)

    def _alerting(self, temperature: str, engagement: Decimal) -> bool:
        alert = self.scoring.alert
        if alert is None:
            return False
        if isinstance(alert.when, str):
            return BANDS.index(temperature) <= BANDS.index(alert.when)
        return engagement >= alert.when.engagement

    def _rearmed(self, temperature: str, engagement: Decimal) -> bool:
        alert = self.scoring.alert
        if alert is None:
            return True
        band, below = alert.rearm_band, alert.rearm_below
        if band is not None:
            return BANDS.index(temperature) >= BANDS.index(band)
        return below is not None and engagement < below

    def _alert(
        self, state: ScoreState, fit: FitOutcome | None, engagement: Decimal, now: int
    ) -> dict[str, Any]:
        alert = self.scoring.alert
        assert alert is not None
        if isinstance(alert.when, str):
            reason = f"turned {state.temperature}"
        else:
            reason = f"engagement reached {alert.when.engagement}"
        return {
            "name": alert.name,
            "reason": reason,
            "temperature": state.temperature,
            "score": engagement,
            "fit": state.fit,
            "grade": state.grade,
            "stage": state.stage,
            "receipt": receipts.brief(state, fit, now),
            "engagements": [
                {"kind": s.kind, "at": s.at, "points": s.points, "event_id": s.event_id}
                for s in reversed(state.recent[-5:])
            ],
        }


def _transition(before: str | None, after: str) -> str:
    if before is None:
        return "heated"
    return "heated" if BANDS.index(after) < BANDS.index(before) else "cooled"
