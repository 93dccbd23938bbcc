"""Segments and stages as stored models: pushed as versions (their names checked against each
other and the configured topics), loaded by version, and evaluated over every contact.

Counting or listing a segment's members scans the contact profiles once, page by page, and
tests each with the segment's compiled matcher (`Catalogue.matcher`): memory stays flat
whatever the table holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from chalicelib import versioning
from chalicelib.errors import FileError, FileInvalid, UnknownModel
from chalicelib.profiles import Profile
from chalicelib.segments import Matcher, Segment, matcher
from chalicelib.segments.model import validated_segment
from chalicelib.stages import STAGES_ID, Stages
from chalicelib.store import ModelVersion, Table, Versions, enrolled_profiles
from chalicelib.versioning import Pushed

__all__ = [
    "STATUSES",
    "Catalogue",
    "breakdown",
    "enroll_members",
    "newest_stages",
    "profiles",
    "push_segment",
    "push_stages",
    "report_by",
]


@dataclass(frozen=True)
class Catalogue:
    """The newest segments and stages, and the topics contacts may choose from."""

    segments: Mapping[str, Segment]
    stages: Stages | None
    topics: tuple[str, ...]

    @classmethod
    def read(cls, segments: Versions, stages: Versions, topics: tuple[str, ...]) -> Catalogue:
        """The newest versions: one listing per kind, bodies parsed once per process."""
        newest = {
            head.model_id: _parsed(segments, head, Segment.from_json) for head in segments.heads()
        }
        lifecycle = [_parsed(stages, head, Stages.from_json) for head in stages.heads()]
        return cls(newest, lifecycle[0] if lifecycle else None, topics)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return self.stages.stages if self.stages else ()

    def segment(self, segment_id: str) -> Segment:
        found = self.segments.get(segment_id)
        if found is None:
            raise UnknownModel(f"segment_id: no segment {segment_id!r}")
        return found

    def matcher(self, segment_id: str, now: datetime) -> Matcher:
        return matcher(self.segment(segment_id), now, topics=self.topics, stages=self.stage_names)

    def matchers(self, now: datetime) -> dict[str, Matcher]:
        """Every segment, compiled once for a run at `now`."""
        return {
            segment_id: matcher(segment, now, topics=self.topics, stages=self.stage_names)
            for segment_id, segment in self.segments.items()
        }


M = TypeVar("M")
_PARSED: dict[tuple[str, str, int, str], Any] = {}


def _parsed(versions: Versions, head: ModelVersion, parse: Callable[..., M]) -> M:
    """A stored version as its model; versions are immutable, so each is read and parsed once
    (keyed by content hash too, as a fresh table may reuse an id and number)."""
    key = (versions.kind, head.model_id, head.version, head.content_hash)
    if key not in _PARSED:
        if len(_PARSED) > 1024:
            _PARSED.clear()
        body = versioning.stored(versions, head.model_id, head.version).body
        _PARSED[key] = parse(body, file=f"{head.model_id}@v{head.version}")
    return cast(M, _PARSED[key])


def profiles(items: Iterable[Mapping[str, Any]]) -> Iterator[Profile]:
    """Stored profile items (a scan, page by page) as typed values, one at a time."""
    return (Profile.from_item(str(item["contact_id"]), item) for item in items)


def newest_stages(versions: Versions) -> Stages | None:
    head = versions.head(STAGES_ID)
    return _parsed(versions, head, Stages.from_json) if head else None


def push_segment(versions: Versions, segment: Segment, catalogue: Catalogue, at: str) -> Pushed:
    """Store a new version of `segment`, once the stages and topics it names exist."""
    data = json.loads(segment.to_json())
    validated_segment(
        data, segment.id, {}, [], stages=catalogue.stage_names, topics=catalogue.topics
    )
    return versioning.push(versions, segment, at)


def push_stages(versions: Versions, stages: Stages, catalogue: Catalogue, at: str) -> Pushed:
    """Store a new version of the lifecycle, once every segment its rules name exists."""
    errors = [
        FileError(f"rules[{i}].segment", f"unknown segment {rule.segment!r}; push it first")
        for i, rule in enumerate(stages.rules)
        if rule.segment is not None and rule.segment not in catalogue.segments
    ]
    if errors:
        raise FileInvalid("stages", errors)
    return versioning.push(versions, stages, at)


def enroll_members(
    members: Iterable[Profile],
    enroll_many: Callable[[list[str]], Mapping[str, int]],
    chunk: int = 500,
) -> dict[str, int]:
    """Enroll contacts as a scan finds them, `chunk` at a time (memory stays flat whatever
    the count); the counts by outcome, summed."""
    counts: dict[str, int] = {}
    batch: list[str] = []

    def flush() -> None:
        for outcome, count in enroll_many(batch).items():
            counts[outcome] = counts.get(outcome, 0) + count
        batch.clear()

    for profile in members:
        batch.append(profile.contact_id)
        if len(batch) == chunk:
            flush()
    if batch:
        flush()
    return counts


STATUSES = ("active", "completed", "exited", "goal_reached")


def breakdown(
    enrolled: Iterable[tuple[Profile, str]], groups: Callable[[Profile], Iterable[str]]
) -> dict[str, dict[str, int]]:
    """Enrollments (contact, status) counted by status within each group a contact is in
    now (its stage, or each segment); contacts in no group count under `(none)`."""
    table: dict[str, dict[str, int]] = {}
    for profile, status in enrolled:
        for group in list(groups(profile)) or ["(none)"]:
            row = table.setdefault(group, {"enrolled": 0, **dict.fromkeys(STATUSES, 0)})
            row["enrolled"] += 1
            row[status] = row.get(status, 0) + 1
    return dict(sorted(table.items()))


def report_by(
    table: Table, catalogue: Catalogue, sequence_id: str, by: str, now: datetime
) -> dict[str, dict[str, int]]:
    """A sequence's enrollments by the contacts' `stage` or `segment` (each segment a contact
    is in now), in one pass over the table."""
    enrolled = (
        (Profile.from_item(str(item["contact_id"]), item), str(enrollment["status"]))
        for item, enrollment in enrolled_profiles(table, sequence_id)
    )
    if by == "stage":
        return breakdown(enrolled, lambda profile: [profile.stage] if profile.stage else [])
    matchers = catalogue.matchers(now)
    return breakdown(
        enrolled, lambda profile: [s for s, test in sorted(matchers.items()) if test(profile)]
    )
