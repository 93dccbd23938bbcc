"""Checks across a sequence's parts: step targets, loops, locales, reachability, and a
transactional sequence with a cap.

These checks run on the plain data of a file, so they report their errors even when the schema
check fails elsewhere, and a file's every problem comes back in one run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Any

from chalicelib.errors import FileError
from chalicelib.fields import LOCALE, parse_duration, parse_local_time

if TYPE_CHECKING:
    from chalicelib.sequences.model import Sequence

EXIT = "exit"
"""Branch / `next` target that ends the contact's enrollment."""
SUPPRESS = "suppress"
"""A target that ends the sequence and suppresses the contact for good (a sunset step)."""
UNEVEN_LOCALES = "uneven_locales"
"""The sequence-level key that allows steps to offer different locales."""


def items(data: Any, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Indexed mappings of the list `data[key]`, skipping anything of the wrong shape."""
    values = data.get(key) if isinstance(data, dict) else None
    if isinstance(values, list | tuple):
        yield from ((i, item) for i, item in enumerate(values) if isinstance(item, dict))


@dataclass(frozen=True)
class _Edge:
    """A way from one step to the next: `path` is where it is written, `zero` if it can fire at
    once (no `within` to wait for)."""

    source: int
    target: str
    path: str
    zero: bool


def cross_step_errors(data: Mapping[str, Any]) -> list[FileError]:
    steps = dict(items(data, "steps"))
    ids = {i: step["id"] for i, step in steps.items() if isinstance(step.get("id"), str)}
    return [
        *_duplicate_id_errors(ids),
        *_default_locale_errors(data),
        *_uneven_locale_errors(data),
        *(FileError(e.path, f"unknown step {e.target!r}") for e in _unknown_targets(data)),
        *_zero_delay_cycle_errors(data),
        *_capped_transactional_errors(data),
        *_wait_until_errors(data),
        *_branch_to_next_errors(data),
    ]


def _branch_to_next_errors(data: Mapping[str, Any]) -> Iterator[FileError]:
    """A branch to the step that follows anyway, at once: the branch can change nothing (the
    README's classic: `not_opened: {within: 3d, goto: resend}` right above `resend`, which
    then goes out a minute after the first email)."""
    steps = list(items(data, "steps"))
    by_id = {step.get("id"): step for _, step in steps}
    for position, (i, step) in enumerate(steps):
        following = steps[position + 1][1].get("id") if position + 1 < len(steps) else EXIT
        target = step.get("next") or following
        if target in (EXIT, SUPPRESS) or target not in by_id or _waits(by_id[target]):
            continue
        for edge in _edges({"steps": [step]}):
            if edge.path.endswith(".next") or edge.target != target:
                continue
            where = edge.path.replace("steps[0]", f"steps[{i}]").removesuffix(".goto")
            yield FileError(
                where,
                f"{target!r} is also this step's next step, sent right after it (it has no "
                f"delay), so this branch changes nothing: set `next` on this step (e.g. "
                f"next: exit) or give {target!r} a delay",
            )


def _wait_until_errors(data: Mapping[str, Any]) -> Iterator[FileError]:
    """A `wait_until` time must be one the send window allows, on a day it allows."""
    window = _window(data)
    if window is None:
        return
    start, end, days, quiet = window
    for i, step in items(data, "steps"):
        wait = step.get("wait_until")
        moment = _local_time(wait.get("time")) if isinstance(wait, dict) else None
        if moment is None:
            continue
        path = f"steps[{i}].wait_until"
        if not start <= moment < end:
            yield FileError(
                f"{path}.time",
                f"{moment:%H:%M} is outside the send window {start:%H:%M}-{end:%H:%M}",
            )
        elif quiet is not None and _in_quiet(moment, *quiet):
            yield FileError(f"{path}.time", f"{moment:%H:%M} is in the quiet hours")
        wanted = wait.get("days") if isinstance(wait, dict) else None
        if isinstance(wanted, list) and days is not None and not set(wanted) & days:
            yield FileError(f"{path}.days", "none of these days is in the send window's days")


Window = tuple[time, time, set[str] | None, tuple[time, time] | None]


def _window(data: Mapping[str, Any]) -> Window | None:
    """The send window as written (or the default), None when a part of it is unreadable
    (that error is reported by the schema check)."""
    from chalicelib.sequences.model import Sequence  # the model imports graph

    default = Sequence.model_fields["send_window"].default.model_dump(mode="json")
    raw = data.get("send_window", default)
    if not isinstance(raw, dict):
        return None
    start, end = _local_time(raw.get("start")), _local_time(raw.get("end"))
    days = raw.get("days", default["days"])
    quiet = raw.get("quiet_hours")
    quiet_start = _local_time(quiet.get("start")) if isinstance(quiet, dict) else None
    quiet_end = _local_time(quiet.get("end")) if isinstance(quiet, dict) else None
    if start is None or end is None or (quiet is not None and not (quiet_start and quiet_end)):
        return None
    quiet_hours = (quiet_start, quiet_end) if quiet_start and quiet_end else None
    return start, end, set(days) if isinstance(days, list) else None, quiet_hours


def _in_quiet(moment: time, start: time, end: time) -> bool:
    return start <= moment < end if start < end else moment >= start or moment < end


def _local_time(value: object) -> time | None:
    try:
        return parse_local_time(value)
    except ValueError:
        return None


def _capped_transactional_errors(data: Mapping[str, Any]) -> Iterator[FileError]:
    if data.get("transactional") is True and data.get("frequency_cap") is not None:
        message = "a transactional sequence is never counted or capped: remove frequency_cap"
        yield FileError("frequency_cap", message)


def _duplicate_id_errors(ids: Mapping[int, str]) -> Iterator[FileError]:
    first: dict[str, int] = {}
    for i, step_id in ids.items():
        if step_id in first:
            yield FileError(f"steps[{i}].id", f"duplicate step id (also steps[{first[step_id]}])")
        first.setdefault(step_id, i)


def _default_locale_errors(data: Mapping[str, Any]) -> Iterator[FileError]:
    locale = data.get("default_locale")
    if not isinstance(locale, str):
        return
    for path, templates in _template_owners(data):
        if locale not in templates:
            message = f"no template for default_locale {locale!r} (the fallback locale)"
            yield FileError(f"{path}.template", message)


def _template_owners(data: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, templates by locale) of each step and variant whose templates are a mapping."""
    for i, step in items(data, "steps"):
        owners = [(f"steps[{i}]", step)]
        owners += [(f"steps[{i}].variants[{j}]", v) for j, v in items(step, "variants")]
        for path, owner in owners:
            templates = owner.get("template")
            if isinstance(templates, dict):
                yield path, templates


def _uneven_locale_errors(data: Mapping[str, Any]) -> Iterator[FileError]:
    """A locale some steps offer and others lack would switch a reader's language mid-way."""
    if data.get(UNEVEN_LOCALES) is True:
        return
    default = data.get("default_locale")
    owners = list(_template_owners(data))
    # A set without the default locale is reported as such; its other locales count for none.
    offered = {
        locale
        for _, templates in owners
        if default in templates
        for locale in templates
        if isinstance(locale, str) and LOCALE.fullmatch(locale)
    }
    for path, templates in owners:
        missing = sorted(offered - set(templates) - {default})
        if missing:
            names = ", ".join(repr(locale) for locale in missing)
            yield FileError(
                f"{path}.template",
                f"no {names} template, which other steps have: those contacts would switch "
                f"to the default locale here; add it, or set {UNEVEN_LOCALES}: true",
            )


def _edges(data: Mapping[str, Any]) -> list[_Edge]:
    """All `next` (explicit or implied) and branch edges of the raw or dumped sequence."""
    steps = list(items(data, "steps"))
    edges: list[_Edge] = []
    for position, (i, step) in enumerate(steps):
        following = steps[position + 1][1].get("id") if position + 1 < len(steps) else EXIT
        target = step.get("next") or following
        if isinstance(target, str):
            edges.append(_Edge(i, target, f"steps[{i}].next", zero=True))
        branches = step.get("branches")
        for key, branch in branches.items() if isinstance(branches, dict) else ():
            path = f"steps[{i}].branches.{key}"
            if isinstance(branch, str):
                edges.append(_Edge(i, branch, path, zero=True))
            elif isinstance(branch, dict) and isinstance(branch.get("goto"), str):
                edges.append(_Edge(i, branch["goto"], f"{path}.goto", zero="within" not in branch))
    return edges


def _unknown_targets(data: Mapping[str, Any]) -> Iterator[_Edge]:
    known = {step.get("id") for _, step in items(data, "steps")} | {EXIT, SUPPRESS}
    return (edge for edge in _edges(data) if edge.target not in known)


def _waits(step: Mapping[str, Any]) -> bool:
    """Whether entering this step takes time; unparseable delays are reported elsewhere."""
    delay = step.get("delay")
    if step.get("wait_until") is not None:
        return True
    if not isinstance(delay, str):
        return False
    try:
        return bool(parse_duration(delay, allow_zero=True))
    except ValueError:
        return False


def _zero_delay_cycle_errors(data: Mapping[str, Any]) -> Iterator[FileError]:
    """A loop that never waits would email a contact over and over within seconds."""
    steps = dict(items(data, "steps"))
    index = {step.get("id"): i for i, step in steps.items()}
    graph: dict[int, list[tuple[int, _Edge]]] = {i: [] for i in steps}
    for edge in _edges(data):
        target = index.get(edge.target)
        if edge.zero and target is not None and not _waits(steps[target]):
            graph[edge.source].append((target, edge))
    done: set[int] = set()
    for start in graph:
        yield from _cycles_from(start, graph, [], done, steps)


def _cycles_from(
    node: int,
    graph: Mapping[int, list[tuple[int, _Edge]]],
    stack: list[int],
    done: set[int],
    steps: Mapping[int, Mapping[str, Any]],
) -> Iterator[FileError]:
    if node in done:
        return
    stack.append(node)
    for target, edge in graph[node]:
        if target in stack:
            loop = [str(steps[i].get("id")) for i in stack[stack.index(target) :]]
            route = " -> ".join([*loop, loop[0]])
            message = f"loop with no delay ({route}); add a delay or wait_until to one of its steps"
            yield FileError(edge.path, message)
        else:
            yield from _cycles_from(target, graph, stack, done, steps)
    stack.pop()
    done.add(node)


def unreachable_steps(sequence: Sequence) -> tuple[str, ...]:
    """Ids of steps no path from the first step leads to (worth a warning, not an error)."""
    data = sequence.model_dump(mode="json")
    successors: dict[str, set[str]] = {}
    for edge in _edges(data):
        successors.setdefault(sequence.steps[edge.source].id, set()).add(edge.target)
    seen: set[str] = set()
    pending = [sequence.steps[0].id]
    while pending:
        step_id = pending.pop()
        if step_id not in seen:
            seen.add(step_id)
            pending.extend(successors.get(step_id, ()))
    return tuple(step.id for step in sequence.steps if step.id not in seen)
