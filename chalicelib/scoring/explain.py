"""`score explain`: every fit rule and every engagement line with its points, caps and decay,
the events behind each line (and those that scored nothing, with why), and the band.

The lines are the score's own: they add up to it exactly at the instant of reading. The
events under a line are the contact's stored history, with what each earned when scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.fields import format_duration
from chalicelib.scoring import receipts
from chalicelib.scoring.ledger import day_of
from chalicelib.scoring.scorer import Outcome, Scorer, event_second, unscored_reason
from chalicelib.scoring.state import ScoreState
from chalicelib.stamps import iso

__all__ = ["Explanation", "explain"]

SCORED_TYPES = frozenset({"opened", "clicked", "converted", "unsubscribed", "complained", "event"})


@dataclass(frozen=True)
class Explanation:
    contact_id: str
    email: str | None
    name: str
    version: int
    at: int
    outcome: Outcome
    level: str
    levels: tuple[int, int]
    """The least engagement of high and medium for the contact's stage."""
    half_life: str
    alerting: bool
    stored: ScoreState | None
    events: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]
    """Scored events by (kind, day) of their line, with what each earned."""
    unscored: Sequence[Mapping[str, Any]]

    def doc(self) -> dict[str, Any]:
        """The stable JSON shape of a receipt (the API's `GET /api/contacts/{id}/score`)."""
        state = self.outcome.state
        lines = receipts.line_docs(state, self.at)
        for line in lines:
            line["items"] = list(self._items(line))
        return {
            "contact_id": self.contact_id,
            "email": self.email,
            "scoring": {"name": self.name, "version": self.version},
            "at": iso(self.at),
            "stage": state.stage,
            "temperature": state.temperature,
            "band": {
                "grade": state.grade,
                "level": self.level,
                "levels": {"high": self.levels[0], "medium": self.levels[1]},
            },
            "fit": receipts.fit_doc(self.outcome.fit),
            "engagement": {
                "score": receipts.number(state.engagement(self.at)),
                "half_life": self.half_life,
                "as_of": iso(state.ledger.ref) if state.ledger.lines else None,
                "decay": receipts.number(state.ledger.factor(self.at)),
                "lines": lines,
            },
            "unscored": list(self.unscored),
            "alert": (
                {"armed": state.armed, "alerted_at": state.alerted_at} if self.alerting else None
            ),
            "stored": (
                {
                    "version": self.stored.version,
                    "temperature": self.stored.temperature,
                    "at": self.stored.at,
                    "due": self.stored.due,
                }
                if self.stored
                else None
            ),
        }

    def _items(self, line: Mapping[str, Any]) -> list[dict[str, Any]]:
        if line["carried"]:
            found = [
                e for (kind, day), items in self.events.items() if day <= line["day"] for e in items
            ]
            return [dict(e) for e in sorted(found, key=lambda e: str(e["at"]))][-50:]
        return [dict(e) for e in self.events.get((line["kind"], line["day"]), ())]

    def text(self) -> str:
        """The receipt as a marketer reads it in a terminal."""
        doc = self.doc()
        out: list[str] = []
        engagement = doc["engagement"]
        fit = doc["fit"]
        who = f"{doc['email']} ({doc['contact_id']})" if doc["email"] else doc["contact_id"]
        headline = [doc["temperature"]]
        if fit:
            headline.append(f"fit {fit['score']} (grade {fit['grade']})")
        headline.append(f"engagement {engagement['score']}")
        headline.append(f"stage {doc['stage'] or '(none)'}")
        out.append(f"{who}: {', '.join(headline)}")
        out.append(
            f"scoring {doc['scoring']['name']!r} v{doc['scoring']['version']}, read at {doc['at']}"
        )
        if fit:
            out += ["", f"Fit {fit['score']} -> grade {fit['grade']}"]
            for group in fit["groups"]:
                cap = ""
                if group["capped"]:
                    bound = group["max"] if group["raw"] > group["points"] else group["min"]
                    cap = f"  (rules {group['raw']:+d}, capped at {bound:+d})"
                out.append(f"  {group['id']:<22}{group['points']:>+6d}{cap}")
                for rule in group["rules"]:
                    mark = "yes" if rule["matched"] else " no"
                    out.append(f"    {mark} {rule['points']:>+5d}  {rule['label']}")
        levels = doc["band"]["levels"]
        out += [
            "",
            f"Engagement {engagement['score']} -> {doc['band']['level']} "
            f"(high >= {levels['high']}, medium >= {levels['medium']}); "
            f"half-life {engagement['half_life']}, decay x{Decimal(engagement['decay']):.4f} "
            f"since {engagement['as_of'] or '-'}",
        ]
        if engagement["lines"]:
            out.append(
                f"  {'day':<13}{'kind':<24}{'events':>6}{'points':>8}{'capped':>8}{'now':>9}"
            )
        for line in engagement["lines"]:
            day = f"<={line['day']}" if line["carried"] else line["day"]
            kind = "carried" if line["carried"] else line["kind"]
            out.append(
                f"  {day:<13}{kind:<24}{line['events']:>6}{line['credited']:>8}"
                f"{line['capped']:>8}{line['value']:>9}"
            )
            if not line["carried"]:
                for item in line["items"]:
                    capped = Decimal(item["points"]) != item["offered"]
                    note = f"  (offered {item['offered']}, over the daily cap)" if capped else ""
                    out.append(f"      {item['at']}  {item['points']:>5}  {item['event_id']}{note}")
        if engagement["lines"]:
            out.append(f"  {'total':<59}{engagement['score']:>9}")
        if doc["unscored"]:
            reasons: dict[str, int] = {}
            for item in doc["unscored"]:
                reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
            listed = ", ".join(f"{count} x {reason}" for reason, count in sorted(reasons.items()))
            out.append(f"  scored nothing: {listed}")
        out += [
            "",
            f"Temperature {doc['temperature']}: grade {doc['band']['grade'] or '-'}, "
            f"level {doc['band']['level']}, stage {doc['stage'] or '(none)'}",
        ]
        if doc["alert"] is not None:
            alert = doc["alert"]
            state = (
                "armed" if alert["armed"] else f"sent {alert['alerted_at']}, not armed again yet"
            )
            out.append(f"Alert: {state}")
        return "\n".join(out) + "\n"


def explain(
    scorer: Scorer,
    outcome: Outcome,
    stored: ScoreState | None,
    history: Sequence[Mapping[str, Any]],
    *,
    contact_id: str,
    email: str | None,
    at: int,
) -> Explanation:
    """A receipt for `outcome` (the contact's score at `at`) with the events behind it."""
    _, _, earned = scorer.replay(history, at)
    by_line: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unscored: list[dict[str, Any]] = []
    for event in sorted(history, key=lambda e: (str(e.get("at", "")), str(e.get("event_id", "")))):
        kind = event.get("type")
        if kind not in SCORED_TYPES:
            continue
        found = scorer.rule(event)
        detail = {
            "event_id": str(event.get("event_id", "")),
            "type": kind,
            "name": event.get("name"),
            "at": str(event.get("at", "")),
        }
        if found is None:
            reason = unscored_reason(event) or f"no points for {_kind_name(event)}"
            unscored.append({**detail, "reason": reason})
            continue
        points = earned.get(detail["event_id"], Decimal(0))
        line = (found[0], day_of(event_second(event)))
        by_line.setdefault(line, []).append(
            {**detail, "points": receipts.number(points), "offered": found[1].points}
        )
    state = outcome.state
    spec = scorer.scoring.spec_for(state.stage).levels
    return Explanation(
        contact_id,
        email,
        scorer.scoring.name,
        scorer.version,
        at,
        outcome,
        scorer.level(state.stage, state.engagement(at)),
        (spec.high, spec.medium),
        format_duration(scorer.scoring.engagement.half_life),
        scorer.scoring.alert is not None,
        stored,
        by_line,
        unscored,
    )


def _kind_name(event: Mapping[str, Any]) -> str:
    return f"event {event.get('name')}" if event.get("type") == "event" else str(event.get("type"))
