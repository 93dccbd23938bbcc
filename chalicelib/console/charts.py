"""Charts drawn on the server as SVG: no script, no CDN, works offline. Each chart is an image
with a title and description for screen readers, and every number it draws is also in a
table on the page. Colours come from the stylesheet (classes), so the page's CSP forbids
inline styles without losing them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = ["Bar", "Interval", "Series", "bars", "intervals", "safe", "step_graph", "trend"]

WIDTH = 640
ROW = 30
LABEL = 170


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    kind: str
    """CSS class: `sent`, `human`, `machine`, `click`, `convert`, `bad`."""


@dataclass(frozen=True)
class Series:
    label: str
    kind: str
    values: Sequence[float]


@dataclass(frozen=True)
class Interval:
    label: str
    rate: float
    low: float
    high: float


def safe(svg: str) -> Markup:
    """A chart from this module, for a template: every value in it was escaped when drawn."""
    return Markup(svg)  # noqa: S704 - built here from escaped text and numbers only


def _frame(
    title: str, description: str, height: int, body: str, ident: str, width: int = WIDTH
) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title>'
        f'<desc id="{ident}-d">{escape(description)}</desc>{body}</svg>'
    )


def bars(title: str, items: Sequence[Bar], ident: str) -> str:
    """Horizontal bars on one scale, the value written at each bar's end."""
    top = max((b.value for b in items), default=0) or 1
    span = WIDTH - LABEL - 70
    parts = []
    for i, item in enumerate(items):
        y = 10 + i * ROW
        length = max(1.0, span * item.value / top) if item.value else 0
        parts.append(
            f'<text class="axis" x="{LABEL - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(item.label)}</text>"
            f'<rect class="bar {escape(item.kind)}" x="{LABEL}" y="{y + 3}" '
            f'width="{length:.1f}" height="{ROW - 10}"/>'
            f'<text class="value" x="{LABEL + length + 6:.1f}" y="{y + 16}">'
            f"{_number(item.value)}</text>"
        )
    description = "; ".join(f"{b.label}: {_number(b.value)}" for b in items)
    return _frame(title, description, 20 + len(items) * ROW, "".join(parts), ident)


def trend(title: str, days: Sequence[str], series: Sequence[Series], ident: str) -> str:
    """Lines over days, one per series, with the first and last day on the axis."""
    height, left, bottom = 240, 48, 200
    top = max((v for s in series for v in s.values), default=0) or 1
    step = (WIDTH - left - 20) / max(1, len(days) - 1)

    def point(i: int, value: float) -> str:
        return f"{left + i * step:.1f},{bottom - (bottom - 20) * value / top:.1f}"

    parts = [
        f'<line class="grid" x1="{left}" y1="{bottom}" x2="{WIDTH - 20}" y2="{bottom}"/>',
        f'<line class="grid" x1="{left}" y1="20" x2="{WIDTH - 20}" y2="20"/>',
        f'<text class="axis" x="{left - 6}" y="24" text-anchor="end">{_number(top)}</text>',
        f'<text class="axis" x="{left - 6}" y="{bottom + 4}" text-anchor="end">0</text>',
    ]
    if days:
        parts.append(f'<text class="axis" x="{left}" y="{bottom + 20}">{escape(days[0])}</text>')
        parts.append(
            f'<text class="axis" x="{WIDTH - 20}" y="{bottom + 20}" text-anchor="end">'
            f"{escape(days[-1])}</text>"
        )
    for n, line in enumerate(series):
        points = " ".join(point(i, v) for i, v in enumerate(line.values))
        parts.append(f'<polyline class="line {escape(line.kind)}" points="{points}"/>')
        parts.append(
            f'<rect class="bar {escape(line.kind)}" x="{left + n * 150}" y="{height - 14}" '
            f'width="12" height="10"/><text class="axis" x="{left + n * 150 + 16}" '
            f'y="{height - 5}">{escape(line.label)}</text>'
        )
    description = f"{len(days)} days from {days[0]} to {days[-1]}" if days else "no days yet"
    return _frame(title, description, height, "".join(parts), ident)


def intervals(title: str, items: Sequence[Interval], ident: str) -> str:
    """Each rate as a dot with its confidence interval as a whisker, on a 0 to max scale."""
    top = max((i.high for i in items), default=0) or 1
    span = WIDTH - LABEL - 90
    parts = []
    for n, item in enumerate(items):
        y = 20 + n * ROW

        def x(rate: float) -> float:
            return LABEL + span * rate / top

        parts.append(
            f'<text class="axis" x="{LABEL - 8}" y="{y + 4}" text-anchor="end">'
            f"{escape(item.label)}</text>"
            f'<line class="whisker" x1="{x(item.low):.1f}" y1="{y}" x2="{x(item.high):.1f}" '
            f'y2="{y}"/><circle class="dot" cx="{x(item.rate):.1f}" cy="{y}" r="5"/>'
            f'<text class="value" x="{x(item.high) + 8:.1f}" y="{y + 4}">'
            f"{item.rate:.1%} ({item.low:.1%} to {item.high:.1%})</text>"
        )
    description = "; ".join(
        f"{i.label}: {i.rate:.1%}, 95% interval {i.low:.1%} to {i.high:.1%}" for i in items
    )
    return _frame(title, description, 30 + len(items) * ROW, "".join(parts), ident)


def step_graph(sequence: Mapping[str, Any], ident: str) -> str:
    """The steps top to bottom, each box listing its delay, variants and branches; the default
    path as solid arrows (down, or round the left side), each branch as a dashed arrow from its
    line in the box to the step (or the end) it leads to, round the right side."""
    steps = list(sequence.get("steps") or [])
    ids = [str(s["id"]) for s in steps]
    box_w, left, line_h, gap = 370, 110, 18, 30
    tops: dict[str, float] = {}
    heights: dict[str, float] = {}
    y = 16.0
    for step, sid in zip(steps, ids, strict=True):
        tops[sid] = y
        heights[sid] = 44 + line_h * len(_branch_lines(step))
        y += heights[sid] + gap
    end_y, right = y, left + box_w
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path class="arrowhead" '
        'd="M0,0 L10,5 L0,10 z"/></marker></defs>'
    ]
    described = []
    for i, (step, sid) in enumerate(zip(steps, ids, strict=True)):
        top, detail = tops[sid], _step_detail(step)
        parts.append(
            f'<rect class="step" x="{left}" y="{top}" width="{box_w}" height="{heights[sid]}" '
            f'rx="6"/><text class="step-name" x="{left + 10}" y="{top + 19}">{escape(sid)}</text>'
            f'<text class="axis" x="{left + 10}" y="{top + 36}">{escape(detail or "no delay")}'
            "</text>"
        )
        after = ids[i + 1] if i + 1 < len(ids) else "exit"
        following = str(step.get("next") or after)
        described.append(f"{sid} ({detail or 'no delay'}), then {following}")
        bottom = top + heights[sid]
        if following == after:
            parts.append(
                f'<line class="edge" x1="{left + 40}" y1="{bottom}" x2="{left + 40}" '
                f'y2="{tops.get(following, end_y)}" marker-end="url(#arrow)"/>'
            )
        else:
            parts.append(_curve(left, top + 20, tops.get(following, end_y) + 20, -1, "edge"))
        for n, (label, goto) in enumerate(_branch_lines(step)):
            row = top + 40 + line_h * (n + 1)
            described.append(f"{sid}: {label} goes to {goto}")
            parts.append(
                f'<text class="edge-label" x="{left + 10}" y="{row - 4}">{escape(label)} → '
                f"{escape(goto)}</text>"
            )
            parts.append(_curve(right, row - 8, tops.get(goto, end_y) + 14, 1, "branch"))
    parts.append(
        f'<rect class="end" x="{left}" y="{end_y}" width="{box_w}" height="40" rx="20"/>'
        f'<text class="step-name" x="{left + 10}" y="{end_y + 25}">end (exit or suppress)</text>'
    )
    height, width = int(end_y + 60), right + 200
    return _frame("Steps and branches", "; ".join(described), height, "".join(parts), ident, width)


def _branch_lines(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(`not_opened within 3d`, target) per branch; an unsubscribe ends every step, unlisted."""
    found = []
    for name, branch in (step.get("branches") or {}).items():
        if not branch or name == "unsubscribed":
            continue
        within = branch.get("within")
        found.append((name + (f" within {within}" if within else ""), str(branch.get("goto"))))
    return found


def _curve(x: float, y1: float, y2: float, side: int, kind: str) -> str:
    """An arrow from (x, y1) round one side (-1 left, 1 right) to (x, y2), wider for longer."""
    bulge = x + side * (24 + min(80.0 if side < 0 else 170.0, abs(y2 - y1) * 0.18))
    return (
        f'<path class="{kind}" d="M{x},{y1:.0f} C{bulge:.0f},{y1:.0f} {bulge:.0f},{y2:.0f} '
        f'{x + side * 2},{y2:.0f}" fill="none" marker-end="url(#arrow)"/>'
    )


def _step_detail(step: Mapping[str, Any]) -> str:
    parts = []
    if step.get("delay"):
        parts.append(f"after {step['delay']}")
    wait = step.get("wait_until")
    if wait:
        parts.append(f"at {wait.get('time')}")
    variants = step.get("variants") or []
    if variants:
        parts.append("A/B " + " / ".join(f"{v['id']} {v['weight']}" for v in variants))
    return ", ".join(parts)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
