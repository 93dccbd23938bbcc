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

__all__ = ["inactivity_write", "summary_applied", "summary_write"]

_serializer = TypeSerializer()
SEQ_DIGITS = 40


def summary_write(
    contact_id: str,
    fields: Mapping[str, Any],
    sequence_number: str,
    events: Sequence[Event] = (),
    read: tuple[str, str | None] | None = None,
) -> Write:
    """Set `fields` (plain values; None or an empty set removes the field) unless a record at
    or after `sequence_number` was applied already, and store `events` with it.

    `read` is (a map field, the `at` it held when read; None: it did not exist): the write
    then also requires that the map has not been written since (a score another writer
    moved on meanwhile)."""
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
    condition = "attribute_exists(PK) AND (attribute_not_exists(summary_seq) OR summary_seq < :seq)"
    if read is not None:
        names["#read"] = read[0]
        if read[1] is None:
            condition += " AND attribute_not_exists(#read)"
        else:
            names["#at"], values[":read"] = "at", _value(read[1])
            condition += " AND #read.#at = :read"
    spec: dict[str, Any] = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if names:
        spec["ExpressionAttributeNames"] = names
    return [{"Update": spec}, *(_put_event(event) for event in events)]


def summary_applied(profile: Mapping[str, Any] | None, sequence_number: str) -> bool:
    """Whether the record `sequence_number` (or a later one) is applied to a stored profile
    (a write that failed its conditions: a redelivery, or a race to retry)."""
    if profile is None:
        return True
    return str(profile.get("summary_seq") or "") >= sequence_number.zfill(SEQ_DIGITS)


def inactivity_write(contact_id: str, expected: str, due: str | None) -> Write:
    """Move the contact's pending inactivity check from minute `expected` to `due` (None: no
    check pending); a check superseded meanwhile is left alone."""
    update: dict[str, Any] = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": "SET inactive_at = :due" if due else "REMOVE inactive_at",
        "ConditionExpression": "inactive_at = :expected",
        "ExpressionAttributeValues": {":expected": _value(expected)},
    }
    if due:
        update["ExpressionAttributeValues"][":due"] = _value(due)
    return [{"Update": update}]
