"""What a contact's behaviour teaches nurture, applied from the table's stream.

A new event updates the contact's summary (`summary.observe`); the segments are evaluated on
the updated profile and the lifecycle stage advanced by the stage rules. All of it is one
conditional write (`store.summary_write`, guarded by the stream sequence number, so a
redelivered record changes nothing), and the segment entries and exits and the stage change
it causes are stored as events on the timeline in the same transaction. Those events come
back through the stream, where they can start sequences (`triggers`). A profile changed from
outside (an import, the API, the preferences page) is re-evaluated the same way.

The lead score (`scoring`) rides in the same write: its new state, the `temperature_changed`
and `alert` events it causes and its next decay deadline, so an event is scored once, with one
write and no read beyond the profile.

A human engagement also arms the contact's inactivity check if none is pending
(`inactivity`). Machine opens and scanner clicks cost nothing here: no read, no write.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib import store, summary
from chalicelib.audience import Catalogue
from chalicelib.inactivity import Inactivity
from chalicelib.profiles import Profile
from chalicelib.segments import Matcher
from chalicelib.stages import next_stage
from chalicelib.stamps import iso

if TYPE_CHECKING:
    from chalicelib.scoring.service import ScoreChange, Scores

__all__ = ["LIFECYCLE", "Behaviour", "Learned", "learn"]

LIFECYCLE = ("segment_entered", "segment_left", "stage_changed")
"""Timeline events a contact's behaviour causes (`segment` or `from_stage`/`to_stage`)."""
DAY = 86_400
SCORED_ONLY = ("unsubscribed", "complained")
"""Events that change no summary but may score (negative points)."""


@dataclass(frozen=True)
class Learned:
    """What one record changes: summary fields to set, lifecycle events (type, attributes)
    that happened, and the profile after both."""

    changes: summary.Changes
    happened: tuple[tuple[str, Mapping[str, Any]], ...]
    after: Profile


def learn(
    profile: Profile,
    event: Mapping[str, Any] | None,
    changes: summary.Changes,
    matchers: Mapping[str, Matcher],
    catalogue: Catalogue,
    now: datetime,
) -> Learned:
    """The pure core: the summary `changes` applied, segments entered and left, the stage."""
    after = summary.applied(profile, changes)
    members = frozenset(segment for segment, test in matchers.items() if test(after))
    fields = dict(changes)
    happened: list[tuple[str, Mapping[str, Any]]] = []
    if members != profile.segments:
        fields[summary.SEGMENTS] = members
        happened += [
            ("segment_entered", {"segment": s}) for s in sorted(members - profile.segments)
        ]
        happened += [("segment_left", {"segment": s}) for s in sorted(profile.segments - members)]
    stage = next_stage(catalogue.stages, after.stage, event, members) if catalogue.stages else None
    if stage is not None:
        fields.update({summary.STAGE: stage, summary.STAGE_AT: iso(now.timestamp())})
        happened.append(("stage_changed", {"from_stage": after.stage, "to_stage": stage}))
    return Learned(fields, tuple(happened), summary.applied(after, fields))


@dataclass
class Behaviour:
    """Applies stream records to contacts' summaries; built per stream batch, so the segments
    and stages it evaluates are read once per batch."""

    table: store.Table
    catalogue: Catalogue
    retention_days: int
    clock: Callable[[], float] = time.time
    scores: Scores | None = None
    inactivity: Inactivity | None = None
    _matchers: dict[str, Matcher] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.sends = store.Sends(self.table)
        self._matchers = self.catalogue.matchers(self._now())

    def on_event(self, event: Mapping[str, Any], sequence_number: str) -> Learned | None:
        """Learn from a new timeline event; None when it teaches nothing (a machine's)."""
        kind = event.get("type")
        scored_only = kind in SCORED_ONLY and self.scores is not None
        if kind != summary.PRODUCT and not summary.human_engagement(event) and not scored_only:
            return None
        contact_id = str(event.get("contact_id", ""))
        item = self.table.profile(contact_id)
        if item is None:
            return None
        profile = Profile.from_item(contact_id, item)
        tags = self._link_tags(event) if kind == "clicked" else ()
        changes = summary.observe(profile, event, tags)
        if self.inactivity is not None and summary.human_engagement(event):
            changes.update(self.inactivity.arm(profile, summary.applied(profile, changes)))
        return self._apply(profile, event, changes, sequence_number)

    def on_addressed(self, event: Mapping[str, Any]) -> str | None:
        """A product event named by email address: onto the timeline of its contact."""
        from chalicelib import productevents

        return productevents.resolve(self.table, event)

    def on_profile(
        self, new: Mapping[str, Any], old: Mapping[str, Any], sequence_number: str
    ) -> Learned | None:
        """Re-evaluate a profile changed from outside; our own summary writes are skipped."""
        if not new or new.get("summary_seq") != old.get("summary_seq"):
            return None
        contact_id = str(new.get("contact_id", ""))
        if self.scores is not None:
            # The image may be older than the stored score (a later write raced ahead of this
            # record): score what is stored, never an image's stale ledger.
            current = self.table.profile(contact_id)
            if current is None:
                return None
            new = current
        return self._apply(Profile.from_item(contact_id, new), None, {}, sequence_number)

    def _apply(
        self,
        profile: Profile,
        event: Mapping[str, Any] | None,
        changes: summary.Changes,
        sequence_number: str,
    ) -> Learned | None:
        now = self._now()
        # The score first, so segments see the temperature this record makes; scored again if
        # the record moves the stage (a stage may have its own bands).
        scored = self._score(summary.applied(profile, changes), profile, event, sequence_number)
        scored_profile = replace(profile, score=scored.outcome.state) if scored else profile
        learned = learn(scored_profile, event, changes, self._matchers, self.catalogue, now)
        if learned.after.stage != scored_profile.stage:
            scored = self._score(learned.after, profile, event, sequence_number)
        if not learned.changes and scored is None:
            return None
        fields = dict(learned.changes)
        events = [
            self._lifecycle(profile.contact_id, kind, attrs, sequence_number, now)
            for kind, attrs in learned.happened
        ]
        operations: tuple[dict[str, Any], ...] = ()
        read = None
        if scored is not None:
            fields[store.SCORE] = scored.score
            events += scored.events
            operations = scored.operations
            read = (store.SCORE, scored.read_at)
        write = store.summary_write(profile.contact_id, fields, sequence_number, events, read)
        if self.table.apply([*write, *operations]):
            return learned
        if read is not None and not store.summary_applied(
            self.table.profile(profile.contact_id), sequence_number
        ):
            # Not a redelivery: a deadline or a rescore wrote the score since it was read.
            raise RuntimeError(f"the score of {profile.contact_id} moved on; retrying the record")
        return None

    def _score(
        self,
        after: Profile,
        before: Profile,
        event: Mapping[str, Any] | None,
        sequence_number: str,
    ) -> ScoreChange | None:
        """The score change of a record: `after` is the profile it makes, scored from the score
        `before` held."""
        if self.scores is None:
            return None
        return self.scores.change(replace(after, score=before.score), event, sequence_number)

    def _lifecycle(
        self,
        contact_id: str,
        kind: str,
        attrs: Mapping[str, Any],
        sequence_number: str,
        now: datetime,
    ) -> store.Event:
        """A lifecycle event, its id derived from the record that caused it (so a retried
        transaction writes the same item)."""
        detail = attrs.get("segment") or attrs.get("to_stage") or ""
        seed = f"{contact_id}\x1f{sequence_number}\x1f{kind}\x1f{detail}"
        return store.Event(
            contact_id,
            kind,
            iso(now.timestamp()),
            hashlib.sha256(seed.encode()).hexdigest()[:16],
            attrs=dict(attrs),
            expires_at=int(now.timestamp()) + self.retention_days * DAY,
        )

    def _link_tags(self, click: Mapping[str, Any]) -> tuple[str, ...]:
        link, send_id = click.get("link"), str(click.get("send_id", ""))
        if link is None or not send_id:
            return ()
        return self.sends.link_tags(send_id, int(link))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)
