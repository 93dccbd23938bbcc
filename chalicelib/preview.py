"""What a contact who never engages would get from a sequence, and when: a dry run of the
journey with the planning function real sends use (`schedule.plan_step`), so the two agree.

It follows the path of silence: after each email, the earliest absence branch (`not_opened`,
`not_clicked`, `not_converted`) met by doing nothing, if its deadline comes no later than the
next step's planned minute, else the default next step. Each email is assumed to go out at its
planned minute (in AWS a send goes out seconds after it, so deadline-chosen steps may come a
minute later than shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib import localtime, rules, schedule
from chalicelib.gates import Gates, after_refusal
from chalicelib.profiles import Profile
from chalicelib.sequences import EXIT, SUPPRESS, Sequence, Step, format_duration
from chalicelib.stamps import iso

__all__ = ["PreviewRow", "path"]


@dataclass(frozen=True)
class PreviewRow:
    """When a step would go out, how the contact gets there, and why then."""

    step_id: str
    local: str
    utc: str
    zone: str
    zone_source: str
    reasons: tuple[str, ...]
    via: str = "enrolled"
    """`enrolled`, `next` (the default next step) or the branch taken (`not_opened 3d`)."""
    skipped: str | None = None
    """Why this contact would not get the step (`topic_opted_out`, `no_consent`,
    `not_in_segment`); None when it goes out."""


def path(
    sequence: Sequence, profile: Profile, now: datetime, gates: Gates | None = None
) -> list[PreviewRow]:
    """Each send on the path of silence from enrolling at `now`, in order; a step is listed once
    (a loop back ends the list). With `gates`, steps the contact would skip say why; a skip
    that concerns the whole sequence ends the list."""
    gates = gates or Gates()
    rows: list[PreviewRow] = []
    step: Step | None = sequence.steps[0]
    reference, decided, via = now, now, "enrolled"
    while step is not None and step.id not in {row.step_id for row in rows}:
        planned = schedule.plan_step(step, reference, profile, sequence, decided)
        refusal = gates.send_refusal(profile, sequence, step)
        rows.append(
            PreviewRow(
                step.id,
                planned.local.isoformat(),
                iso(planned.utc.timestamp()),
                planned.zone,
                planned.zone_source,
                planned.reasons,
                via,
                refusal,
            )
        )
        if refusal is not None:
            if after_refusal(refusal, sequence, step) == "end":
                break
            following = gates.following(profile, sequence, step)
            step = None if following in (EXIT, SUPPRESS) else sequence.step(following)
            reference, decided, via = planned.utc, planned.utc, "skipped"
            continue
        step, reference, decided, via = _after_silence(step, sequence, profile, planned.utc, gates)
    return rows


def _after_silence(
    step: Step, sequence: Sequence, profile: Profile, sent: datetime, gates: Gates
) -> tuple[Step | None, datetime, datetime, str]:
    """The next step for a contact who does nothing with `step`'s email (sent at `sent`), the
    reference and decision time it is planned from, and how it is reached."""
    following = gates.following(profile, sequence, step)
    next_minute = None
    if following != EXIT:
        next_plan = schedule.plan_step(sequence.step(following), sent, profile, sequence, sent)
        next_minute = next_plan.utc
    deadline = max((sent + b.within for _, b in rules.absence_branches(step)), default=sent)
    found = rules.departure(step, sent, [], [], deadline)
    if found is not None:
        name, branch, due = found
        fires = localtime.ceil_minute(due)
        if next_minute is None or fires <= next_minute:
            target = branch.goto
            if target in (EXIT, SUPPRESS):
                return None, due, fires, name
            return sequence.step(target), due, fires, f"{name} {format_duration(branch.within)}"
    if following == EXIT:
        return None, sent, sent, "next"
    return sequence.step(following), sent, sent, "next"
