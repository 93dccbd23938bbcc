"""What a contact's behaviour teaches nurture, applied from the table's stream.

A new event updates the contact's summary (`summary.observe`); the segments are evaluated on
the updated profile and the lifecycle stage advanced by the stage rules. All of it is one
conditional write (`store.summary_write`, guarded by the stream sequence number, so a
redelivered record changes nothing), and the segment entries and exits and the stage change
it causes are stored as events on the timeline in the same transaction. Those events come
back through the stream, where they can start sequences (`triggers`). A profile changed from
outside (an import, the API, the preferences page) is re-evaluated the same way.

Machine opens and scanner clicks cost nothing here: no read, no write.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib import store, summary
from chalicelib.audience import Catalogue
from chalicelib.profiles import Profile
from chalicelib.segments import Matcher
from chalicelib.stages import next_stage
from chalicelib.stamps import iso

__all__ = ["LIFECYCLE", "Behaviour", "Learned", "learn"]

LIFECYCLE = ("segment_entered", "segment_left", "stage_changed")
"""Timeline events a contact's behaviour causes (`segment` or `from_stage`/`to_stage`)."""
DAY = 86_400


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
    _matchers: dict[str, Matcher] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.sends = store.Sends(self.table)
        self._matchers = self.catalogue.matchers(self._now())

    def on_event(self, event: Mapping[str, Any], sequence_number: str) -> Learned | None:
        """Learn from a new timeline event; None when it teaches nothing (a machine's)."""
        kind = event.get("type")
        if kind != summary.PRODUCT and not summary.human_engagement(event):
            return None
        contact_id = str(event.get("contact_id", ""))
        item = self.table.profile(contact_id)
        if item is None:
            return None
        profile = Profile.from_item(contact_id, item)
        tags = self._link_tags(event) if kind == "clicked" else ()
        return self._apply(profile, event, summary.observe(profile, event, tags), sequence_number)

    def on_profile(
        self, new: Mapping[str, Any], old: Mapping[str, Any], sequence_number: str
    ) -> Learned | None:
        """Re-evaluate a profile changed from outside; our own summary writes are skipped."""
        if not new or new.get("summary_seq") != old.get("summary_seq"):
            return None
        profile = Profile.from_item(str(new.get("contact_id", "")), new)
        return self._apply(profile, None, {}, sequence_number)

    def _apply(
        self,
        profile: Profile,
        event: Mapping[str, Any] | None,
        changes: summary.Changes,
        sequence_number: str,
    ) -> Learned | None:
        now = self._now()
        learned = learn(profile, event, changes, self._matchers, self.catalogue, now)
        if not learned.changes:
            return None
        events = [
            self._lifecycle(profile.contact_id, kind, attrs, sequence_number, now)
            for kind, attrs in learned.happened
        ]
        write = store.summary_write(profile.contact_id, learned.changes, sequence_number, events)
        return learned if self.table.apply(write) else None

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
