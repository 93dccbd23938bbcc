"""The lifecycle stages file (`stages.yaml`): ordered stages and the rules that move contacts.

Stages only move forward unless a rule says `backward: true`. A rule fires on an event
(`event: {name, where}`), on a conversion (`converted: true`), or while the contact is in a
segment (`segment: id`); when several forward rules fire, the furthest stage wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, model_validator

from chalicelib import modelfiles
from chalicelib.errors import FileError
from chalicelib.fields import Model, Slug, at_least, at_most
from chalicelib.segments import EventMatch, EventName, named

__all__ = [
    "STAGES_ID",
    "Rule",
    "Stages",
    "load_stages",
    "parse_stages",
    "render_json_schema",
    "stages_json_schema",
]

STAGES_ID = "lifecycle"
"""One lifecycle per installation: every push is a version of it."""


class Rule(Model):
    """Move the contact `to` a stage when exactly one of `event`, `converted`, `segment` holds."""

    to: Slug
    event: (
        Annotated[EventMatch, BeforeValidator(named, json_schema_input_type=EventName | EventMatch)]
        | None
    ) = None
    converted: StrictBool | None = None
    segment: Slug | None = Field(default=None, description="while the contact is in it")
    backward: StrictBool = Field(default=False, description="may move to an earlier stage")

    @model_validator(mode="after")
    def _one_cause(self) -> Rule:
        causes = [c for c in (self.event, self.converted, self.segment) if c is not None]
        if len(causes) != 1:
            raise ValueError("give exactly one of event, converted or segment")
        if self.converted is False:
            raise ValueError("converted: false never fires; remove the rule")
        return self


class Stages(modelfiles.VersionedModel):
    """A validated stages file; build it with `parse_stages` or `from_json`."""

    model_config = ConfigDict(title="nurture lifecycle stages file")

    name: Annotated[str, Field(min_length=1, max_length=200)] = "Lifecycle"
    stages: Annotated[tuple[Slug, ...], *at_least(1), *at_most(30)]
    rules: Annotated[tuple[Rule, ...], *at_most(100)] = ()

    @model_validator(mode="after")
    def _known(self) -> Stages:
        if len(set(self.stages)) != len(self.stages):
            raise ValueError("stages must not repeat")
        return self

    @property
    def id(self) -> str:
        return STAGES_ID

    def rank(self, stage: str | None) -> int:
        """Position in the order; -1 for no stage (or one no longer listed)."""
        return self.stages.index(stage) if stage in self.stages else -1

    @classmethod
    def from_json(cls, text: str, *, file: str = "<stored version>") -> Stages:
        return _validated(modelfiles.stored_data(text, file), file, {}, [])


def load_stages(path: Path | str) -> Stages:
    return parse_stages(modelfiles.read_text(Path(path)), file=str(path))


def parse_stages(text: str, *, file: str = "<string>") -> Stages:
    data, lines, errors = modelfiles.read_yaml(text, file)
    return _validated(data, file, lines, errors)


def _validated(data: Any, file: str, lines: dict[str, int], errors: list[FileError]) -> Stages:
    return modelfiles.validated(Stages, data, file, lines, [*errors, *_target_errors(data)])


def _target_errors(data: Any) -> list[FileError]:
    """Rules that move to a stage the file does not list (reported with the schema's errors)."""
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        return []
    listed = {s for s in data["stages"] if isinstance(s, str)}
    rules = data.get("rules")
    return [
        FileError(
            f"rules[{i}].to", f"unknown stage {rule['to']!r} (stages: {', '.join(data['stages'])})"
        )
        for i, rule in enumerate(rules if isinstance(rules, list) else [])
        if isinstance(rule, dict) and isinstance(rule.get("to"), str) and rule["to"] not in listed
    ]


def stages_json_schema() -> dict[str, Any]:
    """The schema editors use (`schemas/stages.schema.json`), generated from the model."""
    return modelfiles.published_schema(Stages, "stages")


def render_json_schema() -> str:
    """Exact text of `schemas/stages.schema.json` (`python -m chalicelib.stages` prints it)."""
    return modelfiles.schema_text(stages_json_schema())
