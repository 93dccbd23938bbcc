"""Lead scoring: events scored per second per core, what one scored event costs in DynamoDB
calls, and rescoring 100,000 contacts (rate, and peak memory against the count).

1. Calls: the stream's `Behaviour.on_event` on in-process moto scores product events for a
   contact that has a score: DynamoDB calls are counted per event (target: one read, the
   profile the stream handler reads anyway, and at most one write).
2. CPU: the work of one scored event without I/O (profile parsed, event scored, band and
   decay deadline found, state serialised, the write built), for a contact with a few lines
   and for one with a month of daily lines of every kind (the most a ledger holds).
3. Rescore: the per-contact work of a rescore (profile parsed, history replayed, state and
   write built) streamed over 10,000 then 100,000 generated contacts: contacts per second per
   core, and the process's peak memory after each (the same after ten times the contacts
   means streaming). moto cannot stand in for this size (its query scans the whole table),
   so the DynamoDB side of `Scores.rescore` itself is counted on moto with 100 contacts: a
   scan page per 100 contacts and a checkpoint after it, one query and one write each.

Run: python benchmarks/scoring.py
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ["NURTURE_TABLE"] = "nurture-bench"
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws

from chalicelib import services, store, versioning
from chalicelib.behaviour import Behaviour
from chalicelib.profiles import Profile
from chalicelib.schedule import Scheduler
from chalicelib.scoring.files import load_scoring
from chalicelib.scoring.scorer import Scorer
from chalicelib.scoring.service import Scores
from chalicelib.stamps import iso

ROOT = Path(__file__).resolve().parent.parent
MODEL = load_scoring(ROOT / "examples" / "scoring" / "b2b.yaml")
NOW = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp())
DAY = 86_400
ATTRIBUTES = {"job_title": "CEO", "company_size": 300, "industry": "software"}


def history(contact_id: str, days: int, per_day: int) -> list[dict[str, Any]]:
    """Human opens and clicks and pricing views over `days` days."""
    kinds = ("opened", "clicked", "event")
    events = []
    for day in range(days):
        for n in range(per_day):
            kind = kinds[n % 3]
            event = {
                "type": kind,
                "verdict": "human",
                "at": iso(NOW - (days - day) * DAY + n * 600),
                "event_id": f"{contact_id}-{day}-{n}",
                "contact_id": contact_id,
            }
            if kind == "event":
                event["name"] = "pricing_viewed"
            events.append(event)
    return events


def scored_item(scorer: Scorer, days: int, per_day: int) -> dict[str, Any]:
    profile = Profile.from_item("c", {"email": "c@example.com", "attributes": ATTRIBUTES})
    state = scorer.observe(profile, None, None, NOW, history=history("c", days, per_day)).state
    return {"email": "c@example.com", "attributes": ATTRIBUTES, "score": state.to_item()}


def event_cpu(label: str, item: dict[str, Any], scorer: Scorer, count: int = 3000) -> None:
    lines = len(item["score"]["lines"])
    began = time.process_time()
    for n in range(count):
        profile = Profile.from_item("c", item)
        event = {"type": "clicked", "verdict": "human", "at": iso(NOW + n), "event_id": f"n{n}"}
        outcome = scorer.observe(profile, profile.score, event, NOW + n)
        store.summary_write("c", {"score": outcome.state.to_item()}, str(n), (), ("score", "t"))
    elapsed = time.process_time() - began
    print(
        f"scoring an event ({label}, {lines} lines): {count / elapsed:,.0f} events/s per core "
        f"({elapsed / count * 1e3:.2f} ms CPU each)"
    )


def event_calls() -> None:
    with mock_aws():
        table = services.table()
        table.create()
        services.client("scheduler").create_schedule_group(Name="nurture")
        versioning.push(services.versions("scoring"), MODEL, "t")
        table.put_profile("c", {"email": "c@example.com"})
        scheduler = Scheduler(services.client("scheduler"), "nurture", "arn:t", "arn:r", "arn:d")
        scores = Scores(table, services.versions("scoring"), scheduler, clock=lambda: NOW)
        behaviour = Behaviour(table, services.catalogue(), 400, lambda: NOW, scores=scores)
        images = []
        for n in range(101):
            event = store.ProductEvent("pricing_viewed", f"p{n}", iso(NOW - 3600 + n), {}, "c")
            table.apply(event.write())
            images.append(next(e for e in table.events("c") if e.get("event_id") == f"p{n}"))
        behaviour.on_event(images[0], "1".zfill(21))  # the first scores the contact's history
        calls: Counter[str] = Counter()

        def count(event_name: str, **_: Any) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1

        client = services.client("dynamodb")
        client.meta.events.register("before-call.dynamodb", count)
        for n, image in enumerate(images[1:], 2):
            behaviour.on_event(image, str(n).zfill(21))
        client.meta.events.unregister("before-call.dynamodb", count)
        events = len(images) - 1
        reads = calls["GetItem"] + calls["Query"] + calls["Scan"] + calls["BatchGetItem"]
        writes = calls["UpdateItem"] + calls["PutItem"] + calls["TransactWriteItems"]
        print(
            f"DynamoDB calls per scored event ({events} events, moto): "
            f"{reads / events:.2f} reads (the profile), {writes / events:.2f} writes "
            f"{dict(sorted(calls.items()))} (target: 1 read, <= 1 write)"
        )


def contacts(count: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Generated contacts with their histories, one at a time (nothing is kept)."""
    for n in range(count):
        contact_id = f"c{n:06d}"
        item = {"contact_id": contact_id, "email": f"{contact_id}@example.com"}
        if n % 2:
            item["attributes"] = ATTRIBUTES
        yield item, history(contact_id, days=n % 12, per_day=n % 4)


def rescore_cpu(scorer: Scorer, count: int) -> tuple[float, float]:
    """Contacts per second per core, and the process's peak resident memory after (MB)."""
    began = time.process_time()
    for item, events in contacts(count):
        profile = Profile.from_item(item["contact_id"], item)
        outcome = scorer.observe(profile, None, None, NOW, history=events, cause="rescore")
        store.score_write(item["contact_id"], outcome.state.to_item(), None)
    elapsed = time.process_time() - began
    return count / elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rescore_calls(count: int) -> None:
    with mock_aws():
        table = services.table()
        table.create()
        services.client("scheduler").create_schedule_group(Name="nurture")
        versioning.push(services.versions("scoring"), MODEL, "t")
        items = []
        for item, events in contacts(count):
            items.append({k: {"S": str(v)} for k, v in item.items() if isinstance(v, str)})
            items[-1].update(PK={"S": f"C#{item['contact_id']}"}, SK={"S": "PROFILE"})
            items += [store.event_write(_event(e))[0]["Put"]["Item"] for e in events[:3]]
        table.put_batch(items)
        scheduler = Scheduler(services.client("scheduler"), "nurture", "arn:t", "arn:r", "arn:d")
        scores = Scores(table, services.versions("scoring"), scheduler, clock=lambda: NOW)
        scores.scorer()
        calls: Counter[str] = Counter()

        def tally(event_name: str, **_: Any) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1

        client = services.client("dynamodb")
        client.meta.events.register("before-call.dynamodb", tally)
        report = scores.rescore(page_size=100)
        client.meta.events.unregister("before-call.dynamodb", tally)
        per = {name: round(n / count, 3) for name, n in sorted(calls.items())}
        print(
            f"rescore on moto, {count} contacts: {report.scored} rescored, finished="
            f"{report.finished}; DynamoDB calls per contact {per}"
        )


def _event(raw: dict[str, Any]) -> store.Event:
    attrs = {"verdict": raw["verdict"], **({"name": raw["name"]} if "name" in raw else {})}
    return store.Event(raw["contact_id"], raw["type"], raw["at"], raw["event_id"], attrs=attrs)


def main() -> None:
    scorer = Scorer(MODEL, 1, datetime.fromtimestamp(NOW, UTC))
    event_calls()
    event_cpu("a week of light engagement", scored_item(scorer, 7, 1), scorer)
    event_cpu("a month of daily opens, clicks and views", scored_item(scorer, 40, 3), scorer)
    small_rate, small_peak = rescore_cpu(scorer, 10_000)
    rate, peak = rescore_cpu(scorer, 100_000)
    print(
        f"rescore work, 100,000 contacts: {rate:,.0f} contacts/s per core; process peak "
        f"memory {peak:.1f} MB after them, {small_peak:.1f} MB after 10,000 "
        f"({small_rate:,.0f}/s)"
    )
    rescore_calls(100)


if __name__ == "__main__":
    main()
