"""Sends: one item per (enrollment run, step), claimed before SES is called."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.store.enrollments import ZoneUsed
from chalicelib.store.items import Event, Scalar, Write, _key, _plain, _put_event, _value
from chalicelib.store.table import ConditionFailed, Table


@dataclass(frozen=True)
class SendRecord:
    """The state of one send as the table holds it."""

    send_id: str
    status: str
    attempt: int
    claimed_at: str
    lease_until: str
    accepted_at: str | None = None
    message_id: str | None = None
    contact_id: str = ""
    cap_periods: tuple[str, ...] = ()
    calling_at: str | None = None
    """When this attempt began calling SES; a claim abandoned after it is `uncertain`."""


@dataclass(frozen=True)
class CapRule:
    """A marketing send counts once in the contact's local `day` (`D2026-11-24`) and ISO `week`
    (`W2026-48`); with a `limit`, the counter of `per` must be below it."""

    day: str
    week: str
    expires_at: int
    limit: int | None = None
    per: Literal["day", "week"] = "day"

    @property
    def periods(self) -> tuple[str, str]:
        return (self.day, self.week)


class Capped(Exception):
    """The contact's frequency cap for the period is used up."""


@dataclass(frozen=True)
class SendOrigin:
    """Which sequence step (and run; 0 is a test send) a send belongs to, its A/B variant
    (`""` without, or before SES was called), the UTC day it was claimed, and the contact's
    lifecycle `stage` (`""` for none) and segments when it was claimed (`stage` None: a send
    claimed before sends were stamped)."""

    sequence_id: str
    step_id: str
    run: int
    variant: str = ""
    day: str = ""
    stage: str | None = None
    segments: frozenset[str] = frozenset()


SEGMENTS_SEPARATOR = ","
"""Segment ids are slugs, so a sorted comma-joined text holds a set of them compactly."""


def audience_attrs(stage: str | None, segments: Iterable[str]) -> dict[str, str]:
    """A send's stamp of the contact's stage and segments (both always written, empty for
    none, so a stamped send is told from one claimed before stamps)."""
    return {"stage": stage or "", "segments": SEGMENTS_SEPARATOR.join(sorted(segments))}


def segment_set(text: str) -> frozenset[str]:
    return frozenset(text.split(SEGMENTS_SEPARATOR)) if text else frozenset()


def send_key(send_id: str) -> dict[str, Any]:
    return _key(f"S#{send_id}", "META")


class Sends:
    """Claims and outcomes of sends; every transition is conditional on the claim it follows."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self.client = table.client

    def claim(
        self,
        send_id: str,
        attrs: Mapping[str, Scalar],
        now: str,
        lease_until: str,
        cap: CapRule | None,
        contact_id: str,
        zone: ZoneUsed | None = None,
    ) -> bool:
        """Create the claim (and count it against the cap) atomically.

        False when a claim for this send already exists; raises `Capped` when the cap is used up.
        """
        item = {
            **send_key(send_id),
            "send_id": _value(send_id),
            "status": _value("claimed"),
            "attempt": _value(1),
            "claimed_at": _value(now),
            "lease_until": _value(lease_until),
        }
        item.update({name: _value(v) for name, v in attrs.items()})
        item.update({name: _value(v) for name, v in (zone.attrs() if zone else {}).items()})
        ops: Write = [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]
        if cap is not None:
            item["cap_periods"] = {"L": [_value(period) for period in cap.periods]}
            ops += [_count(contact_id, cap, period) for period in cap.periods]
        return self._transact_claim(ops)

    def reclaim(self, record: SendRecord, now: str, lease_until: str) -> bool:
        """Take over an expired claim; False when someone else took it first."""
        return self._update(
            record,
            "SET attempt = :next, claimed_at = :now, lease_until = :lease",
            {
                ":next": _value(record.attempt + 1),
                ":now": _value(now),
                ":lease": _value(lease_until),
            },
        )

    def origin(self, send_id: str) -> SendOrigin | None:
        found = self.client.get_item(
            TableName=self._table.name,
            Key=send_key(send_id),
            ProjectionExpression=(
                "sequence_id, step_id, #run, variant, claimed_at, #stage, #segments"
            ),
            ExpressionAttributeNames={"#run": "run", "#stage": "stage", "#segments": "segments"},
        )
        item = _plain(found.get("Item", {}))
        if "sequence_id" not in item:
            return None
        return SendOrigin(
            item["sequence_id"],
            item["step_id"],
            int(item.get("run", 0)),
            str(item.get("variant", "")),
            str(item.get("claimed_at", ""))[:10],
            str(item["stage"]) if "stage" in item else None,
            segment_set(str(item.get("segments", ""))),
        )

    def get(self, send_id: str) -> SendRecord | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=send_key(send_id), ConsistentRead=True
        )
        if "Item" not in found:
            return None
        item = _plain(found["Item"])
        return SendRecord(
            item["send_id"],
            item["status"],
            int(item["attempt"]),
            item["claimed_at"],
            item["lease_until"],
            item.get("ses_accepted_at"),
            item.get("message_id") or item.get("ses_message_id"),
            item.get("contact_id", ""),
            tuple(item.get("cap_periods") or ()),
            item.get("ses_calling_at"),
        )

    def mark_calling(
        self,
        record: SendRecord,
        at: str,
        link_tags: tuple[tuple[str, ...], ...] = (),
        variant: str = "",
    ) -> bool:
        """Say SES is being called for this attempt, with the interests each link of the message
        carries (by link index, for the stream to apply on a human click) and the A/B variant
        the message is (`""` without variants); False when the claim was taken over (the caller
        must not call SES then)."""
        values = {":at": _value(at), ":variant": _value(variant)}
        expression = "SET ses_calling_at = :at, variant = :variant"
        tagged = {str(i): {"SS": sorted(tags)} for i, tags in enumerate(link_tags) if tags}
        if tagged:
            values[":tags"] = {"M": tagged}
            expression += ", link_tags = :tags"
        return self._update(record, expression, values)

    def link_tags(self, send_id: str, link: int) -> tuple[str, ...]:
        """The interests link `link` of a send carries (none for an unknown send or link)."""
        found = self.client.get_item(
            TableName=self._table.name,
            Key=send_key(send_id),
            ProjectionExpression="link_tags.#link",
            ExpressionAttributeNames={"#link": str(link)},
        )
        tags = _plain(found.get("Item", {})).get("link_tags", {}).get(str(link))
        return tuple(sorted(tags)) if tags else ()

    def clear_calling(self, record: SendRecord) -> bool:
        """SES refused the call (throttled): a crash before the next call is not ambiguous."""
        return self._update(record, "REMOVE ses_calling_at", {})

    def mark_uncertain(self, record: SendRecord, at: str) -> bool:
        """A crash after SES was called and no `Send` event yet: the outcome is unknown, and SES
        is never called for this send again."""
        update = self._condition(
            record,
            "SET #status = :uncertain, uncertain_at = :at",
            {":uncertain": _value("uncertain"), ":at": _value(at)},
        )
        update["ConditionExpression"] += " AND attribute_not_exists(ses_accepted_at)"
        return self._table.apply([{"Update": update}])

    def complete(self, record: SendRecord, message_id: str, at: str) -> bool:
        """SES accepted the message: `sent`, also when a takeover had already called it
        `uncertain` meanwhile."""
        update = self._condition(
            record,
            "SET #status = :sent, message_id = :mid, sent_at = :at",
            {":sent": _value("sent"), ":mid": _value(message_id), ":at": _value(at)},
        )
        update["ConditionExpression"] = "#status IN (:claimed, :uncertain) AND attempt = :attempt"
        update["ExpressionAttributeValues"][":uncertain"] = _value("uncertain")
        return self._table.apply([{"Update": update}])

    def finish(self, record: SendRecord, status: str, event: Event) -> bool:
        """End the send as `skipped` or `failed`, record why and give back its cap, atomically."""
        update = self._condition(
            record,
            "SET #status = :status, reason = :reason",
            {":status": _value(status), ":reason": _value(event.attrs.get("reason"))},
        )
        return self._table.apply([{"Update": update}, _put_event(event), *self._uncap(record)])

    def release(self, record: SendRecord) -> bool:
        """Drop a claim SES certainly did not act on (throttled, quota), so a later run retries."""
        spec = self._condition(record, "", {})
        spec.pop("UpdateExpression")
        return self._table.apply([{"Delete": spec}, *self._uncap(record)])

    def _uncap(self, record: SendRecord) -> Write:
        """Give a send that never went out back to the contact's day and week counters."""
        return [
            {
                "Update": {
                    "Key": _key(f"C#{record.contact_id}", f"CAP#{period}"),
                    "UpdateExpression": "ADD sends :minus",
                    "ExpressionAttributeValues": {":minus": _value(-1)},
                }
            }
            for period in record.cap_periods
        ]

    def _update(self, record: SendRecord, expression: str, values: dict[str, Any]) -> bool:
        return self._table.apply([{"Update": self._condition(record, expression, values)}])

    def _condition(
        self, record: SendRecord, expression: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Key": send_key(record.send_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :claimed AND attempt = :attempt",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                **values,
                ":claimed": _value("claimed"),
                ":attempt": _value(record.attempt),
            },
        }

    def _transact_claim(self, ops: Write) -> bool:
        """False when the claim exists already; `Capped` when only the cap's condition failed."""
        try:
            self._table.run(ops)
        except ConditionFailed as failed:
            if 0 in failed.positions:
                return False
            raise Capped from failed
        return True


def _count(contact_id: str, cap: CapRule, period: str) -> dict[str, Any]:
    """Add the send to one of the contact's counters; the capped period's must have room."""
    update: dict[str, Any] = {
        "Key": _key(f"C#{contact_id}", f"CAP#{period}"),
        "UpdateExpression": "ADD sends :one SET #ttl = if_not_exists(#ttl, :ttl)",
        "ExpressionAttributeValues": {":one": _value(1), ":ttl": _value(cap.expires_at)},
        "ExpressionAttributeNames": {"#ttl": "ttl"},
    }
    capped = cap.day if cap.per == "day" else cap.week
    if cap.limit is not None and period == capped:
        update["ConditionExpression"] = "attribute_not_exists(sends) OR sends < :limit"
        update["ExpressionAttributeValues"][":limit"] = _value(cap.limit)
    return {"Update": update}
