"""GDPR: everything stored about a contact (access, Art. 15) and its erasure (Art. 17).

An erasure removes the contact's partition (profile, events, enrollments, caps and anything
else stored under the contact), its pending timers, the address claim and soft-bounce record,
and the personal fields of its send records (the counted facts stay, so reports do not change).
The address is kept only as a suppression hash, so a later import or send cannot re-subscribe
it. The erasure is audited by contact id and principal, never by address.

Order makes a crash safe to repeat: audit, suppress, strip sends, drop timers, the partition
except the profile, the claim, and the profile last; rerunning an interrupted erasure finds the
profile and does the rest again (every step is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib import emails, store
from chalicelib.errors import ContactNotFound
from chalicelib.people.view import View, plain
from chalicelib.stamps import iso

__all__ = ["Gdpr"]


@dataclass
class Gdpr:
    view: View
    pending_minutes: Callable[[], Iterable[str]]
    """Due-bucket minutes that will still fire (where the contact's timers may wait)."""
    clock: Callable[[], float] = time.time

    @property
    def people(self) -> store.People:
        return self.view.people

    def export(self, contact_id: str) -> dict[str, Any]:
        """Every item stored about the contact, as JSON-ready data."""
        items = list(self.people.partition(contact_id))
        profile = next((i.attrs for i in items if i.kind == "profile"), None)
        if profile is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        events = [i.attrs for i in items if i.kind == "event"]
        sends = self.view.sends(contact_id, _send_ids(events))
        email = profile.get("email")
        suppression = self.people.suppression(emails.email_hash(email)) if email else None
        timers = self.people.timers(contact_id, self.pending_minutes())
        return {
            "contact_id": contact_id,
            "exported_at": iso(self.clock()),
            "profile": _exported(profile),
            "enrollments": [_exported(i.attrs) for i in items if i.kind == "enrollment"],
            "events": [_exported(e) for e in events],
            "frequency_caps": [_exported(i.attrs) for i in items if i.kind == "cap"],
            "other": [_exported(i.attrs) for i in items if i.kind == "other"],
            "sends": [_exported(s) for _, s in sorted(sends.items())],
            "pending_timers": [_exported(t.attrs) for t in timers],
            "suppression": _exported(suppression) if suppression else None,
        }

    def erase(self, contact_id: str, principal: str) -> dict[str, Any]:
        """Erase the contact (see the module text); `ContactNotFound` when nothing is stored."""
        items = list(self.people.partition(contact_id))
        profiles = [i for i in items if i.kind == "profile"]
        if not items:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        at = iso(self.clock())
        self.people.audit_erasure(contact_id, at, principal)
        email = str(profiles[0].attrs.get("email") or "") if profiles else ""
        hashed = emails.email_hash(email) if email else ""
        if hashed:
            self.view.table.apply(store.suppression_write(hashed, "erased", at, ""))
        events = [i.attrs for i in items if i.kind == "event"]
        sends = self.view.sends(contact_id, _send_ids(events))
        for send_id in sorted(sends):
            self.people.strip_send(send_id, at)
        removed = self.people.delete(self.people.timers(contact_id, self.pending_minutes()))
        removed += self.people.delete(i for i in items if i.kind != "profile")
        if hashed:
            self.people.forget_address(hashed, contact_id)
        removed += self.people.delete(profiles)
        self.people.finish_erasure(contact_id, at, iso(self.clock()), removed)
        return {
            "contact_id": contact_id,
            "erased_at": at,
            "items_removed": removed,
            "sends_stripped": len(sends),
            "suppressed": bool(hashed),
        }


def _send_ids(events: Iterable[Any]) -> list[str]:
    return [str(e["send_id"]) for e in events if e.get("send_id")]


def _exported(item: Any) -> Any:
    """Stored attributes as JSON; the export shows the contact everything, ids included."""
    return {name: plain(value) for name, value in item.items()}
