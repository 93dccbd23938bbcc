"""JSON documents from the outside (request bodies, JSON Lines rows), read one strict way.

Strict UTF-8; floats as exact Decimals; integers past 38 digits as Decimals too, so the field's
own check can name the problem; `NaN` and `Infinity` refused; nesting deeper than the parser
can follow refused; and text with a lone UTF-16 surrogate (`"\\ud800"`), which no store or
encoder downstream accepts, refused. Every problem is an `InvalidInput` naming the field.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from chalicelib.errors import InvalidInput

__all__ = ["parse"]

_LONG_INT = 38
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _integer(text: str) -> int | Decimal:
    """An int; a Decimal past 38 digits, or for `-0` (which an int cannot tell from 0)."""
    return int(text) if len(text.lstrip("-")) <= _LONG_INT and text != "-0" else Decimal(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_integer, parse_constant=_no_constants)
"""Made once: `json.loads` with hooks builds a new decoder on every call."""


def parse(data: bytes | str, field: str = "body") -> Any:
    """The JSON value in `data`, or `InvalidInput(field, ...)`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InvalidInput(field, "is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise InvalidInput(field, "is not valid JSON (it starts with a byte order mark)")
    try:
        doc = _DECODER.decode(text)
    except RecursionError:
        raise InvalidInput(field, "is nested too deeply") from None
    except ValueError as exc:
        raise InvalidInput(field, f"is not valid JSON ({exc})") from None
    if "\\u" in text and _ESCAPED_SURROGATE.search(text):  # the cheap test first
        try:
            json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(field, "holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
    return doc
