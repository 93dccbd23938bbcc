"""When a failed delivery is tried again: exponential steps with jitter, about 24 hours in all.

Attempt 1 goes at once; after a failure the next waits 1m, 5m, 15m, 30m, 1h, 2h, 4h, 8h, 8h
(each ±15%, then rounded up to the retry bucket's minute), so ten attempts span about 24 h.
The jitter is drawn from the delivery's id and attempt: reproducible, yet spread out, so an
endpoint coming back is not hit by every retry in the same second.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from chalicelib.localtime import ceil_minute

__all__ = ["MAX_ATTEMPTS", "STEPS", "next_attempt"]

STEPS = tuple(timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240, 480, 480))
MAX_ATTEMPTS = len(STEPS) + 1
JITTER = 0.15


def next_attempt(key: str, attempts_made: int, now: datetime) -> datetime | None:
    """The minute of the next attempt after `attempts_made` failed ones, or None: give up."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    step = STEPS[attempts_made - 1]
    digest = hashlib.sha256(f"{key}#{attempts_made}".encode()).digest()
    spread = (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF * 2 - 1) * JITTER
    return ceil_minute(now + step * (1 + spread))
