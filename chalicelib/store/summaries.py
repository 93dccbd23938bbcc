"""The behaviour summary on a contact's profile: one conditional update per stream record.

`summary_seq` is the stream sequence number of the last record applied to the contact (left
padded to 40 digits, so text order is number order): a redelivered record finds it applied
and writes nothing. Lifecycle events the update causes (a stage change, a segment entered)
go in the same transaction, so they exist exactly when the summary says they happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.store.items import Event, Write, _key, _put_event, _value

__all__ = ["summary_write"]

_serializer = TypeSerializer()
SEQ_DIGITS = 40


def summary_write(
    contact_id: str,
    fields: Mapping[str, Any],
    sequence_number: str,
    events: Sequence[Event] = (),
) -> Write:
    """Set `fields` (plain values; None or an empty set removes the field) unless a record at
    or after `sequence_number` was applied already, and store `events` with it."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":seq": _value(sequence_number.zfill(SEQ_DIGITS))}
    sets, removes = ["summary_seq = :seq"], []
    for n, (name, value) in enumerate(sorted(fields.items())):
        names[f"#f{n}"] = name
        if value is None or (isinstance(value, set | frozenset) and not value):
            removes.append(f"#f{n}")
        else:
            plain = set(value) if isinstance(value, frozenset) else value
            values[f":f{n}"] = _serializer.serialize(plain)
            sets.append(f"#f{n} = :f{n}")
    expression = "SET " + ", ".join(sets) + (f" REMOVE {', '.join(removes)}" if removes else "")
    spec: dict[str, Any] = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(PK) AND "
        "(attribute_not_exists(summary_seq) OR summary_seq < :seq)",
        "ExpressionAttributeValues": values,
    }
    if names:
        spec["ExpressionAttributeNames"] = names
    return [{"Update": spec}, *(_put_event(event) for event in events)]
