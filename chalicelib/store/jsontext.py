"""Documents stored as one attribute of JSON text, numbers spelt exactly.

A product event's properties are stored this way rather than as a DynamoDB map: one text
attribute costs a fraction of a nested map's CPU to validate and serialise in botocore (they
are written on the hot path of `POST /api/events`, benchmarks/hot_path.py), keeps lists, maps,
text, flags and null as sent, and every number to its last digit. Read back, numbers are
Decimals, as a DynamoDB map's would be.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["DECIMALS", "document", "text"]

DECIMALS = json.JSONDecoder(parse_int=Decimal, parse_float=Decimal)
"""JSON text to values with every number a Decimal (made once: `json.loads` with hooks builds a
decoder per call)."""

_quoted = json.encoder.encode_basestring  # text as a JSON string, unescaped beyond JSON's need
_LITERALS = {True: "true", False: "false", None: "null"}


def text(value: Any) -> str:
    """`value` (maps, lists, text, ints, Decimals, flags, null) as compact JSON text. A Decimal
    is written as its own digits: JSON's encoder knows no Decimal, and a float would round."""
    kind = type(value)
    if kind is str:
        return _quoted(value)
    if kind is dict or isinstance(value, Mapping):
        return "{" + ",".join(f"{_quoted(str(k))}:{text(v)}" for k, v in value.items()) + "}"
    if kind is int or kind is Decimal:
        if kind is Decimal and not value.is_finite():
            raise ValueError(f"{value} is not a number JSON can hold")
        return str(value)
    if kind is list or kind is tuple:
        return "[" + ",".join(text(v) for v in value) + "]"
    if kind is bool or value is None:
        return _LITERALS[value]
    if kind is float:
        return json.dumps(value, allow_nan=False)
    raise TypeError(f"{kind.__name__} is not a JSON value")


def document(stored: str) -> Any:
    """The value `text` wrote."""
    return DECIMALS.decode(stored)
