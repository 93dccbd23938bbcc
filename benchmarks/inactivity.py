"""Inactivity triggers without a daily scan: what tracking inactivity writes.

A year is played on in-process moto with a simulated clock: 100 contacts who open an email
every week, 100 who open three times and then go quiet, and 800 who never engage. One
sequence starts on `inactive: {no_human_engagement: 90d}`. Every DynamoDB write is counted:
the summary update each human engagement makes anyway (the last engagement time rides in it),
and what inactivity adds (arming a check timer, re-arming it when it fires after the contact
engaged again, the `inactive` event, dropping a fired timer). Targets: at most one extra write
per human engagement, and no work at all for contacts who do nothing.
Run: python benchmarks/inactivity.py
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    NURTURE_TABLE="nurture-bench",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws

from chalicelib import catalog, services, store, streams
from chalicelib.audience import Catalogue
from chalicelib.behaviour import Behaviour
from chalicelib.inactivity import Inactivity
from chalicelib.schedule import Scheduler
from chalicelib.sequences import parse_sequence
from chalicelib.stamps import iso
from chalicelib.triggers import Index
from local.player import Player

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
QUIET = """
id: quiet
name: Quiet
default_timezone: UTC
default_locale: en
entry: {inactive: {no_human_engagement: 90d}}
steps:
  - id: one
    template:
      en: {subject: Hi, html: '<p><a href="{{ unsubscribe_url }}">u</a></p>'}
"""


class Clock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


class Writes:
    """Every write call, by what it is for (inspected from its parameters)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.contacts: set[str] = set()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        if operation == "PutItem":
            self._item(params["Item"])
        elif operation == "UpdateItem":
            self._update(params)
        elif operation == "DeleteItem" and params["Key"]["PK"]["S"].startswith("D#"):
            self.counts["inactivity: fired check dropped"] += 1
        elif operation == "TransactWriteItems":
            for op in params["TransactItems"]:
                if "Update" in op:
                    self._update(op["Update"])
                elif "Put" in op:
                    self._item(op["Put"]["Item"])

    def _item(self, item: dict[str, Any]) -> None:
        if item.get("kind", {}).get("S") == "inactive":
            self.counts["inactivity: check armed"] += 1
            self.contacts.add(item["contact_id"]["S"])
        elif item.get("type", {}).get("S") == "inactive":
            self.counts["inactivity: inactive event"] += 1

    def _update(self, update: dict[str, Any]) -> None:
        expression = update.get("UpdateExpression", "")
        if "summary_seq" in expression:
            self.counts["summary update (the engagement's own)"] += 1
            self.contacts.add(update["Key"]["PK"]["S"][2:])
        elif "inactive_at" in expression:
            self.counts["inactivity: check moved or ended"] += 1


def main() -> None:
    with mock_aws():
        table = services.table()
        table.create()
        services.client("scheduler").create_schedule_group(Name="nurture")
        catalog.push(services.versions(), parse_sequence(QUIET), "t")
        clock = Clock()
        scheduler = Scheduler(services.client("scheduler"), "nurture", "arn:t", "arn:r", "arn:d")
        index = Index.read(
            services.versions(), lambda i, v: catalog.load(services.versions(), i, v)
        )
        inactivity = Inactivity(table, scheduler, index.inactivity, 400, clock)
        catalogue = Catalogue({}, None, ("newsletter",))

        def on_schedule(event: dict[str, Any], _: Any) -> int:
            return inactivity.fire(event["minute"])

        def on_stream(event: dict[str, Any], _: Any) -> Any:
            learner = Behaviour(table, catalogue, 400, clock, inactivity=inactivity)
            return streams.handle(event, [streams.behaviour(learner)])

        player = Player(
            services.client("scheduler"),
            services.client("dynamodbstreams"),
            services.client("dynamodb"),
            table.name,
            "nurture",
            on_schedule,
            on_stream,
        )
        people = {f"weekly{n}": 52 for n in range(100)}
        people |= {f"quiet{n}": 3 for n in range(100)}
        people |= {f"idle{n}": 0 for n in range(800)}
        for contact in people:
            table.put_profile(contact, {"email": f"{contact}@example.com"})
        player.pump()
        writes = Writes()
        services.client("dynamodb").meta.events.register("before-parameter-build.dynamodb", writes)
        engagements = 0
        for week in range(53):
            moment = START + timedelta(weeks=week)
            clock.now = moment.timestamp()
            for contact, opens in people.items():
                if week < opens:
                    engagements += 1
                    opened = store.engagement(
                        contact, "opened", iso(clock.now), "s", None, "human", "browser", None
                    )
                    table.apply(store.event_write(opened))
            player.pump()
            for at, _detail in player.due_schedules(moment):
                clock.now = at.timestamp()
                player.fire_due(at)
        services.client("dynamodb").meta.events.unregister(
            "before-parameter-build.dynamodb", writes
        )
        extra = sum(n for what, n in writes.counts.items() if what.startswith("inactivity"))
        idle = {c for c in writes.contacts if c.startswith("idle")}
        print(f"a year of {engagements:,} human opens by 200 contacts; 800 contacts never engage:")
        for what, count in sorted(writes.counts.items()):
            print(f"  {what:42s} {count:6,}")
        print(f"  extra writes per human engagement = {extra / engagements:.3f}  (target <= 1)")
        print(f"  writes for the 800 who do nothing = {len(idle)}  (target 0)")
        print(
            f"  inactive events stored = {writes.counts['inactivity: inactive event']} "
            "(the 100 who went quiet, once each)"
        )


if __name__ == "__main__":
    main()
