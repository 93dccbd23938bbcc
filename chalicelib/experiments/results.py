"""What a sequence's experiments show: per-variant rates with intervals, the holdout's lift,
and, where a step asks for it (`winner:`), a proposed new version choosing the winning variant.
Pure: counts in, results out. Nothing here changes a sequence: a proposal is a file to push."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any

from chalicelib.experiments.stats import Rate, difference, wilson
from chalicelib.sequences import Sequence
from chalicelib.stamps import instant

__all__ = ["holdout", "propose", "variant_results"]

METRICS = ("clicked", "converted")


def variant_results(step_id: str, variants: Seq[Mapping[str, Any]]) -> dict[str, Any]:
    """Each variant's human clicks and conversions per send, with 95% Wilson intervals."""
    rows = []
    for variant in variants:
        sent = int(variant.get("sent") or 0)
        row: dict[str, Any] = {"variant": variant["variant"], "sent": sent}
        for metric in METRICS:
            found = wilson(min(int(variant.get(metric) or 0), sent), sent)
            row.update(
                {
                    metric: found.hits,
                    f"{metric}_rate": found.rate,
                    f"{metric}_low": found.low,
                    f"{metric}_high": found.high,
                }
            )
        rows.append(row)
    return {"step_id": step_id, "variants": rows}


def holdout(share: int, treated: tuple[int, int], held: tuple[int, int]) -> dict[str, Any]:
    """(contacts, converted) of each group → both rates and the lift with its interval."""
    sent, kept = wilson(treated[1], treated[0]), wilson(held[1], held[0])
    lift, low, high = difference(sent, kept)
    return {
        "share": share,
        "treated": sent.trials,
        "treated_converted": sent.hits,
        "treated_rate": sent.rate,
        "treated_low": sent.low,
        "treated_high": sent.high,
        "held": kept.trials,
        "held_converted": kept.hits,
        "held_rate": kept.rate,
        "held_low": kept.low,
        "held_high": kept.high,
        "lift": lift,
        "lift_low": low,
        "lift_high": high,
    }


def propose(
    sequence: Sequence,
    pushed_at: str,
    per_variant: Mapping[str, Seq[Mapping[str, Any]]],
    now: datetime,
) -> dict[str, Any] | None:
    """The first step whose `winner:` rule is met: every arm has its minimum of sends, the wait
    has passed since the version was pushed, and one arm beats each other on the metric with a
    difference whose 95% interval is above zero. Answers the reason, the new file and its diff."""
    for step in sequence.steps:
        rule = step.winner
        if rule is None or not step.variants:
            continue
        arms = {str(v["variant"]): v for v in per_variant.get(step.id, ())}
        if now < instant(pushed_at) + rule.after:
            continue
        rates = {
            v.id: wilson(
                min(
                    int(arms.get(v.id, {}).get(rule.metric) or 0),
                    int(arms.get(v.id, {}).get("sent") or 0),
                ),
                int(arms.get(v.id, {}).get("sent") or 0),
            )
            for v in step.variants
        }
        if any(rate.trials < rule.min_per_arm for rate in rates.values()):
            continue
        leader = max(rates, key=lambda name: rates[name].rate)
        gaps = {
            name: difference(rates[leader], rate) for name, rate in rates.items() if name != leader
        }
        if not all(low > 0 for _, low, _ in gaps.values()):
            continue
        return {
            "step_id": step.id,
            "winner": leader,
            "metric": rule.metric,
            "reason": _reason(rule.metric, leader, rates, gaps),
            **_files(sequence, step.id, leader),
        }
    return None


def _rate(counts: Mapping[str, Any], metric: str) -> Rate:
    sent = int(counts.get("sent") or 0)
    return wilson(min(int(counts.get(metric) or 0), sent), sent)


def _reason(
    metric: str,
    leader: str,
    rates: Mapping[str, Rate],
    gaps: Mapping[str, tuple[float, float, float]],
) -> str:
    label = "human click rate" if metric == "clicked" else "conversion rate"
    best = rates[leader]
    others = "; ".join(
        f"{name} {rates[name].rate:.1%} ({rates[name].trials:,} sends), "
        f"{gap:+.1%} (95% interval {low:+.1%} to {high:+.1%})"
        for name, (gap, low, high) in gaps.items()
    )
    return (
        f"Variant {leader} has the best {label}: {best.rate:.1%} of {best.trials:,} sends "
        f"(95% interval {best.low:.1%} to {best.high:.1%}); against {others}."
    )


def _files(sequence: Sequence, step_id: str, leader: str) -> dict[str, str]:
    """The stored file and the proposed one as YAML, and the unified diff between them."""
    import yaml

    current = sequence.model_dump(mode="json", exclude_defaults=True)
    proposed = sequence.model_dump(mode="json", exclude_defaults=True)
    for step in proposed["steps"]:
        if step["id"] == step_id:
            chosen = next(v for v in step["variants"] if v["id"] == leader)
            step["template"] = chosen["template"]
            step.pop("variants", None)
            step.pop("winner", None)
    before = yaml.safe_dump(_pruned(current), sort_keys=False, allow_unicode=True, width=100)
    after = yaml.safe_dump(_pruned(proposed), sort_keys=False, allow_unicode=True, width=100)
    diff = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"{sequence.id}.yaml (stored)",
        f"{sequence.id}.yaml (proposed)",
    )
    return {"diff": "".join(diff), "file": after}


def _pruned(value: Any) -> Any:
    """Without nulls and empty maps, so the YAML reads like a written file."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value
