"""The funnel marketers read: per step, how many sends went out and what they led to.

Every metric counts a send at most once (a unique open, a unique click), from the table's
stream, so retries and redelivered records never inflate it. Test sends (run 0) are left out.
Opens by machines (Apple MPP, proxies) are counted apart from human opens; a human click
counts as an open too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import store
from chalicelib.sequences import Sequence

METRICS = (
    "sent",
    "opened",
    "clicked",
    "converted",
    "unsubscribed",
    "bounced",
    "complained",
    "skipped",
    "opened_machine",
    "uncertain",
)


def event_metrics(event: Mapping[str, Any]) -> tuple[str, ...]:
    """What a stored event adds to its send's funnel."""
    kind, human = event.get("type"), event.get("verdict") == "human"
    if kind == "opened":
        return ("opened",) if human else ("opened_machine",)
    if kind == "clicked":
        return ("clicked", "opened") if human else ()
    if kind in ("converted", "unsubscribed", "bounced", "complained"):
        return (str(kind),)
    return ()


def send_metrics(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """A send item that just became `sent`, `skipped` or `uncertain` (a crash after SES was
    called: counted as sent, since it most likely went out, and as uncertain)."""
    status = new.get("status")
    if old.get("status") == status:
        return ()
    return {"sent": ("sent",), "skipped": ("skipped",), "uncertain": ("sent", "uncertain")}.get(
        str(status), ()
    )


@dataclass(frozen=True)
class StepFunnel:
    step_id: str
    counts: Mapping[str, int]

    def rate(self, metric: str) -> float:
        """Share of sent messages; 0 before anything was sent."""
        sent = self.counts.get("sent", 0)
        return self.counts.get(metric, 0) / sent if sent else 0.0


class Funnel:
    def __init__(self, table: store.Table) -> None:
        self.table = table
        self.sends = store.Sends(table)

    def count(self, send_id: str, metrics: tuple[str, ...]) -> None:
        origin = self.sends.origin(send_id) if metrics and send_id else None
        if origin is None or origin.run == 0:
            return
        for metric in metrics:
            self.table.apply(
                store.count_once_write(send_id, metric, origin.sequence_id, origin.step_id)
            )

    def report(self, sequence: Sequence) -> list[StepFunnel]:
        """Every step in sequence order, with zeros where nothing happened yet."""
        counted = store.Reports(self.table).funnel(sequence.id)
        return [
            StepFunnel(step.id, {m: counted.get(step.id, {}).get(m, 0) for m in METRICS})
            for step in sequence.steps
        ]
