"""The single table: the only package that knows its key patterns and condition expressions.

Every change is expressed as a `Write`: a JSON-serialisable list of TransactWriteItems
operations whose conditions make a replay a no-op. That is what lets a failed write be parked
and replayed later, and a redelivered one be applied twice without a second effect.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chalicelib.store.items import Event, Scalar, Write, readable
from chalicelib.store.productevents import PRODUCT_EVENT, ProductEvent, product_event_item
from chalicelib.store.table import AWS_ERRORS, KnownContact, RecordedConversion, Table
from chalicelib.store.writes import (
    ProfileChange,
    conversion_write,
    email_claim_write,
    engagement,
    event_write,
    pause_write,
    preferences_write,
    profile_create_write,
    profile_update_write,
    reclassify_writes,
    send_accepted_write,
    send_outcome_write,
    send_settled_write,
    soft_bounce_write,
    suppression_write,
    unsubscribe_write,
)

if TYPE_CHECKING:
    from chalicelib.store.breakdown import enrolled_profiles
    from chalicelib.store.changes import Change, StreamKind, filter_patterns, stream_kind
    from chalicelib.store.deliveries import Deliveries, Delivery, RetryDue
    from chalicelib.store.enrollments import Enrollment, Enrollments, ZoneUsed
    from chalicelib.store.people import People, Position, Stored, position
    from chalicelib.store.receipts import Receipt, Receipts
    from chalicelib.store.reports import (
        Cohort,
        Membership,
        Reports,
        count_once_write,
        holdout_converted_write,
        holdout_enrolled_write,
        holdout_revenue_write,
        settled_items,
    )
    from chalicelib.store.rollups import Progress
    from chalicelib.store.scores import (
        SCORE,
        RescoreCheckpoint,
        Rescores,
        profile_pages,
        score_write,
    )
    from chalicelib.store.sends import (
        Capped,
        CapRule,
        SendOrigin,
        SendRecord,
        Sends,
        audience_attrs,
        segment_set,
        send_key,
    )
    from chalicelib.store.summaries import inactivity_write, summary_applied, summary_write
    from chalicelib.store.tallies import Cell
    from chalicelib.store.timers import ContactTimer, Timer, Timers
    from chalicelib.store.versions import ModelKind, ModelVersion, Versions
    from chalicelib.store.webhooks import Health, Secret, Webhooks

# Sending, sequencing and stream parts load on first use: the public function never needs them.
_LAZY = {
    "enrolled_profiles": "breakdown",
    "Change": "changes",
    "StreamKind": "changes",
    "filter_patterns": "changes",
    "stream_kind": "changes",
    "inactivity_write": "summaries",
    "summary_applied": "summaries",
    "summary_write": "summaries",
    "Receipt": "receipts",
    "Receipts": "receipts",
    "Enrollment": "enrollments",
    "Enrollments": "enrollments",
    "ZoneUsed": "enrollments",
    "Capped": "sends",
    "CapRule": "sends",
    "SendRecord": "sends",
    "Sends": "sends",
    "send_key": "sends",
    "ContactTimer": "timers",
    "SCORE": "scores",
    "RescoreCheckpoint": "scores",
    "Rescores": "scores",
    "profile_pages": "scores",
    "score_write": "scores",
    "Timer": "timers",
    "Timers": "timers",
    "ModelKind": "versions",
    "ModelVersion": "versions",
    "SendOrigin": "sends",
    "audience_attrs": "sends",
    "segment_set": "sends",
    "People": "people",
    "Position": "people",
    "Stored": "people",
    "position": "people",
    "Reports": "reports",
    "count_once_write": "reports",
    "Cell": "tallies",
    "Progress": "rollups",
    "Cohort": "reports",
    "Membership": "reports",
    "holdout_converted_write": "reports",
    "holdout_enrolled_write": "reports",
    "holdout_revenue_write": "reports",
    "settled_items": "reports",
    "Versions": "versions",
    "Deliveries": "deliveries",
    "Delivery": "deliveries",
    "Health": "webhooks",
    "RetryDue": "deliveries",
    "Secret": "webhooks",
    "Webhooks": "webhooks",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = [
    "AWS_ERRORS",
    "PRODUCT_EVENT",
    "SCORE",
    "CapRule",
    "Capped",
    "Cell",
    "Change",
    "Cohort",
    "ContactTimer",
    "Deliveries",
    "Delivery",
    "Enrollment",
    "Enrollments",
    "Event",
    "Health",
    "KnownContact",
    "Membership",
    "ModelKind",
    "ModelVersion",
    "People",
    "Position",
    "ProductEvent",
    "ProfileChange",
    "Progress",
    "Receipt",
    "Receipts",
    "RecordedConversion",
    "Reports",
    "RescoreCheckpoint",
    "Rescores",
    "RetryDue",
    "Scalar",
    "Secret",
    "SendOrigin",
    "SendRecord",
    "Sends",
    "Stored",
    "StreamKind",
    "Table",
    "Timer",
    "Timers",
    "Versions",
    "Webhooks",
    "Write",
    "ZoneUsed",
    "audience_attrs",
    "conversion_write",
    "count_once_write",
    "email_claim_write",
    "engagement",
    "enrolled_profiles",
    "event_write",
    "filter_patterns",
    "holdout_converted_write",
    "holdout_enrolled_write",
    "holdout_revenue_write",
    "inactivity_write",
    "pause_write",
    "position",
    "preferences_write",
    "product_event_item",
    "profile_create_write",
    "profile_pages",
    "profile_update_write",
    "readable",
    "reclassify_writes",
    "score_write",
    "segment_set",
    "send_accepted_write",
    "send_key",
    "send_outcome_write",
    "send_settled_write",
    "settled_items",
    "soft_bounce_write",
    "stream_kind",
    "summary_applied",
    "summary_write",
    "suppression_write",
    "unsubscribe_write",
]
