"""The single table: the only package that knows its key patterns and condition expressions.

Every change is expressed as a `Write`: a JSON-serialisable list of TransactWriteItems
operations whose conditions make a replay a no-op. That is what lets a failed write be parked
and replayed later, and a redelivered one be applied twice without a second effect.
"""

from __future__ import annotations

from chalicelib.store.enrollments import Enrollment, Enrollments
from chalicelib.store.items import Event, Scalar, Write
from chalicelib.store.sends import Capped, CapRule, SendRecord, Sends, send_key
from chalicelib.store.table import KnownContact, Table
from chalicelib.store.timers import Timer, Timers
from chalicelib.store.versions import SequenceVersion, Versions
from chalicelib.store.writes import (
    ProfileChange,
    conversion_write,
    email_claim_write,
    event_write,
    preferences_write,
    profile_create_write,
    profile_update_write,
    reclassify_write,
    send_accepted_write,
    send_outcome_write,
    soft_bounce_write,
    suppression_write,
    unsubscribe_write,
)

__all__ = [
    "CapRule",
    "Capped",
    "Enrollment",
    "Enrollments",
    "Event",
    "KnownContact",
    "ProfileChange",
    "Scalar",
    "SendRecord",
    "Sends",
    "SequenceVersion",
    "Table",
    "Timer",
    "Timers",
    "Versions",
    "Write",
    "conversion_write",
    "email_claim_write",
    "event_write",
    "preferences_write",
    "profile_create_write",
    "profile_update_write",
    "reclassify_write",
    "send_accepted_write",
    "send_key",
    "send_outcome_write",
    "soft_bounce_write",
    "suppression_write",
    "unsubscribe_write",
]
