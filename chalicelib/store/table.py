"""The table and its generic operations: apply a `Write`, read profiles and events."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import emails
from chalicelib.errors import WriteRefused
from chalicelib.store.items import Scalar, Write, _key, _plain, _value

AWS_ERRORS = (BotoCoreError, ClientError)
"""What a call to AWS may raise: botocore's own (network, timeouts) and the service's answers."""
REFUSALS = frozenset(
    {"ValidationException", "SerializationException", "ItemCollectionSizeLimitExceededException"}
)
"""Error codes of a request DynamoDB refuses whatever the moment: no retry can succeed."""
_REFUSED_IN_TRANSACTION = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})

_LOOKUPS = (("M", "CONTACT"), ("X", "SUPPRESS"))  # email-hash keyed items a contact import reads


@dataclass(frozen=True)
class KnownContact:
    """What the table knows about one address: its claimed id, profile and suppression."""

    contact_id: str | None = None
    profile: Mapping[str, Any] | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class RecordedConversion:
    """Whom a conversion id was first attributed to."""

    contact_id: str
    send_id: str


class ConditionFailed(Exception):
    """A write's conditions were not met; `positions` are the operations that failed."""

    def __init__(self, positions: tuple[int, ...]) -> None:
        super().__init__(f"condition failed at {positions}")
        self.positions = positions


class Table:
    """Thin repository over a low-level DynamoDB client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def apply(self, write: Write) -> bool:
        """Apply `write`; False means its conditions found it already applied."""
        try:
            self.run(write)
        except ConditionFailed:
            return False
        return True

    def run(self, write: Write) -> None:
        """Apply `write` or raise `ConditionFailed` naming the operations whose condition failed.

        A write DynamoDB refuses as invalid (a number out of range, an item too large) raises
        `WriteRefused`; anything else AWS raises (throttling, outages) is passed on as is.
        """
        errors = self.client.exceptions
        try:
            if len(write) == 1 and "Put" in write[0]:
                self.client.put_item(TableName=self.name, **write[0]["Put"])
            elif len(write) == 1 and "Update" in write[0]:
                self.client.update_item(TableName=self.name, **write[0]["Update"])
            else:
                items = [
                    {op: {**spec, "TableName": self.name}}
                    for step in write
                    for op, spec in step.items()
                ]
                self.client.transact_write_items(TransactItems=items)
        except errors.ConditionalCheckFailedException as exc:
            raise ConditionFailed((0,)) from exc
        except errors.TransactionCanceledException as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            failed = tuple(i for i, code in enumerate(codes) if code == "ConditionalCheckFailed")
            if failed and all(code in ("None", "ConditionalCheckFailed", None) for code in codes):
                raise ConditionFailed(failed) from exc
            if _REFUSED_IN_TRANSACTION.intersection(codes):
                raise WriteRefused("TransactionCanceledException") from exc
            raise
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in REFUSALS:
                raise WriteRefused(code) from exc
            raise

    def profile(self, contact_id: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self.name, Key=_key(f"C#{contact_id}", "PROFILE"), ConsistentRead=True
        )
        return _plain(found["Item"]) if "Item" in found else None

    def recorded_conversion(self, conversion_id: str) -> RecordedConversion | None:
        found = self.client.get_item(
            TableName=self.name, Key=_key(f"V#{conversion_id}", "CONVERSION"), ConsistentRead=True
        )
        if "Item" not in found:
            return None
        item = _plain(found["Item"])
        return RecordedConversion(str(item["contact_id"]), str(item.get("send_id", "")))

    def profiles(self) -> Iterator[dict[str, Any]]:
        """Every contact profile, page by page (an export reads the whole table once)."""
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.name,
            FilterExpression="SK = :profile",
            ExpressionAttributeValues={":profile": _value("PROFILE")},
        )
        for page in pages:
            yield from (_plain(item) for item in page["Items"])

    def known_contacts(self, email_hashes: Iterable[str]) -> dict[str, KnownContact]:
        """Claim, profile and suppression of each address, in two consistent batch reads."""
        hashes = list(dict.fromkeys(email_hashes))
        found = self.batch_get(
            [_key(f"{prefix}#{h}", sk) for h in hashes for prefix, sk in _LOOKUPS]
        )
        ids = {h: m["contact_id"] for h in hashes if (m := found.get((f"M#{h}", "CONTACT")))}
        profiles = self.batch_get([_key(f"C#{i}", "PROFILE") for i in ids.values()])
        return {
            h: KnownContact(
                contact_id=ids.get(h),
                profile=profiles.get((f"C#{ids[h]}", "PROFILE")) if h in ids else None,
                suppressed=(f"X#{h}", "SUPPRESS") in found,
            )
            for h in hashes
        }

    def claimed_ids(self, email_hashes: Iterable[str]) -> dict[str, str]:
        """The contact id each address is claimed by (addresses nobody holds are left out)."""
        hashes = list(dict.fromkeys(email_hashes))
        found = self.batch_get([_key(f"M#{h}", "CONTACT") for h in hashes])
        return {h: str(m["contact_id"]) for h in hashes if (m := found.get((f"M#{h}", "CONTACT")))}

    def batch_get(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (PK, SK); keys in slices of 100, unprocessed ones retried."""
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request = {self.name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for attempt in itertools.count():
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.name, []):
                    plain = _plain(item)
                    items[(plain["PK"], plain["SK"])] = plain
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: back off, then retry
        return items

    def put_batch(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Put items 25 to a request, unconditionally (only for items whose rewrite is
        harmless); unprocessed items are retried with backoff. Returns the requests made."""
        return self._in_batches({"PutRequest": {"Item": dict(item)}} for item in items)

    def delete_batch(self, keys: Iterable[Mapping[str, Any]]) -> int:
        """Delete the items of `keys` as `put_batch` puts them."""
        return self._in_batches({"DeleteRequest": {"Key": dict(key)}} for key in keys)

    def _in_batches(self, requests: Iterable[dict[str, Any]]) -> int:
        made = 0
        pending: list[dict[str, Any]] = []
        for request in requests:
            pending.append(request)
            if len(pending) == 25:
                made += self._write_batch(pending)
                pending = []
        return made + (self._write_batch(pending) if pending else 0)

    def _write_batch(self, pending: list[dict[str, Any]]) -> int:
        for attempt in itertools.count(1):
            answer = self.client.batch_write_item(RequestItems={self.name: pending})
            pending = answer.get("UnprocessedItems", {}).get(self.name, [])
            if not pending:
                return attempt
            time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: back off, then retry
        raise AssertionError("unreachable")

    def put_profile(self, contact_id: str, attrs: Mapping[str, Scalar]) -> None:
        item = {**_key(f"C#{contact_id}", "PROFILE"), "contact_id": _value(contact_id)}
        item.update({name: _value(v) for name, v in attrs.items()})
        self.client.put_item(TableName=self.name, Item=item)

    def events(self, contact_id: str) -> list[dict[str, Any]]:
        """Every stored event of a contact, oldest first (by `at`: an engagement's key holds
        only its day)."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :ev)",
            ExpressionAttributeValues={":pk": _value(f"C#{contact_id}"), ":ev": _value("EV#")},
            ConsistentRead=True,
        )
        found = [_plain(item) for page in pages for item in page["Items"]]
        return sorted(found, key=lambda e: (str(e.get("at", "")), str(e["SK"])))

    def engagements(self, contact_id: str, kind: str, days: Iterable[str]) -> list[dict[str, Any]]:
        """The contact's opens or clicks (`kind`) on the given UTC days (`2026-03-01`): only
        those days' items are read (`engagement` keys them by day)."""
        found: list[dict[str, Any]] = []
        for day in sorted(set(days)):
            pages = self.client.get_paginator("query").paginate(
                TableName=self.name,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :day)",
                ExpressionAttributeValues={
                    ":pk": _value(f"C#{contact_id}"),
                    ":day": _value(f"EV#{day}#{kind}#"),
                },
                ConsistentRead=True,
            )
            found += [_plain(item) for page in pages for item in page["Items"]]
        return found

    def is_suppressed(self, email: str) -> bool:
        """Whether `email` must never be sent to again (checked before every send)."""
        found = self.client.get_item(
            TableName=self.name,
            Key=_key(f"X#{emails.email_hash(email)}", "SUPPRESS"),
            ConsistentRead=True,
            ProjectionExpression="PK",
        )
        return "Item" in found

    def soft_bounces(self, email_hash: str, since: str) -> int:
        """Transient bounces of an address (one per SES message) at or after `since`."""
        found = self.client.get_item(
            TableName=self.name,
            Key=_key(f"X#{email_hash}", "SOFTBOUNCE"),
            ConsistentRead=True,
            ProjectionExpression="bounce_times",
        )
        times = found.get("Item", {}).get("bounce_times", {}).get("L", [])
        return sum(1 for time_ in times if time_.get("S", "") >= since)

    def create(self) -> None:
        """Create the table with its stream, GSI and TTL (local stack and tests; infra/ in AWS)."""
        strings = [
            {"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GSI1PK", "GSI1SK")
        ]
        self.client.create_table(
            TableName=self.name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=strings,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI1",
                    "KeySchema": [
                        {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                        {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.client.get_waiter("table_exists").wait(TableName=self.name)
        self.client.update_time_to_live(
            TableName=self.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )
