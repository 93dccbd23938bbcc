"""Scoring's use cases on the table: the score change a stream record makes (written by the
behaviour summary's one conditional write), band crossings at their due minute, receipts,
the distribution of bands, and rescoring everyone after a new version.

Events it causes go on the contact's timeline in the same write as the score: a
`temperature_changed` (which starts `temperature_became` journeys and reaches outbound) and,
once per crossing, an `alert` for sales, carrying its receipt and the latest human
engagements.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib import schedule, store, versioning
from chalicelib.errors import ContactNotFound, UnknownModel
from chalicelib.observability import logger
from chalicelib.profiles import Profile
from chalicelib.scoring.explain import Explanation, explain
from chalicelib.scoring.model import BANDS, SCORING_ID, Scoring, validated_scoring
from chalicelib.scoring.scorer import Outcome, Scorer
from chalicelib.scoring.state import ScoreState
from chalicelib.stamps import iso
from chalicelib.versioning import Pushed

__all__ = [
    "TIMER",
    "Distribution",
    "RescoreReport",
    "ScoreChange",
    "Scores",
    "newest_scoring",
    "push_scoring",
]

TIMER = "score"
"""The contact-timer kind of a band crossing by decay."""
DAY = 86_400
_PARSED: dict[tuple[int, str], Scoring] = {}


def newest_scoring(versions: store.Versions) -> tuple[Scoring, int] | None:
    """The pushed scoring model and its version (parsed once per version), or None."""
    head = versions.head(SCORING_ID)
    if head is None:
        return None
    key = (head.version, head.content_hash)
    if key not in _PARSED:
        body = versioning.stored(versions, SCORING_ID, head.version).body
        _PARSED[key] = Scoring.from_json(body, file=f"scoring@v{head.version}")
    return _PARSED[key], head.version


def push_scoring(
    versions: store.Versions, scoring: Scoring, at: str, stages: tuple[str, ...]
) -> Pushed:
    """Store a new version of the scoring model, once the stages it names exist."""
    validated_scoring(json.loads(scoring.to_json()), "scoring", {}, [], stages=stages)
    return versioning.push(versions, scoring, at)


@dataclass(frozen=True)
class ScoreChange:
    """What scoring adds to one profile write: the `score` value, the lifecycle events and
    the timer operations (the new deadline, the old one removed)."""

    score: dict[str, Any]
    read_at: str | None
    """When the score this change replaces was written (None: there was none)."""
    events: tuple[store.Event, ...]
    operations: tuple[dict[str, Any], ...]
    outcome: Outcome


@dataclass(frozen=True)
class RescoreReport:
    version: int
    scored: int
    unchanged: int
    finished: bool


@dataclass(frozen=True)
class Distribution:
    """Contacts by stage and band now (`unscored`: no score yet)."""

    rows: dict[str, dict[str, int]]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*BANDS, "unscored")


@dataclass
class Scores:
    table: store.Table
    versions: store.Versions
    scheduler: schedule.Scheduler
    topics: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    retention_days: int = 400
    clock: Callable[[], float] = time.time
    _scorer: list[Scorer | None] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.timers = store.Timers(self.table)

    # --- the model -------------------------------------------------------------------------

    def scorer(self) -> Scorer | None:
        """The newest scoring version, compiled; read once per `Scores` (one stream batch, one
        due minute, one rescore), None before any push."""
        if not self._scorer:
            found = newest_scoring(self.versions)
            self._scorer.append(
                Scorer(found[0], found[1], self._now(), topics=self.topics, stages=self.stages)
                if found
                else None
            )
        return self._scorer[0]

    # --- from the stream ---------------------------------------------------------------------

    def change(
        self, profile: Profile, event: Mapping[str, Any] | None, seed: str
    ) -> ScoreChange | None:
        """The score change one stream record makes (an event, or the profile changed from
        outside), or None. It reads nothing unless the contact has no score of the newest
        version yet (then its stored events are replayed once). `seed` names the record, so
        a retried write stores the same events."""
        scorer = self.scorer()
        if scorer is None:
            return None
        prev = profile.score
        history = self.table.events(profile.contact_id) if scorer.needs_history(prev) else ()
        now = int(self.clock())
        cause = "event" if event is not None else "profile"
        outcome = scorer.observe(profile, prev, event, now, history=history, cause=cause)
        if not outcome.changed:
            return None
        return self._change(profile.contact_id, prev, outcome, seed, now)

    # --- at a deadline ---------------------------------------------------------------------

    def fire(self, minute: str) -> int:
        """Check every score whose band crossing by decay is due at `minute`; return how many
        checks failed (their timers stay for the retry)."""
        failures = 0
        for timer in self.timers.contact_due(minute, TIMER):
            try:
                self._cross(timer)
            except Exception:
                failures += 1
                logger.exception("score deadline failed", extra={"minute": minute})
                continue
            self.timers.drop(timer)
        return failures

    def _cross(self, timer: store.ContactTimer) -> None:
        item = self.table.profile(timer.contact_id)
        scorer = self.scorer()
        if item is None or scorer is None:
            return
        profile = Profile.from_item(timer.contact_id, item)
        prev = profile.score
        if prev is None or prev.due != timer.due:
            return  # stale: a later write moved the deadline
        history = self.table.events(profile.contact_id) if scorer.needs_history(prev) else ()
        now = int(self.clock())
        outcome = scorer.observe(profile, prev, None, now, history=history, cause="decay")
        if outcome.changed:
            change = self._change(timer.contact_id, prev, outcome, f"decay:{timer.due}", now)
            self.table.apply(
                store.score_write(
                    timer.contact_id, change.score, change.read_at, change.events, change.operations
                )
            )

    # --- rescoring ---------------------------------------------------------------------------

    def rescore(
        self,
        *,
        page_size: int = 100,
        pages: int | None = None,
        on_page: Callable[[RescoreReport], None] = lambda report: None,
    ) -> RescoreReport:
        """Bring every contact's score to the newest version, page by page from the last
        checkpoint: memory stays flat whatever the table holds, and a crash or a timeout
        resumes where the last finished page ended (a contact scored twice is written once:
        the second finds its score already of this version). `pages` bounds one call."""
        scorer = self.scorer()
        if scorer is None:
            raise UnknownModel("scoring: no scoring model is pushed")
        checkpoints = store.Rescores(self.table)
        mark = checkpoints.get(scorer.version) or store.RescoreCheckpoint(scorer.version, None)
        report = RescoreReport(scorer.version, mark.scored, mark.unchanged, mark.finished)
        if mark.finished:
            return report
        pages_done = enumerate(store.profile_pages(self.table, mark.resume, page_size), 1)
        for done, (items, resume) in pages_done:
            scored = unchanged = 0
            for item in items:
                if self._rescore_one(scorer, item):
                    scored += 1
                else:
                    unchanged += 1
            mark = store.RescoreCheckpoint(
                scorer.version,
                resume,
                mark.scored + scored,
                mark.unchanged + unchanged,
                resume is None,
            )
            checkpoints.put(mark)
            report = RescoreReport(scorer.version, mark.scored, mark.unchanged, mark.finished)
            on_page(report)
            if pages is not None and done >= pages:
                break
        return report

    def _rescore_one(self, scorer: Scorer, item: Mapping[str, Any]) -> bool:
        contact_id = str(item.get("contact_id", ""))
        profile = Profile.from_item(contact_id, item)
        prev = profile.score
        if not contact_id or (prev is not None and prev.version == scorer.version):
            return False
        now = int(self.clock())
        history = self.table.events(contact_id)
        outcome = scorer.observe(profile, prev, None, now, history=history, cause="rescore")
        change = self._change(contact_id, prev, outcome, f"rescore:{scorer.version}", now)
        return self.table.apply(
            store.score_write(
                contact_id, change.score, change.read_at, change.events, change.operations
            )
        )

    # --- reading -----------------------------------------------------------------------------

    def explain(self, contact_id: str) -> Explanation:
        """The receipt of the contact's score now: every rule, line and event behind it."""
        item = self.table.profile(contact_id)
        if item is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        scorer = self.scorer()
        if scorer is None:
            raise UnknownModel("scoring: no scoring model is pushed")
        profile = Profile.from_item(contact_id, item)
        history = self.table.events(contact_id)
        now = int(self.clock())
        outcome = scorer.observe(profile, profile.score, None, now, history=history)
        return explain(
            scorer,
            outcome,
            profile.score,
            history,
            contact_id=contact_id,
            email=profile.email,
            at=now,
        )

    def distribution(self) -> Distribution:
        """Contacts by stage and band now: one streaming pass over the profiles."""
        scorer = self.scorer()
        rows: dict[str, dict[str, int]] = {}
        now = int(self.clock())
        for item in self._profiles():
            profile = Profile.from_item(str(item.get("contact_id", "")), item)
            state = profile.score
            if scorer is None or state is None:
                stage = scorer.stage_of(profile) if scorer else None
                band = "unscored"
            else:
                stage = state.stage
                band = scorer.band(state.grade, state.stage, state.engagement(now))
            row = rows.setdefault(stage or "(none)", dict.fromkeys((*BANDS, "unscored"), 0))
            row[band] += 1
        return Distribution(rows)

    def _profiles(self) -> Iterator[dict[str, Any]]:
        for items, _ in store.profile_pages(self.table, None, 500):
            yield from items

    # --- shared ------------------------------------------------------------------------------

    def _change(
        self,
        contact_id: str,
        prev: ScoreState | None,
        outcome: Outcome,
        seed: str,
        now: int,
    ) -> ScoreChange:
        state = outcome.state
        operations: list[dict[str, Any]] = []
        before = prev.due if prev else None
        if state.due != before:
            if before is not None:
                operations.append(store.ContactTimer(before, contact_id, TIMER).delete())
            if state.due is not None:
                # The schedule first: no timer waits in a bucket nothing fires.
                self.scheduler.ensure(schedule.minute_instant(state.due))
                operations.append(store.ContactTimer(state.due, contact_id, TIMER).put())
        events = tuple(
            self._event(contact_id, kind, attrs, seed, now) for kind, attrs in outcome.happened
        )
        read_at = prev.at if prev else None
        return ScoreChange(state.to_item(), read_at, events, tuple(operations), outcome)

    def _event(
        self, contact_id: str, kind: str, attrs: Mapping[str, Any], seed: str, now: int
    ) -> store.Event:
        """A lifecycle event whose id derives from what caused it (a retry writes the same)."""
        digest = hashlib.sha256(f"{contact_id}\x1f{seed}\x1f{kind}".encode()).hexdigest()[:16]
        return store.Event(
            contact_id,
            kind,
            iso(now),
            digest,
            attrs=dict(attrs),
            expires_at=now + self.retention_days * DAY,
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)
