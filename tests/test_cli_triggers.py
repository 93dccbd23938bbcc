"""`nurture events send`, `nurture triggers preview`, `nurture enroll --segment` and
`nurture report --by`, against moto with the Lambda handlers fed by the local player."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import app
from chalicelib import services, store
from chalicelib.cli import nurture
from chalicelib.config import settings
from chalicelib.emails import email_hash
from local.player import Player

ROOT = Path(__file__).resolve().parent.parent
ANYTIME = '{start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}'
CART = f"""
id: cart
name: Cart
default_timezone: UTC
default_locale: en
send_window: {ANYTIME}
entry: {{event: {{name: cart_updated, where: {{total: {{gte: 10}}}}}}}}
steps:
  - id: reminder
    delay: 4h
    template:
      en: {{subject: "Cart", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


@pytest.fixture
def player(table: store.Table, tmp_path: Path) -> Iterator[Player]:
    services.client("scheduler").create_schedule_group(Name="nurture")
    services.client("sesv2").create_email_identity(EmailIdentity=settings().sender)
    for n, country in enumerate(("DE", "DE", "FR")):
        table.put_profile(f"c{n}", {"email": f"c{n}@example.com", "country": country})
        table.apply(store.email_claim_write(email_hash(f"c{n}@example.com"), f"c{n}", "t"))
    path = tmp_path / "cart.yaml"
    path.write_text(CART)
    assert run("sequences", "push", str(path)).exit_code == 0
    yield Player(
        services.client("scheduler"),
        services.client("dynamodbstreams"),
        services.client("dynamodb"),
        table.name,
        "nurture",
        app.on_schedule,
        app.on_stream,
    )


def test_events_send_stores_one_event_and_says_when_it_is_a_repeat(
    player: Player, table: store.Table
) -> None:
    first = run(
        "events",
        "send",
        "--contact",
        "c0@example.com",
        "--name",
        "cart_updated",
        "--id",
        "e-1",
        "--at",
        "2026-01-01T10:00:00Z",
        "--property",
        "total=25",
        "--property",
        "cart_url=https://shop.example/c/1",
    )
    assert first.exit_code == 0, first.output
    again = run(
        "events",
        "send",
        "--contact",
        "c0@example.com",
        "--name",
        "cart_updated",
        "--id",
        "e-1",
        "--at",
        "2026-01-01T10:00:00Z",
    )
    assert (first.output, again.output) == ("e-1 stored\n", "e-1 duplicate\n")
    bad = run("events", "send", "--contact", "c0", "--name", "9lives")
    assert bad.exit_code == 1 and "name: must be a letter" in bad.output
    player.pump()  # the stream finds the contact that holds the address
    [event] = [e for e in table.events("c0") if e["type"] == "event"]
    assert event["properties"] == {"total": 25, "cart_url": "https://shop.example/c/1"}


def test_a_backfill_file_is_stored_and_starts_nothing(
    player: Player, table: store.Table, tmp_path: Path
) -> None:
    lines = [
        json.dumps(
            {
                "event_id": f"o-{n}",
                "contact": "c1",
                "name": "cart_updated",
                "properties": {"total": 99},
                "at": "2026-01-01T10:00:00Z",
            }
        )
        for n in range(5)
    ]
    path = tmp_path / "backfill.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    result = run("events", "send", "--file", str(path))
    assert (result.exit_code, result.output) == (0, "backfilled 5 events\n")
    player.pump()
    assert services.journey().enrollments.get("c1", "cart") is None
    assert run("triggers", "preview", "--sequence", "cart").output.splitlines()[1:] == []


def test_triggers_preview_is_a_dry_run(player: Player) -> None:
    run("events", "send", "--contact", "c2", "--name", "cart_updated", "--property", "total=30")
    run("events", "send", "--contact", "c1", "--name", "cart_updated", "--property", "total=3")
    player.pump()  # summaries updated; c2 is enrolled by the trigger itself
    rows = [
        line.split("\t")
        for line in run("triggers", "preview", "--sequence", "cart").output.splitlines()
    ]
    assert rows[0] == ["contact", "email", "why", "outcome"]
    assert [(r[0], r[3]) for r in rows[1:]] == [("c2", "already enrolled")]
    assert rows[1][2].startswith("cart_updated at ")
    missing = run("triggers", "preview", "--sequence", "nope")
    assert missing.exit_code == 1 and "no sequence 'nope'" in missing.output


def test_enroll_a_segment_and_report_by_stage_and_segment(player: Player, tmp_path: Path) -> None:
    german = tmp_path / "german.yaml"
    german.write_text("id: german\nname: G\nmatch: {field: {name: country, equals: DE}}\n")
    assert run("segments", "push", str(german)).exit_code == 0
    welcome = tmp_path / "welcome.yaml"
    welcome.write_text(
        CART.replace("id: cart", "id: hello").replace(
            "entry: {event: {name: cart_updated, where: {total: {gte: 10}}}}\n", ""
        )
    )
    assert run("sequences", "push", str(welcome)).exit_code == 0
    result = run("enroll", "--sequence", "hello", "--segment", "german")
    assert result.output == "enrolled 2, already enrolled 0, refused 0, unknown contact 0\n"
    assert (
        "already enrolled 2" in run("enroll", "--sequence", "hello", "--segment", "german").output
    )
    assert run("enroll", "--sequence", "hello", "--segment", "german", "c2").exit_code == 2
    by_segment = run("report", "--sequence", "hello", "--by", "segment").output.splitlines()
    assert by_segment == [
        "segment\tenrolled\tactive\tcompleted\texited\tgoal_reached",
        "german\t2\t2\t0\t0\t0",
    ]
    by_stage = run("report", "--sequence", "hello", "--by", "stage").output.splitlines()
    assert by_stage[1:] == ["(none)\t2\t2\t0\t0\t0"]
