"""Stream changes become outbound events: pure, so a redelivered record gives the same event.

- a stored event item (`opened`, `clicked`, `converted`, `bounced`, ... and any type a later
  feature stores) when it is inserted;
- a send becoming `sent` (nurture's own record of SES accepting it);
- an enrollment starting (`enrolled`) or ending (`exited`, `goal_reached`, `completed`).

The id is derived from what the record identifies, never from when it was seen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.outbound.catalogue import CATALOGUE
from chalicelib.store import Change, SendOrigin

__all__ = ["Origin", "OutboundEvent", "event_id", "from_change"]

Origin = Callable[[str], SendOrigin | None]
"""Which sequence step a send belongs to (a read; only called for events of a send)."""

SES_SENT = "sent"  # SES's own `Send` event: `sent` is published from nurture's send record
ENDINGS = {"exited": "exited", "goal_reached": "goal_reached", "completed": "completed"}


@dataclass(frozen=True)
class OutboundEvent:
    type: str
    id: str
    time: str
    contact_id: str
    sequence_id: str | None = None
    step_id: str | None = None
    send_id: str | None = None
    test: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    def document(self, email: str | None = None) -> dict[str, Any]:
        """The published JSON document; the email only when given (a subscription asked)."""
        contact: dict[str, Any] = {"id": self.contact_id}
        if email:
            contact["email"] = email
        return {
            "type": self.type,
            "id": self.id,
            "time": self.time,
            "contact": contact,
            "sequence": {"id": self.sequence_id, "step": self.step_id}
            if self.sequence_id
            else None,
            "send": {"id": self.send_id, "test": self.test} if self.send_id else None,
            "data": dict(self.data),
        }

    def body(self, email: str | None = None) -> str:
        return json.dumps(self.document(email), separators=(",", ":"), ensure_ascii=False)


def event_id(*parts: object) -> str:
    seed = "\x1f".join(str(part) for part in parts)
    return "evt_" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


def from_change(change: Change, origin: Origin) -> OutboundEvent | None:
    """The outbound event a change means, or None."""
    if change.kind == "event" and change.action == "INSERT":
        return _stored_event(change.new, origin)
    if change.kind == "send" and change.action == "MODIFY":
        return _sent(change.new, change.old)
    if change.kind == "enrollment" and change.action in ("INSERT", "MODIFY"):
        return _enrollment(change.new, change.old)
    return None


def _stored_event(item: Mapping[str, Any], origin: Origin) -> OutboundEvent | None:
    kind = str(item.get("type", ""))
    if kind not in CATALOGUE or kind == SES_SENT:
        return None
    contact, send_id = str(item.get("contact_id", "")), str(item.get("send_id", ""))
    found = origin(send_id) if send_id else None
    sequence = item.get("sequence_id") or (found.sequence_id if found else None)
    step = item.get("step_id") or (found.step_id if found else None)
    return OutboundEvent(
        kind,
        event_id(kind, contact, item.get("at"), item.get("event_id")),
        str(item.get("at", "")),
        contact,
        str(sequence) if sequence else None,
        str(step) if step else None,
        send_id or None,
        found is not None and found.run == 0,
        _data(kind, item),
    )


def _sent(new: Mapping[str, Any], old: Mapping[str, Any]) -> OutboundEvent | None:
    if new.get("status") != "sent" or old.get("status") == "sent":
        return None
    send_id = str(new.get("send_id", ""))
    return OutboundEvent(
        "sent",
        event_id("sent", send_id),
        str(new.get("sent_at") or new.get("claimed_at", "")),
        str(new.get("contact_id", "")),
        _text(new.get("sequence_id")),
        _text(new.get("step_id")),
        send_id,
        int(new.get("run", 0)) == 0,
        _data("sent", new),
    )


def _enrollment(new: Mapping[str, Any], old: Mapping[str, Any]) -> OutboundEvent | None:
    run, status = int(new.get("run", 0)), new.get("status")
    contact, sequence = str(new.get("contact_id", "")), str(new.get("sequence_id", ""))
    if status == "active" and (not old or int(old.get("run", 0)) != run):
        kind, at = "enrolled", new.get("enrolled_at")
    elif status in ENDINGS and old.get("status") == "active" and int(old.get("run", 0)) == run:
        kind, at = ENDINGS[str(status)], new.get("ended_at")
    else:
        return None
    return OutboundEvent(
        kind,
        event_id(kind, contact, sequence, run),
        str(at or ""),
        contact,
        sequence,
        _text(new.get("step_id")),
        _text(new.get("send_id")),
        False,
        _data(kind, {**new, "reason": new.get("end_reason")}),
    )


def _data(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    plain = {name: _plain(value) for name, value in item.items()}
    return CATALOGUE[kind].model_validate(plain).model_dump(mode="json", by_alias=True)


def _plain(value: Any) -> Any:
    """Stored numbers come back as Decimal; whole ones become int, money stays exact text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, set):
        return sorted(value)
    return value


def _text(value: Any) -> str | None:
    return str(value) if value else None
