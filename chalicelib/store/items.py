"""The table's item vocabulary: how values, keys and events are written at the lowest level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.store import jsontext

Write = list[dict[str, Any]]
Scalar = str | int | float | Decimal | bool | None

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()
_NUMBERS = (int, float, Decimal)  # tuples: `int | float | Decimal` is built at every call
_SEQUENCES = (list, tuple)
_DOCUMENTS = (Mapping, list, tuple)


@dataclass(frozen=True)
class Event:
    """One engagement or lifecycle event, under its normalised name (`opened`, `clicked`, ...).

    Attributes are scalars; a lifecycle event may also carry documents (maps and lists of
    scalars, such as a score's receipt)."""

    contact_id: str
    type: str
    at: str
    event_id: str
    send_id: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)
    expires_at: int | None = None
    slot: str = ""
    """The time in the sort key when it is not `at`: an engagement's day (see `engagement`)."""


def _put_event(event: Event) -> dict[str, Any]:
    sort_key = f"EV#{event.slot or event.at}#{event.type}#{event.event_id}"
    item = {
        **_key(f"C#{event.contact_id}", sort_key),
        "type": _value(event.type),
        "contact_id": _value(event.contact_id),
        "at": _value(event.at),
        "event_id": _value(event.event_id),
    }
    if event.send_id:
        item["send_id"] = _value(event.send_id)
    if event.expires_at is not None:
        item["ttl"] = _value(event.expires_at)
    for name, value in event.attrs.items():
        if type(value) is str:  # most attributes (verdicts, reasons, links): the cheap test first
            item[name] = {"S": value}
        elif isinstance(value, _DOCUMENTS):
            item[name] = _serializer.serialize(_listed(value))
        elif value is not None:
            item[name] = _value(value)
    return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}


def _listed(value: Any) -> Any:
    """A document with tuples as lists and None left out of maps (what DynamoDB stores)."""
    if isinstance(value, Mapping):
        return {str(k): _listed(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_listed(v) for v in value]
    return value


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _value(value: Scalar) -> dict[str, Any]:
    """Low-level attribute value; written by hand because it is on the hot path."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, _NUMBERS):
        return {"N": str(value)}
    return {"S": value}


def _document(value: Any) -> dict[str, Any]:
    """A JSON-like value (maps, lists, text, numbers, flags, null) as a low-level attribute."""
    if isinstance(value, Mapping):
        return {"M": {str(k): _document(v) for k, v in value.items()}}
    if isinstance(value, _SEQUENCES):
        return {"L": [_document(v) for v in value]}
    return _value(value)


def _strings(values: Iterable[str]) -> dict[str, Any]:
    return {"SS": sorted(values)}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return readable({name: _deserializer.deserialize(value) for name, value in item.items()})


def readable(values: dict[str, Any]) -> dict[str, Any]:
    """An item's deserialised values (read, or a stream image) as the code reads them: a product
    event's properties, stored as JSON text (`jsontext`), as their document. Events stored
    before kept them as a map, read as is."""
    properties = values.get("properties")
    if type(properties) is str:
        values["properties"] = jsontext.document(properties)
    return values
