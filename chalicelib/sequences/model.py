"""The sequence model: what a marketer's YAML means, as frozen pydantic models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    model_validator,
)

from chalicelib import modelfiles
from chalicelib.errors import FileError, FileInvalid
from chalicelib.fields import (
    WEEKDAYS,
    Days,
    Delay,
    Duration,
    Locale,
    LocalTime,
    Model,
    Slug,
    Temperature,
    Timezone,
    at_least,
    at_most,
)
from chalicelib.segments.model import EventMatch, EventName, named
from chalicelib.sequences.graph import EXIT, SUPPRESS, cross_step_errors

CROSS_CHECKED = "cross_checked"


def _check_step_id(name: str) -> str:
    if name in (EXIT, SUPPRESS):
        raise ValueError(f"{name!r} is reserved as a target that ends the sequence")
    return name


StepId = Annotated[Slug, AfterValidator(_check_step_id)]
Target = Annotated[
    Slug,
    Field(
        description=f"a step id, {EXIT!r} to end the sequence, or {SUPPRESS!r} to end it and "
        "suppress the contact (sunset)"
    ),
]


class QuietHours(Model):
    """Local hours when nothing is sent; may wrap midnight (22:00 to 07:00)."""

    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class SendWindow(Model):
    """Local hours and weekdays in which a step may be sent."""

    start: LocalTime
    end: LocalTime
    days: Days = WEEKDAYS[:5]
    skip_holidays: StrictBool = Field(
        default=False, description="public holidays of the contact's country"
    )
    quiet_hours: QuietHours | None = None

    @model_validator(mode="after")
    def _start_before_end(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError("start must be earlier than end (a send window cannot wrap midnight)")
        return self


class FrequencyCap(Model):
    """Send only while the contact got fewer than `max` marketing emails (from any sequence)
    this local day or ISO week; otherwise wait for the next period (`postpone`) or go on to the
    next step (`skip`)."""

    max: StrictInt = Field(gt=0)
    per: Literal["day", "week"]
    on_cap: Literal["postpone", "skip"] = "postpone"


class Goal(Model):
    """Reaching `event` within `within` of enrolling ends the enrollment."""

    event: Literal["converted", "clicked", "opened"]
    within: Duration


class Inactive(Model):
    """A spell without human engagement (no human open or click, no conversion)."""

    no_human_engagement: Duration


EventTrigger = Annotated[
    EventMatch, BeforeValidator(named, json_schema_input_type=EventName | EventMatch)
]


class Entry(Model):
    """Whether a contact may enroll again after leaving, and how long after; and what starts
    the sequence on its own (at most one trigger): a product event, a segment or a stage
    entered, the lead score's temperature reached, or a spell without human engagement."""

    reentry: StrictBool = False
    cooldown: Duration | None = None
    event: EventTrigger | None = Field(default=None, description="a product event happens")
    segment_entered: Slug | None = Field(default=None, description="the contact enters it")
    stage_entered: Slug | None = Field(default=None, description="the contact reaches it")
    temperature_became: Temperature | None = Field(
        default=None, description="the contact's lead score reaches this temperature"
    )
    inactive: Inactive | None = None

    @model_validator(mode="after")
    def _cooldown_needs_reentry(self) -> Entry:
        if self.cooldown is not None and not self.reentry:
            raise ValueError("cooldown only applies when reentry is true")
        triggers = [name for name in TRIGGERS if getattr(self, name) is not None]
        if len(triggers) > 1:
            raise ValueError(f"give at most one trigger ({', '.join(TRIGGERS)})")
        return self

    @property
    def trigger(self) -> str | None:
        """The kind of trigger that starts the sequence, if any."""
        return next((name for name in TRIGGERS if getattr(self, name) is not None), None)


TRIGGERS = ("event", "segment_entered", "stage_entered", "temperature_became", "inactive")


class ExitOn(Model):
    """A product event that ends the enrollment whatever step it is on."""

    event: EventTrigger


class OnlyIf(Model):
    """Send this step only to members of `segment`; others go on to the following step."""

    segment: Slug


class SegmentBranch(Model):
    """After this step, members of the segment go to `goto` instead of the default next step."""

    in_: Slug = Field(alias="in", description="a segment id")
    goto: Target


def _check_subject(subject: str) -> str:
    if "\r" in subject or "\n" in subject:
        raise ValueError("subject must be one line (no CR or LF)")
    if not subject.strip():
        raise ValueError("subject must not be blank")
    return subject


class TemplateSpec(Model):
    """One locale's email: subject plus html (and optional text) inline or from a file."""

    subject: Annotated[str, AfterValidator(_check_subject)]
    html: str | None = Field(default=None, min_length=1, description="inline jinja2 HTML template")
    html_file: str | None = Field(default=None, description="path relative to the sequence file")
    text: str | None = Field(
        default=None, min_length=1, description="inline jinja2 plain-text template"
    )
    text_file: str | None = Field(default=None, description="path relative to the sequence file")

    @model_validator(mode="after")
    def _one_source_each(self) -> TemplateSpec:
        if (self.html is None) == (self.html_file is None):
            raise ValueError("give exactly one of html or html_file")
        if self.text is not None and self.text_file is not None:
            raise ValueError("give at most one of text or text_file")
        return self


Templates = Annotated[dict[Locale, TemplateSpec], *at_least(1, "minProperties")]


class Variant(Model):
    """An A/B variant; contacts are split by weight."""

    id: Slug
    weight: StrictInt = Field(gt=0)
    template: Templates


class WaitUntil(Model):
    """Wait for the next local `time` (on one of `days`, if given)."""

    time: LocalTime
    days: Days | None = None


Engagement = Literal["human", "any"]


class EventBranch(Model):
    """Jump to `goto` as soon as the event happens."""

    goto: Target
    engagement: Engagement = Field(
        default="human", description="'any' also counts machine opens/clicks"
    )


class AbsenceBranch(EventBranch):
    """Jump to `goto` when the event has not happened `within` the step's send."""

    within: Duration


class NotOpenedBranch(AbsenceBranch):
    """`mpp_fallback: clicks` judges contacts whose opens are all machine opens by clicks."""

    mpp_fallback: Literal["clicks"] | None = None


def _goto_shorthand(value: Any) -> Any:
    """`opened: tips` is short for `opened: {goto: tips}`."""
    return {"goto": value} if isinstance(value, str) else value


ShorthandBranch = Annotated[
    EventBranch, BeforeValidator(_goto_shorthand, json_schema_input_type=Target | EventBranch)
]


class Branches(Model):
    """Where a contact goes after this step, depending on what they did (or did not do)."""

    opened: ShorthandBranch | None = None
    clicked: ShorthandBranch | None = None
    converted: ShorthandBranch | None = None
    unsubscribed: ShorthandBranch | None = None
    not_opened: NotOpenedBranch | None = None
    not_clicked: AbsenceBranch | None = None
    not_converted: AbsenceBranch | None = None
    clicked_not_converted: AbsenceBranch | None = None
    segment: SegmentBranch | None = Field(
        default=None, description="decided when the default next step would be planned"
    )

    @model_validator(mode="after")
    def _unsubscribed_exits(self) -> Branches:
        if self.unsubscribed is not None and self.unsubscribed.goto != EXIT:
            raise ValueError(f"unsubscribed contacts are never emailed again: use {EXIT!r}")
        return self


class WinnerRule(Model):
    """When an A/B test has a winner worth proposing: each variant sent at least `min_per_arm`
    times, `after` the version was pushed, and one variant ahead of every other on `metric`
    with a 95% interval of the difference above zero. It is proposed as a new version for the
    marketer to push, never switched silently."""

    metric: Literal["clicked", "converted"] = Field(description="human clicks or conversions")
    min_per_arm: StrictInt = Field(ge=1, le=10_000_000)
    after: Duration


def _percent(value: Any) -> Any:
    """`10%` (or 10) is ten percent."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1].strip()
        return int(number) if number.isdigit() else value
    return value


Percent = Annotated[
    StrictInt,
    BeforeValidator(_percent, json_schema_input_type=str | int),
    Field(ge=1, le=50, description="a share of contacts such as 10%"),
]


class Step(Model):
    """One email of the sequence, when it goes out, and where the contact goes next."""

    id: StepId
    template: Templates | None = None
    variants: Annotated[tuple[Variant, ...], *at_least(2), *at_most(10)] | None = None
    delay: Delay | None = Field(
        default=None, description="after the previous email (or enrollment)"
    )
    wait_until: WaitUntil | None = None
    next: Target | None = Field(default=None, description="default: the following step, then exit")
    branches: Branches = Branches()
    topic: Slug | None = Field(default=None, description="overrides the sequence's topic")
    only_if: OnlyIf | None = None
    winner: WinnerRule | None = Field(
        default=None, description="propose the winning variant as a new version when it is clear"
    )

    @model_validator(mode="after")
    def _one_of_each(self) -> Step:
        if (self.template is None) == (self.variants is None):
            raise ValueError("give exactly one of template or variants")
        if self.winner is not None and not self.variants:
            raise ValueError("winner needs variants to choose from")
        if self.delay is not None and self.wait_until is not None:
            raise ValueError("give at most one of delay or wait_until")
        if self.variants and len({v.id for v in self.variants}) != len(self.variants):
            raise ValueError("variant ids must be unique")
        return self


class Sequence(Model):
    """A validated sequence; build it with `load_sequence`, `parse_sequence` or `from_json`."""

    model_config = ConfigDict(title="nurture sequence file")

    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    default_timezone: Timezone
    default_locale: Locale
    send_window: SendWindow = SendWindow(start=time(9), end=time(17))
    frequency_cap: FrequencyCap | None = None
    transactional: StrictBool = Field(
        default=False,
        description="receipts and account mail: not counted toward any contact's frequency cap, "
        "never capped, and sent without the unsubscribe link marketing email must show",
    )
    uneven_locales: StrictBool = Field(
        default=False,
        description="let steps offer different locales: a step without the contact's locale "
        "sends the default locale's template (otherwise every step must offer every locale "
        "any step offers)",
    )
    goal: Goal | None = None
    entry: Entry = Entry()
    exit_on: ExitOn | None = None
    topic: Slug | None = Field(
        default=None,
        description="one of NURTURE_TOPICS: contacts who opted out of it are skipped",
    )
    consent: Literal["required"] | None = Field(
        default=None, description="required: contacts without recorded consent are skipped"
    )
    holdout: Percent | None = Field(
        default=None,
        description="this share of contacts is enrolled and tracked but never sent to, so "
        "their conversions measure what the emails add (assigned from the contact id)",
    )
    steps: Annotated[tuple[Step, ...], *at_least(1), *at_most(100)]

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Sequence:
        """Direct construction gets the same cross-step checks the file loaders run."""
        if not (info.context or {}).get(CROSS_CHECKED):
            errors = cross_step_errors(self.model_dump(mode="json"))
            if errors:
                raise ValueError("; ".join(f"{e.path}: {e.message}" for e in errors))
        return self

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, normalized values) for storing a version. The
        experiment fields leave no trace while unused, so a stored version's hash (and an
        unchanged re-push) stays what it was."""
        data = self.model_dump(mode="json", by_alias=True)
        if data.get("holdout") is None:
            data.pop("holdout", None)
        for step in data["steps"]:
            if step.get("winner") is None:
                step.pop("winner", None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def step(self, step_id: str) -> Step:
        """The step with this id (ids are unique, checked at load)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"sequence {self.id!r} has no step {step_id!r}")

    def next_of(self, step_id: str) -> str:
        """Where a step leads when no branch fires: `next`, else the following step, else exit."""
        ids = [step.id for step in self.steps]
        position = ids.index(step_id)
        following = ids[position + 1] if position + 1 < len(ids) else EXIT
        return self.steps[position].next or following

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: an identical re-upload gives the same hash."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str, *, file: str = "<stored version>") -> Sequence:
        """Load a version stored with `to_json`, re-checking it like a file."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileInvalid(file, [FileError("", f"invalid JSON: {exc}")]) from exc
        return validated_sequence(data, file, {}, [])


def validated_sequence(
    data: Any, file: str, lines: Mapping[str, int], errors: list[FileError]
) -> Sequence:
    """Collect schema and cross-step errors together, so one run reports everything."""
    cross = cross_step_errors(data) if isinstance(data, dict) else []
    return modelfiles.validated(
        Sequence, data, file, lines, [*errors, *cross], {CROSS_CHECKED: True}
    )
