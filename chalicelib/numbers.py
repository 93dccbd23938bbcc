"""Numbers DynamoDB can store, checked at the edge so a value it would refuse never gets further
(not to a write, not to the park queue).

DynamoDB keeps up to 38 significant digits and magnitudes from 1E-130 to
9.9999999999999999999999999999999999999E+125 (and zero); no NaN or infinity.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["MAX_DIGITS", "MAX_EXPONENT", "MIN_EXPONENT", "money", "storable"]

MAX_DIGITS = 38
MIN_EXPONENT = -130
MAX_EXPONENT = 125
_WHOLE_LIMIT = 10**MAX_DIGITS
_NUMBERS = (int, float, Decimal)  # a tuple: `int | float | Decimal` is built at every call


def storable(value: object) -> Decimal:
    """`value` (an int, a float or a Decimal, never a bool) as a Decimal DynamoDB stores
    exactly; `ValueError` saying why not otherwise."""
    if type(value) is int and -_WHOLE_LIMIT < value < _WHOLE_LIMIT:
        return Decimal(value)  # at most 38 digits: always storable
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number (no NaN or Infinity)")
    if number.is_zero():
        return number
    digits = number.as_tuple().digits
    if len(digits) > MAX_DIGITS and len("".join(map(str, digits)).strip("0")) > MAX_DIGITS:
        raise ValueError(f"has more than {MAX_DIGITS} significant digits")
    if not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise ValueError("is outside the storable range 1E-130 to 9.99E+125")
    return number


def money(value: object, ceiling: Decimal) -> Decimal:
    """A storable amount from 0 up to (not including) `ceiling`; `-0` is refused too."""
    number = storable(value)
    if number.is_signed() or number >= ceiling:
        raise ValueError(f"must be a number from 0 to less than {ceiling:,}")
    return number
