"""Contacts as people name them: by contact id, or by email address.

The one place the CLI and the API turn a name into a contact id. An address is looked up
through the claim its import wrote, so ` Ann@Example.COM` finds the contact imported as
`ann@example.com`. On the command line a name with an `@` is an address (generated contact
ids never hold one); the API names the field (`contact_id` or `email`).
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.emails import hash_identity, normalise_email
from chalicelib.errors import ContactNotFound, InvalidInput
from chalicelib.store import Table

__all__ = ["by_email", "contact_id", "contact_ids", "is_email"]


def is_email(name: str) -> bool:
    return "@" in name


def contact_ids(table: Table, names: Iterable[str]) -> dict[str, str | None]:
    """The contact id each name stands for: ids as given, addresses looked up in one batch
    (None for an address no contact holds, or one that is not an address at all)."""
    names = list(dict.fromkeys(names))
    hashes = {name: _hash(name) for name in names if is_email(name)}
    claimed = table.claimed_ids(h for h in hashes.values() if h is not None)
    found: dict[str, str | None] = {}
    for name in names:
        digest = hashes.get(name)
        found[name] = name if not is_email(name) else claimed.get(digest) if digest else None
    return found


def contact_id(table: Table, name: str, field: str = "contact") -> str:
    """The contact id of one name; an address no contact holds is `ContactNotFound`."""
    return by_email(table, name, field) if is_email(name) else name


def by_email(table: Table, email: str, field: str = "email") -> str:
    """The contact id of the contact holding `email`."""
    try:
        identity = normalise_email(email)[1]
    except ValueError as exc:
        raise InvalidInput(field, f"{email!r} is not an email address: {exc}") from None
    digest = hash_identity(identity)
    found = table.claimed_ids([digest]).get(digest)
    if found is None:
        raise ContactNotFound(f"{field}: no contact with the address {email!r}")
    return found


def _hash(email: str) -> str | None:
    try:
        return hash_identity(normalise_email(email)[1])
    except ValueError:
        return None
