"""Enrollments: one per (contact, sequence); `run` counts re-entries, `seq` transitions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.store.items import Write, _document, _key, _plain, _value
from chalicelib.store.table import Table
from chalicelib.store.timers import Timer, timer_item

LIVE = ("active", "held_out")
"""Statuses of an enrollment still in its sequence (a held-out one is tracked, never sent)."""


@dataclass(frozen=True)
class ZoneUsed:
    """The zone a contact's sends are planned in and which fallback gave it (`contact`,
    `country`, `sequence`, `utc`), with notes on values skipped (`unknown_country`)."""

    name: str
    source: str
    notes: str = ""

    def attrs(self) -> dict[str, str]:
        return {"zone": self.name, "zone_source": self.source, "zone_notes": self.notes}


@dataclass(frozen=True)
class Enrollment:
    """A contact's run through a sequence. `seq` counts transitions: every change is conditional
    on it, so a stale timer or a redelivered event can never move the enrollment twice."""

    contact_id: str
    sequence_id: str
    version: int
    run: int
    status: str
    step_id: str
    seq: int = 0
    send_id: str | None = None
    sent_at: str | None = None
    enrolled_at: str = ""
    ended_at: str | None = None
    zone: ZoneUsed | None = None
    context: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The properties of the event that started it (templates see them as `event`)."""


class Enrollments:
    """Enrollment items; a contact is in a sequence at most once at a time."""

    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def get(self, contact_id: str, sequence_id: str) -> Enrollment | None:
        found = self.client.get_item(
            TableName=self._table.name,
            Key=_key(f"C#{contact_id}", f"E#{sequence_id}"),
            ConsistentRead=True,
        )
        return _enrollment(_plain(found["Item"])) if "Item" in found else None

    def active(self, contact_id: str) -> list[Enrollment]:
        """The contact's active enrollments, across all sequences."""
        found = self.client.query(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :e)",
            FilterExpression="#status = :active",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pk": _value(f"C#{contact_id}"),
                ":e": _value("E#"),
                ":active": _value("active"),
            },
            ConsistentRead=True,
        )
        return [_enrollment(_plain(item)) for item in found["Items"]]

    def enroll(
        self,
        contact_id: str,
        sequence_id: str,
        version: int,
        step_id: str,
        at: str,
        may_restart: Callable[[Enrollment], bool],
        zone: ZoneUsed | None = None,
        context: Mapping[str, Any] | None = None,
        status: str = "active",
    ) -> tuple[Enrollment | None, bool]:
        """Start (or, where `may_restart` allows it for the ended run, restart) an enrollment;
        idempotent while active or held out. `zone` records the zone fallback planning used,
        `context` the properties of the event that started it; `status` is `held_out` for a
        contact in the sequence's holdout (tracked, never sent).

        Returns (the live enrollment or None when re-entry is refused, whether it is new).
        """
        fresh = Enrollment(
            contact_id,
            sequence_id,
            version,
            1,
            status,
            step_id,
            0,
            None,
            None,
            at,
            None,
            zone,
            dict(context or {}),
        )
        put = {"Item": _enrollment_item(fresh), "ConditionExpression": "attribute_not_exists(PK)"}
        if self._table.apply([{"Put": put}]):
            return fresh, True
        current = self.get(contact_id, sequence_id)
        if current is None or current.status in LIVE:
            return current, False
        if not may_restart(current):
            return None, False
        again = replace(fresh, run=current.run + 1)
        restarted = self._table.apply(
            [
                {
                    "Put": {
                        "Item": _enrollment_item(again),
                        "ConditionExpression": "#run = :run AND NOT #status IN (:active, :held)",
                        "ExpressionAttributeNames": {"#run": "run", "#status": "status"},
                        "ExpressionAttributeValues": {
                            ":run": _value(current.run),
                            ":active": _value("active"),
                            ":held": _value("held_out"),
                        },
                    }
                }
            ]
        )
        return (again, True) if restarted else (self.get(contact_id, sequence_id), False)

    def advance(self, enrollment: Enrollment, step_id: str, then: Timer | None = None) -> bool:
        """Move to `step_id` (not yet sent), with the timer that sends it in the same
        transaction, so no crash leaves a move without its send; False when the enrollment
        moved on already."""
        return self._transition(
            enrollment,
            "SET step_id = :step, seq = seq + :one REMOVE send_id, sent_at",
            {":step": _value(step_id), ":one": _value(1)},
            [{"Put": {"Item": timer_item(then)}}] if then else [],
        )

    def mark_sent(self, enrollment: Enrollment, send_id: str, sent_at: str) -> bool:
        return self._transition(
            enrollment,
            "SET send_id = :send, sent_at = :at",
            {":send": _value(send_id), ":at": _value(sent_at)},
        )

    def end(self, enrollment: Enrollment, status: str, reason: str, at: str) -> bool:
        """Leave the sequence (`exited`, `goal_reached`, `completed`), whatever step it is on."""
        return self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"C#{enrollment.contact_id}", f"E#{enrollment.sequence_id}"),
                        "UpdateExpression": "SET #status = :status, ended_at = :at, "
                        "end_reason = :reason",
                        "ConditionExpression": "#run = :run AND #status = :active",
                        "ExpressionAttributeNames": {"#status": "status", "#run": "run"},
                        "ExpressionAttributeValues": {
                            ":status": _value(status),
                            ":at": _value(at),
                            ":reason": _value(reason),
                            ":run": _value(enrollment.run),
                            ":active": _value("active"),
                        },
                    }
                }
            ]
        )

    def _transition(
        self,
        enrollment: Enrollment,
        expression: str,
        values: dict[str, Any],
        with_: Write | None = None,
    ) -> bool:
        return self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"C#{enrollment.contact_id}", f"E#{enrollment.sequence_id}"),
                        "UpdateExpression": expression,
                        "ConditionExpression": "#run = :run AND seq = :seq AND #status = :active",
                        "ExpressionAttributeNames": {"#status": "status", "#run": "run"},
                        "ExpressionAttributeValues": {
                            **values,
                            ":run": _value(enrollment.run),
                            ":seq": _value(enrollment.seq),
                            ":active": _value("active"),
                        },
                    }
                },
                *(with_ or []),
            ]
        )


def _enrollment_item(enrollment: Enrollment) -> dict[str, Any]:
    return {
        **_key(f"C#{enrollment.contact_id}", f"E#{enrollment.sequence_id}"),
        "contact_id": _value(enrollment.contact_id),
        "sequence_id": _value(enrollment.sequence_id),
        "version": _value(enrollment.version),
        "run": _value(enrollment.run),
        "status": _value(enrollment.status),
        "step_id": _value(enrollment.step_id),
        "seq": _value(enrollment.seq),
        "enrolled_at": _value(enrollment.enrolled_at),
        **{
            name: _value(v)
            for name, v in (enrollment.zone.attrs() if enrollment.zone else {}).items()
        },
        **({"context": _document(enrollment.context)} if enrollment.context else {}),
    }


def _enrollment(item: Mapping[str, Any]) -> Enrollment:
    return Enrollment(
        item["contact_id"],
        item["sequence_id"],
        int(item["version"]),
        int(item["run"]),
        item["status"],
        item["step_id"],
        int(item.get("seq", 0)),
        item.get("send_id"),
        item.get("sent_at"),
        item.get("enrolled_at", ""),
        item.get("ended_at"),
        ZoneUsed(item["zone"], item.get("zone_source", ""), item.get("zone_notes", ""))
        if "zone" in item
        else None,
        dict(item.get("context") or {}),
    )
