"""Who gets what, reproducibly from the contact id: the same contact always lands in the same
group of a sequence's holdout (as in the same A/B variant of a step, see `compose.choose`)."""

from __future__ import annotations

import hashlib

__all__ = ["GROUPS", "group_of", "held_out"]

GROUPS = ("treated", "held")


def held_out(contact_id: str, sequence_id: str, share: int | None) -> bool:
    """Whether the contact is in the `share` percent of the sequence's holdout."""
    if not share:
        return False
    seed = f"{contact_id}\x1f{sequence_id}\x1fholdout".encode()
    return int(hashlib.sha256(seed).hexdigest()[:8], 16) % 100 < share


def group_of(held: bool) -> str:
    return GROUPS[1] if held else GROUPS[0]
