"""What the table holds about one contact, to read it (profile, timeline, GDPR export) and to
erase it: the contact's partition (profile, enrollments, events, caps and whatever else lives
under the contact), the address claim, send records, pending timers and the erasure audit."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store.items import _key, _plain, _value
from chalicelib.store.sends import send_key
from chalicelib.store.table import Table

__all__ = ["People", "Position", "Stored", "position"]

Position = tuple[str, str]
"""Where an event sits on a contact's timeline: (timestamp, `type#event_id`)."""


def position(event: Mapping[str, Any]) -> Position:
    return (str(event["at"]), f"{event['type']}#{event['event_id']}")


_EVENTS = "EV#"
_KINDS = (("PROFILE", "profile"), ("E#", "enrollment"), (_EVENTS, "event"), ("CAP#", "cap"))
_AUDIT = "AUDIT#ERASURE"
_SEND_PERSONAL = ("contact_id", "message_id", "ses_message_id")
"""Attributes of a send record that point at a person (the rest is counted, not personal)."""


@dataclass(frozen=True)
class Stored:
    """One item of a contact's partition: what it is (`profile`, `enrollment`, `event`, `cap`,
    or `other` for kinds this reader does not know yet), its attributes, and its key."""

    kind: str
    attrs: Mapping[str, Any]
    key: tuple[str, str] = field(repr=False)


class People:
    """Reads and erasure writes keyed by contact; every key spelt here."""

    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    # --- reads ---------------------------------------------------------------------------------

    def partition(self, contact_id: str) -> Iterator[Stored]:
        """Every item stored under the contact, in key order."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(f"C#{contact_id}")},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                yield _stored(_plain(item))

    def events_page(
        self, contact_id: str, since: str, until: str, before: Position | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` events at `since` or later and before `until` (and before the position
        `before`), newest first by position (`at`, `type#event_id`). Timestamps compare as the
        table's ISO strings. An engagement's key holds only its day (`store.engagement`), so it
        sorts below that day's other events: a full page reads on to the end of the day of its
        oldest event, then sorts by position."""
        high = f"{_EVENTS}{until}"
        if before is not None:
            high = min(high, f"{_EVENTS}{before[0]}#{before[1]}")
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": _value(f"C#{contact_id}"),
                ":low": _value(f"{_EVENTS}{since[:10]}"),
                ":high": _value(high),
            },
            ScanIndexForward=False,
            ConsistentRead=True,
            PaginationConfig={"PageSize": limit + 1},
        )
        found: list[dict[str, Any]] = []
        day_floor: str | None = None
        for item in (item for page in pages for item in page["Items"]):
            if day_floor is not None and item["SK"]["S"] < day_floor:
                break
            event = _plain(item)
            at = position(event)
            if since <= at[0] < until and (before is None or at < before):
                found.append(event)
                if len(found) == limit and day_floor is None:
                    day_floor = f"{_EVENTS}{at[0][:10]}"
        found.sort(key=position, reverse=True)
        return found[:limit]

    def sends(self, send_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The send records that exist among `send_ids`, by id."""
        wanted = sorted(set(send_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request: Mapping[str, Any] = {
                self._table.name: {"Keys": [send_key(s) for s in wanted[start : start + 100]]}
            }
            for attempt in itertools.count():
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table.name, []):
                    record = _plain(item)
                    found[str(record["send_id"])] = record
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
        return found

    def suppression(self, email_hash: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self._table.name,
            Key=_key(f"X#{email_hash}", "SUPPRESS"),
            ConsistentRead=True,
        )
        return _public(_plain(found["Item"])) if "Item" in found else None

    def timers(self, contact_id: str, minutes: Iterable[str]) -> list[Stored]:
        """The contact's timers waiting in the due buckets of `minutes` (queries a minute,
        sixteen minutes at a time: a bucket holds many contacts, the key range holds only this
        one's enrollment timers; its contact timers, such as a score's decay deadline, are
        found among the bucket's contact timers by their contact id)."""

        def in_bucket(minute: str) -> list[Stored]:
            found = self.client.query(
                TableName=self._table.name,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :contact)",
                ExpressionAttributeValues={
                    ":pk": _value(f"D#{minute}"),
                    ":contact": _value(f"{contact_id}#"),
                },
                ConsistentRead=True,
            )
            pages = self.client.get_paginator("query").paginate(
                TableName=self._table.name,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :mark)",
                FilterExpression="contact_id = :contact",
                ExpressionAttributeValues={
                    ":pk": _value(f"D#{minute}"),
                    ":mark": _value("#"),
                    ":contact": _value(contact_id),
                },
                ConsistentRead=True,
            )
            items = [*found["Items"], *(item for page in pages for item in page["Items"])]
            return [_stored(_plain(item), "timer") for item in items]

        with ThreadPoolExecutor(max_workers=16) as pool:
            return [timer for found in pool.map(in_bucket, sorted(set(minutes))) for timer in found]

    def erasures(self) -> list[dict[str, Any]]:
        """The erasure audit, oldest first."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(_AUDIT)},
            ConsistentRead=True,
        )
        return [_public(_plain(item)) for page in pages for item in page["Items"]]

    # --- erasure -------------------------------------------------------------------------------

    def audit_erasure(self, contact_id: str, at: str, principal: str) -> None:
        """Record that an erasure of `contact_id` started (kept after the contact is gone; it
        names the id and who asked, never the address)."""
        self.client.put_item(
            TableName=self._table.name,
            Item={
                **_key(_AUDIT, f"{at}#{contact_id}"),
                "contact_id": _value(contact_id),
                "requested_at": _value(at),
                "principal": _value(principal),
                "status": _value("started"),
            },
        )

    def finish_erasure(self, contact_id: str, at: str, done_at: str, removed: int) -> None:
        self.client.update_item(
            TableName=self._table.name,
            Key=_key(_AUDIT, f"{at}#{contact_id}"),
            UpdateExpression="SET #status = :done, finished_at = :at, items_removed = :n",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":done": _value("done"),
                ":at": _value(done_at),
                ":n": _value(removed),
            },
        )

    def strip_send(self, send_id: str, at: str) -> None:
        """Keep a send's counted facts (sequence, step, variant, outcome), drop who it went to;
        an unknown send is left alone."""
        try:
            self.client.update_item(
                TableName=self._table.name,
                Key=send_key(send_id),
                UpdateExpression=f"SET erased_at = :at REMOVE {', '.join(_SEND_PERSONAL)}",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":at": _value(at)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return

    def forget_address(self, email_hash: str, contact_id: str) -> None:
        """Unbind the address from the contact (if still bound to it) and drop its soft-bounce
        record; the suppression stays."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.delete_item(
                TableName=self._table.name,
                Key=_key(f"M#{email_hash}", "CONTACT"),
                ConditionExpression="contact_id = :contact",
                ExpressionAttributeValues={":contact": _value(contact_id)},
            )
        self.client.delete_item(
            TableName=self._table.name, Key=_key(f"X#{email_hash}", "SOFTBOUNCE")
        )

    def delete(self, items: Iterable[Stored]) -> int:
        """Delete stored items, 25 a request; returns how many."""
        keys = [_key(*item.key) for item in items]
        for start in range(0, len(keys), 25):
            pending = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            for attempt in itertools.count():
                answer = self.client.batch_write_item(RequestItems={self._table.name: pending})
                pending = answer.get("UnprocessedItems", {}).get(self._table.name, [])
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
        return len(keys)


def _stored(item: Mapping[str, Any], kind: str = "") -> Stored:
    sk = str(item["SK"])
    found = kind or next((name for prefix, name in _KINDS if sk.startswith(prefix)), "other")
    return Stored(found, _public(item), (str(item["PK"]), sk))


def _public(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in ("PK", "SK")}
