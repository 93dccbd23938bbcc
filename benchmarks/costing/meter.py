"""A meter on botocore: every AWS call a handler makes, what DynamoDB charges for it, the CPU of
our own code and the bytes it logs, per Lambda invocation.

Hooks go into botocore's built-in handlers, so every client created afterwards is metered
(moto is hooked the same way). Item sizes follow DynamoDB's rules: attribute names plus values,
numbers about one byte per two digits; writes are charged per started KB of the larger of the
old and new item (a failed condition still pays for the existing item), transactional writes
twice, and every global secondary index the old or new item is in pays for its copy (two writes
when the index key changes). Reads: per started 4 KB, half for eventually consistent reads.
The item before and after a write is read straight from moto's backend, outside botocore.
"""

from __future__ import annotations

import base64
import io
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers

Item = Mapping[str, Any]
WRITES = ("PutItem", "UpdateItem", "DeleteItem")


@dataclass
class Call:
    service: str
    operation: str
    wru: float = 0.0
    rru: float = 0.0
    failed: str = ""


@dataclass
class Invocation:
    function: str
    cpu_seconds: float = 0.0
    log_bytes: int = 0
    calls: list[Call] = field(default_factory=list)

    @property
    def operations(self) -> Counter[str]:
        return Counter(f"{c.service}.{c.operation}" for c in self.calls)


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (wire format)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits.rstrip("0") or "0") / 2) + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


class _CountingStream(io.TextIOBase):
    """stdout/stderr as Lambda sees them: every byte written during an invocation is logged."""

    def __init__(self, meter: Meter, inner: Any) -> None:
        self.meter, self.inner = meter, inner

    def write(self, text: str) -> int:
        if self.meter.current is not None:
            self.meter.current.log_bytes += len(text.encode())
        return int(self.inner.write(text))

    def flush(self) -> None:
        self.inner.flush()


class Meter:
    """Install before any boto3 client is created, inside moto's mock."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.current: Invocation | None = None
        self.done: list[Invocation] = []
        self._excluded = 0.0  # CPU of moto and of this meter inside an invocation
        self._moto_started = 0.0
        self._gsis: dict[str, list[tuple[str, ...]]] = {}

    def install(self) -> None:
        botocore.handlers.BUILTIN_HANDLERS.extend(
            [
                ("provide-client-params", self._before),
                ("after-call", self._after),
                ("before-send", self._moto_start, botocore.handlers.REGISTER_FIRST),
                ("before-parse", self._moto_end),
            ]
        )
        sys.stdout = _CountingStream(self, sys.stdout)  # type: ignore[assignment]
        sys.stderr = _CountingStream(self, sys.stderr)  # type: ignore[assignment]

    @contextmanager
    def invocation(self, function: str) -> Iterator[Invocation]:
        """Meter one Lambda invocation of `function`."""
        record = Invocation(function)
        self.current, self._excluded = record, 0.0
        start = time.process_time()
        try:
            yield record
        finally:
            record.cpu_seconds = max(0.0, time.process_time() - start - self._excluded)
            self.current = None
            self.done.append(record)

    def take(self) -> list[Invocation]:
        done, self.done = self.done, []
        return done

    # --- botocore hooks ---------------------------------------------------------------------

    def _moto_start(self, **_: Any) -> None:
        self._moto_started = time.process_time()

    def _moto_end(self, **_: Any) -> None:
        if self.current is not None and self._moto_started:
            self._excluded += time.process_time() - self._moto_started
        self._moto_started = 0.0

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if self.current is None:
            return
        started = time.process_time()
        service = model.service_model.service_id.hyphenize()
        context["meter"] = (
            service,
            model.name,
            params,
            self._images_before(service, model.name, params),
        )
        self._excluded += time.process_time() - started

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        pending = context.pop("meter", None)
        if self.current is None or pending is None:
            return
        started = time.process_time()
        service, operation, params, before = pending
        call = Call(service, operation, failed=parsed.get("Error", {}).get("Code", ""))
        if service == "dynamodb":
            self._charge(call, params, parsed, before)
        self.current.calls.append(call)
        self._excluded += time.process_time() - started

    # --- DynamoDB capacity ------------------------------------------------------------------

    def _backend(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account][self.region]

    def _peek(self, table: str, key: Item) -> dict[str, Any] | None:
        item = self._backend().get_item(table, dict(key))
        return item.to_json()["Attributes"] if item is not None else None

    def _key_of(self, table: str, item: Item) -> dict[str, Any]:
        schema = self._backend().get_table(table).schema
        return {k["AttributeName"]: item[k["AttributeName"]] for k in schema}

    def _writes(self, operation: str, params: Mapping[str, Any]) -> list[tuple[str, Item, bool]]:
        """(table, key, transactional) of every item a write request touches."""
        if operation in WRITES:
            key = params.get("Key") or self._key_of(params["TableName"], params["Item"])
            return [(params["TableName"], key, False)]
        if operation == "TransactWriteItems":
            found = []
            for action in params["TransactItems"]:
                ((_, spec),) = action.items()
                key = spec.get("Key") or self._key_of(spec["TableName"], spec["Item"])
                found.append((spec["TableName"], key, True))
            return found
        if operation == "BatchWriteItem":
            found = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    put = request.get("PutRequest")
                    key = (
                        self._key_of(table, put["Item"]) if put else request["DeleteRequest"]["Key"]
                    )
                    found.append((table, key, False))
            return found
        return []

    def _images_before(self, service: str, operation: str, params: Mapping[str, Any]) -> list[Any]:
        if service != "dynamodb":
            return []
        return [self._peek(t, k) for t, k, _ in self._writes(operation, params)]

    def _charge(
        self, call: Call, params: Mapping[str, Any], parsed: Mapping[str, Any], before: list[Any]
    ) -> None:
        operation = call.operation
        writes = self._writes(operation, params)
        if writes:
            applied = not call.failed
            for (table, key, transactional), old in zip(writes, before, strict=True):
                new = self._peek(table, key) if applied else old
                units = write_units(max(item_size(old), item_size(new)))
                call.wru += units * (2 if transactional else 1)
                if applied:
                    call.wru += self._index_units(table, old, new)
            return
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            call.rru += read_units(
                item_size(self._peek(params["TableName"], params["Key"])), consistent
            )
        elif operation == "BatchGetItem":
            for table, spec in params["RequestItems"].items():
                for key in spec["Keys"]:
                    call.rru += read_units(
                        item_size(self._peek(table, key)), bool(spec.get("ConsistentRead"))
                    )
        elif operation in ("Query", "Scan"):
            size = sum(self._stored_size(params["TableName"], i) for i in parsed.get("Items", []))
            call.rru += read_units(size, consistent and "IndexName" not in params)

    def _stored_size(self, table: str, item: Item) -> int:
        """Reads are charged for the whole stored item, whatever the projection returned."""
        try:
            return item_size(self._peek(table, self._key_of(table, item)) or item)
        except KeyError:
            return item_size(item)

    def _index_units(self, table: str, old: Item | None, new: Item | None) -> int:
        units = 0
        for keys in self._indexes(table):
            was = old is not None and all(k in old for k in keys)
            now = new is not None and all(k in new for k in keys)
            if not (was or now):
                continue
            if was and now and any(old[k] != new[k] for k in keys):
                units += write_units(item_size(old)) + write_units(item_size(new))
            elif was != now or old != new:
                units += write_units(item_size(new if now else old))
        return units

    def _indexes(self, table: str) -> list[tuple[str, ...]]:
        """Key attributes of each global secondary index (every projection is ALL here)."""
        if table not in self._gsis:
            indexes = self._backend().get_table(table).global_indexes
            self._gsis[table] = [tuple(k["AttributeName"] for k in gsi.schema) for gsi in indexes]
        return self._gsis[table]
