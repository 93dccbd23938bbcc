"""A sequence's report as marketers read and export it: the funnel per step and per A/B
variant, the reasons behind unsubscribes and skips, revenue, the daily trend, and what the
experiments show (variant intervals, holdout lift, a proposed winner). One document for the
API's JSON, its CSV (`Accept: text/csv`) and `nurture report --format`."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from chalicelib.contactfiles import export_csv
from chalicelib.errors import InvalidInput
from chalicelib.experiments import results
from chalicelib.fields import format_duration
from chalicelib.funnel import METRICS, Counted, holdout_window
from chalicelib.sequences import Sequence

__all__ = ["CSV_COLUMNS", "audience", "csv_lines", "days", "document"]

CSV_COLUMNS = (
    "step_id",
    "variant",
    *METRICS,
    "revenue",
    "unsubscribed_reasons",
    "skipped_reasons",
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def days(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """The report's date filter: UTC days of the send (`2026-03-01`), both included; errors
    name the field."""
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        try:
            if not _DAY.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(name, "must be a date such as 2026-03-01") from None
    if since and until and until < since:
        raise InvalidInput("until", "must not be before since")
    return since or None, until or None


def audience(
    segment: str | None,
    stage: str | None,
    segments: Collection[str],
    stages: Collection[str],
) -> tuple[str | None, str | None]:
    """The report's segment and stage filter, each a pushed id (or None); errors name the
    parameter."""
    if segment is not None and segment not in segments:
        raise InvalidInput("segment", f"no segment {segment[:80]!r} is pushed")
    if stage is not None and not stages:
        raise InvalidInput("stage", "no lifecycle stages are pushed")
    if stage is not None and stage not in stages:
        raise InvalidInput("stage", f"no stage {stage[:80]!r} in the lifecycle")
    return segment, stage


def document(
    sequence: Sequence,
    version: int,
    pushed_at: str,
    counted: Counted,
    now: datetime,
    since: str | None = None,
    until: str | None = None,
    segment: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    """The report of `sequence` (newest `version`, pushed at `pushed_at`) from its counts, of
    sends from `since` to `until` (and the holdout's contacts enrolled on those days), to
    contacts who were in `segment` and at `stage` when sent. Counts a segment or stage filter
    cannot place (sends made before sends were stamped) are left out and summed apart in
    `unfilterable`; the holdout is not narrowed by segment or stage."""
    undated = counted.undated() if since or until else 0
    counted = counted.within(since, until)
    filtered = segment is not None or stage is not None
    unfilterable = counted.unstamped() if filtered else None
    if filtered:
        counted = counted.audience(segment, stage)
    steps = []
    variant_rows: dict[str, list[dict[str, Any]]] = {}
    for step in sequence.steps:
        row: dict[str, Any] = {"step_id": step.id, **counted.step(step.id)}
        if step.variants:
            row["variants"] = [
                {"variant": v.id, **counted.step(step.id, v.id)} for v in step.variants
            ]
            variant_rows[step.id] = row["variants"]
        steps.append(row)
    return {
        "sequence_id": sequence.id,
        "version": version,
        "since": since,
        "until": until,
        "segment": segment,
        "stage": stage,
        "unfilterable": unfilterable,
        "steps": steps,
        "days": counted.days(),
        "experiments": [results.variant_results(s, rows) for s, rows in variant_rows.items()],
        "holdout": _holdout(sequence, counted, undated, filtered) if sequence.holdout else None,
        "proposal": results.propose(sequence, pushed_at, variant_rows, now),
    }


def _holdout(
    sequence: Sequence, counted: Counted, undated: int, by_audience: bool
) -> dict[str, Any]:
    """The holdout's lift from its groups' conversions within the window, each group's revenue
    per currency, the window and where it comes from, and how many contacts a date range
    left out because they were counted before enrolment days were kept. With a segment or
    stage filter, it says it compares every contact enrolled (held-out contacts get no send
    to stamp)."""
    groups = counted.holdout()
    treated, held = groups["treated"], groups["held"]
    window, source = holdout_window(sequence)
    return {
        **results.holdout(
            int(sequence.holdout or 0),
            (treated.enrolled, treated.converted),
            (held.enrolled, held.converted),
        ),
        "treated_revenue": dict(treated.revenue),
        "held_revenue": dict(held.revenue),
        "window": format_duration(window),
        "window_from": source,
        "undated": undated,
        "segment_and_stage": "not applied: every contact enrolled" if by_audience else None,
    }


def csv_lines(doc: Mapping[str, Any]) -> Iterator[str]:
    """One row per step and one per variant under it (its `variant` column set); revenue as
    `EUR 120.50; USD 10.00`, reasons as `too_many=3; other=1`. Cells a spreadsheet would run as
    a formula are neutralised."""

    def rows() -> Iterator[dict[str, Any]]:
        for step in doc["steps"]:
            yield _csv_row(step, str(step["step_id"]), "")
            for variant in step.get("variants") or ():
                yield _csv_row(variant, str(step["step_id"]), str(variant["variant"]))

    return export_csv(rows(), CSV_COLUMNS)


def _csv_row(counts: Mapping[str, Any], step_id: str, variant: str) -> dict[str, Any]:
    revenue = counts.get("revenue") or {}
    return {
        **{metric: counts.get(metric, 0) for metric in METRICS},
        "step_id": step_id,
        "variant": variant,
        "revenue": "; ".join(
            f"{currency} {amount}" for currency, amount in sorted(revenue.items())
        ),
        **{
            name: "; ".join(
                f"{reason}={n}" for reason, n in sorted((counts.get(name) or {}).items())
            )
            for name in ("unsubscribed_reasons", "skipped_reasons")
        },
    }
