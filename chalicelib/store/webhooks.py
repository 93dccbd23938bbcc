"""Webhook subscriptions' signing secrets and endpoint health (the subscriptions file itself is
a versioned model, see `versions`; deliveries are in `deliveries`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.store.items import _key, _plain, _value
from chalicelib.store.table import Table


@dataclass(frozen=True)
class Secret:
    value: str
    created_at: str


@dataclass(frozen=True)
class Health:
    """How an endpoint has been answering; `failing_since` is cleared by a success."""

    webhook_id: str
    failing_since: str | None = None
    last_failure_at: str | None = None
    last_error: str | None = None
    last_success_at: str | None = None
    disabled_at: str | None = None


class Webhooks:
    """Each subscription's secrets and health, under `WH#{id}`."""

    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    # --- secrets ----------------------------------------------------------------------------

    def secrets(self, webhook_id: str) -> list[Secret]:
        """Newest first; every listed secret signs each delivery (receivers verify any)."""
        found = self._get(f"WH#{webhook_id}", "SECRETS")
        listed = found.get("secrets", []) if found else []
        return [Secret(s["value"], s["created_at"]) for s in listed]

    def add_secret(self, webhook_id: str, secret: Secret, *, first: bool) -> bool:
        """The first secret of a subscription (False if it has one) or a rotation's new one."""
        entry = {"M": {"value": _value(secret.value), "created_at": _value(secret.created_at)}}
        if first:
            item = {**_key(f"WH#{webhook_id}", "SECRETS"), "secrets": {"L": [entry]}}
            return self._table.apply(
                [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]
            )
        update = {
            "Key": _key(f"WH#{webhook_id}", "SECRETS"),
            "UpdateExpression": "SET secrets = list_append(:new, secrets)",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":new": {"L": [entry]}},
        }
        return self._table.apply([{"Update": update}])

    def keep_newest_secret(self, webhook_id: str, newest: Secret) -> bool:
        """Retire every secret but `newest`, unless another rotation came in between."""
        entry = {"M": {"value": _value(newest.value), "created_at": _value(newest.created_at)}}
        update = {
            "Key": _key(f"WH#{webhook_id}", "SECRETS"),
            "UpdateExpression": "SET secrets = :only",
            "ConditionExpression": "secrets[0].#value = :newest",
            "ExpressionAttributeNames": {"#value": "value"},
            "ExpressionAttributeValues": {":only": {"L": [entry]}, ":newest": _value(newest.value)},
        }
        return self._table.apply([{"Update": update}])

    # --- health -----------------------------------------------------------------------------

    def health(self, webhook_id: str) -> Health:
        return _health(webhook_id, self._get(f"WH#{webhook_id}", "HEALTH") or {})

    def note_failure(self, webhook_id: str, at: str, error: str) -> Health:
        """Record a failed attempt; returns the health after it (when did failing start)."""
        answer = self.client.update_item(
            TableName=self._table.name,
            Key=_key(f"WH#{webhook_id}", "HEALTH"),
            UpdateExpression="SET failing_since = if_not_exists(failing_since, :at), "
            "last_failure_at = :at, last_error = :error",
            ExpressionAttributeValues={":at": _value(at), ":error": _value(error)},
            ReturnValues="ALL_NEW",
        )
        return _health(webhook_id, _plain(answer["Attributes"]))

    def note_success(self, webhook_id: str, at: str) -> None:
        """Clear a failing streak; written only when there is one (no hot item per delivery)."""
        self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"WH#{webhook_id}", "HEALTH"),
                        "UpdateExpression": "SET last_success_at = :at REMOVE failing_since",
                        "ConditionExpression": "attribute_exists(failing_since)",
                        "ExpressionAttributeValues": {":at": _value(at)},
                    }
                }
            ]
        )

    def disable(self, webhook_id: str, at: str) -> bool:
        """Disable a failing endpoint once; False when it already was."""
        return self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"WH#{webhook_id}", "HEALTH"),
                        "UpdateExpression": "SET disabled_at = :at",
                        "ConditionExpression": "attribute_not_exists(disabled_at)",
                        "ExpressionAttributeValues": {":at": _value(at)},
                    }
                }
            ]
        )

    def enable(self, webhook_id: str) -> bool:
        """Enable a disabled endpoint and forget its failing streak; False if it was enabled."""
        return self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"WH#{webhook_id}", "HEALTH"),
                        "UpdateExpression": "REMOVE disabled_at, failing_since",
                        "ConditionExpression": "attribute_exists(disabled_at)",
                    }
                }
            ]
        )

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=_key(pk, sk), ConsistentRead=True
        )
        return _plain(found["Item"]) if "Item" in found else None


def _health(webhook_id: str, item: Mapping[str, Any]) -> Health:
    return Health(
        webhook_id,
        item.get("failing_since"),
        item.get("last_failure_at"),
        item.get("last_error"),
        item.get("last_success_at"),
        item.get("disabled_at"),
    )
