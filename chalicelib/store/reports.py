"""Funnel counters: per (sequence, step), sharded, each send counted once per metric.

A guard item under the send (`S#{send}` / `U#{metric}`) and the counter increment are one
transaction, so a redelivered stream record never counts twice. Counters are spread over
shards so a large send does not make one partition hot; a report sums the shards.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from chalicelib.store.items import Write, _key, _plain, _value
from chalicelib.store.table import Table

SHARDS = 8


def count_once_write(send_id: str, metric: str, sequence_id: str, step_id: str) -> Write:
    shard = int(hashlib.sha256(send_id.encode()).hexdigest()[:4], 16) % SHARDS
    return [
        {
            "Put": {
                "Item": _key(f"S#{send_id}", f"U#{metric}"),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        {
            "Update": {
                "Key": _key(f"R#{sequence_id}", f"N#{step_id}#{shard}"),
                "UpdateExpression": "ADD #metric :one SET step_id = :step",
                "ExpressionAttributeNames": {"#metric": metric},
                "ExpressionAttributeValues": {":one": _value(1), ":step": _value(step_id)},
            }
        },
    ]


class Reports:
    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def funnel(self, sequence_id: str) -> dict[str, dict[str, int]]:
        """Metric totals by step id, summed over the shards."""
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(f"R#{sequence_id}")},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                row: dict[str, Any] = _plain(item)
                step = row.pop("step_id")
                for metric, count in row.items():
                    if metric not in ("PK", "SK"):
                        totals[step][metric] += int(count)
        return {step: dict(metrics) for step, metrics in totals.items()}
