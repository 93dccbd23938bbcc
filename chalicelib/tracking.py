"""Recipient use-cases: open, click, unsubscribe and preferences.

Open and click verify the token and make one write, with no reads. A bad token records
nothing. A failed write is parked, never surfaced to the recipient. The preferences page reads
the contact's choices, and still shows (without them) when the table cannot be read: the
page a recipient uses to leave must not depend on it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import classify, observability, store
from chalicelib.config import DAY, Settings
from chalicelib.errors import BadToken, InvalidInput, TokenExpired, TokenInvalid, WriteRefused
from chalicelib.links import UnsafeDestination, check_destination
from chalicelib.parking import Parking, commit
from chalicelib.stamps import iso
from chalicelib.tokens import Claims, Keyring, Purpose, verify

REASON_LABELS = (
    ("too_many", "I get too many emails"),
    ("not_relevant", "The content is not relevant to me"),
    ("never_signed_up", "I never signed up"),
    ("other", "Another reason"),
)
REASONS = tuple(value for value, _ in REASON_LABELS)
PAUSE_DAYS = (0, 30, 60, 90)
CLICK_METHOD = "GET"
"""The method of a click whose item names none (see `stored_click_method`)."""
MAX_REASON_TEXT = 500


@dataclass(frozen=True)
class Choices:
    """What the preferences page shows: `known` is False when the table could not be read."""

    known: bool
    unsubscribed_at: str | None = None
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Done:
    """What a submitted preferences form did: `unsubscribed` (since `at`) or `updated`."""

    outcome: str
    at: str


@dataclass(frozen=True)
class Tracker:
    settings: Settings
    keys: Callable[[], Keyring]
    table: store.Table
    parking: Parking
    clock: Callable[[], float] = time.time

    def open(self, token: str, user_agent: str, method: str = "GET") -> None:
        """Record an open if the token is genuine; the caller serves the GIF regardless.

        A HEAD is recorded as a machine open: no mail client shows an image it only asked about.
        """
        try:
            claims = self._verify(token, Purpose.OPEN)
        except BadToken:
            return
        now = self.clock()
        verdict = classify.classify_open(
            user_agent, now - claims.issued_at, self.settings.machine_open_seconds, method
        )
        self._record(claims, "opened", now, verdict)

    def click(self, token: str, method: str, user_agent: str) -> str:
        """Record a click and return the exact destination the token signs."""
        claims = self._verify(token, Purpose.CLICK)
        try:
            url = check_destination(claims.url or "")
        except UnsafeDestination as exc:
            raise TokenInvalid(f"destination {exc}") from exc
        now = self.clock()
        verdict = classify.classify_click(
            method, user_agent, now - claims.issued_at, self.settings.scanner_click_seconds
        )
        self._record(claims, "clicked", now, verdict, method=stored_click_method(method))
        return url

    def unsubscribe_claims(self, token: str) -> Claims:
        """Claims of a genuine unsubscribe token (unsubscribe links never expire)."""
        return self._verify(token, Purpose.UNSUBSCRIBE, expires=False)

    def unsubscribe(
        self, claims: Claims, method: str, user_agent: str, reason: str = "", reason_text: str = ""
    ) -> Done:
        """Unsubscribe now and audit how; repeating it is a no-op answering the first date."""
        now = self.clock()
        kind = classify.classify_click("POST", user_agent, now - claims.issued_at, 0).kind
        event = self._event(
            claims,
            "unsubscribed",
            now,
            None,
            method=method,
            reason=reason or None,
            reason_text=reason_text or None,
            agent=kind,
        )
        if commit(self.table, self.parking, store.unsubscribe_write(event)):
            return Done("unsubscribed", event.at)
        return Done("unsubscribed", self.choices(claims).unsubscribed_at or event.at)

    def choices(self, claims: Claims) -> Choices:
        """The contact's current choices, or `known=False` if the table cannot be read now."""
        try:
            profile = self.table.profile(claims.contact_id) or {}
        except store.AWS_ERRORS as exc:
            from chalicelib.observability import logger

            logger.warning("preferences unreadable", extra={"why": type(exc).__name__})
            return Choices(known=False)
        topics = profile.get("topics", self.settings.topics)
        at = profile.get("unsubscribed_at")
        return Choices(True, str(at) if at else None, tuple(str(t) for t in topics))

    def apply_preferences(
        self, claims: Claims, form: dict[str, list[str]], user_agent: str
    ) -> Done:
        """Apply the preference page's form and say what it did. Topic choices of a contact who
        has unsubscribed change nothing: the answer is the unsubscribed state, with its date."""
        action = _one(form, "action")
        if action == "unsubscribe":
            reason = _one(form, "reason", "")
            if reason and reason not in REASONS:
                raise InvalidInput("reason", f"must be one of {', '.join(REASONS)}")
            text = _one(form, "reason_text", "").strip()
            if len(text) > MAX_REASON_TEXT:
                raise InvalidInput("reason_text", f"must be at most {MAX_REASON_TEXT} characters")
            return self.unsubscribe(claims, "page", user_agent, reason, text)
        if action != "update":
            raise InvalidInput("action", "must be 'unsubscribe' or 'update'")
        topics = form.get("topics", [])
        unknown = sorted(set(topics) - set(self.settings.topics))
        if unknown:
            raise InvalidInput("topics", f"unknown topic {unknown[0]!r}")
        pause = _one(form, "pause_days", "0")
        if pause not in {str(d) for d in PAUSE_DAYS}:
            raise InvalidInput("pause_days", f"must be one of {PAUSE_DAYS}")
        current = self.choices(claims)
        if current.unsubscribed_at:
            return Done("unsubscribed", current.unsubscribed_at)
        now = self.clock()
        until = iso(now + int(pause) * DAY) if int(pause) else None
        commit(
            self.table,
            self.parking,
            store.preferences_write(claims.contact_id, topics, until, iso(now)),
        )
        return Done("updated", iso(now))

    def _verify(self, token: str, purpose: Purpose, expires: bool = True) -> Claims:
        """The token's claims; a forged, mangled or expired one is counted (`BadTokens`)."""
        try:
            claims = verify(token, purpose, self.keys())
            max_age = self.settings.link_max_age_days * DAY
            if expires and self.clock() - claims.issued_at > max_age:
                raise TokenExpired(claims.issued_at, max_age)
        except BadToken:
            observability.count("BadTokens", purpose=purpose.name.lower())
            raise
        return claims

    def _record(
        self,
        claims: Claims,
        kind: str,
        now: float,
        verdict: classify.Verdict,
        **attrs: store.Scalar,
    ) -> None:
        # One item per (send, link, verdict and its reason) per day, decided by its key with no
        # read (`store.engagement`).
        event = store.engagement(
            claims.contact_id,
            kind,
            iso(int(now)),
            claims.send_id,
            claims.link,
            verdict.kind,
            verdict.reason,
            self.expiry(now),
            **attrs,
        )
        # A refused write is logged whole by commit; the recipient is served regardless.
        # (Not contextlib.suppress: making its object costs every open and click 0.3 us.)
        try:  # noqa: SIM105
            commit(self.table, self.parking, store.event_write(event))
        except WriteRefused:
            pass

    def _event(
        self, claims: Claims, kind: str, now: float, expires_at: int | None, **attrs: store.Scalar
    ) -> store.Event:
        return store.Event(
            claims.contact_id,
            kind,
            iso(now),
            secrets.token_hex(8),
            claims.send_id,
            attrs,
            expires_at,
        )

    def expiry(self, now: float) -> int:
        return int(now) + self.settings.event_retention_days * DAY


def stored_click_method(method: str) -> str | None:
    """The `method` a click's item holds: only one that is not GET (a HEAD), since every other
    click is a GET and each attribute costs the hot path's write (benchmarks/hot_path.py).
    Readers show a click without one as a GET (`people.view`)."""
    upper = method.upper()
    return None if upper == CLICK_METHOD else upper


def _one(form: dict[str, list[str]], name: str, default: str | None = None) -> str:
    values = form.get(name)
    if not values:
        if default is None:
            raise InvalidInput(name, "is required")
        return default
    if len(values) > 1:
        raise InvalidInput(name, "was given more than once")
    return values[0]
