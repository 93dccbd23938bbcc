"""Email identity: the one rule for when two spellings are the same address, and its hash."""

from __future__ import annotations

import hashlib


def identity(email: str) -> str:
    """The address trimmed and fully lower-cased, so `Ann@X.com ` and `ann@x.com` are one."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """The key an address is looked up and suppressed by (sha256 hex of its identity)."""
    return hashlib.sha256(identity(email).encode()).hexdigest()
