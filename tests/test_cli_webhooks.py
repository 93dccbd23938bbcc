"""`nurture webhooks` against moto and a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chalicelib import services, store
from chalicelib.cli import nurture
from tests.outbound_world import World

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "webhooks.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


@pytest.fixture
def world(table: store.Table, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    made = World(table)
    monkeypatch.setattr(services, "webhook_admin", lambda: made.admin)
    yield made
    made.close()


def test_push_dry_run_push_list_and_secret(world: World, tmp_path: Path) -> None:
    dry = run("webhooks", "push", str(EXAMPLE), "--to", "stdout")
    assert dry.exit_code == 0, dry.output
    assert [h["id"] for h in json.loads(dry.output)["webhooks"]] == [
        "crm",
        "sales-alerts",
        "automation",
    ]
    assert world.admin.current().webhooks == ()

    pushed = run("webhooks", "push", str(EXAMPLE))
    assert pushed.exit_code == 0 and "webhooks v1 (new version)" in pushed.output
    assert pushed.output.count("signing secret whsec_") == 3
    assert "webhooks v1 (unchanged)" in run("webhooks", "push", str(EXAMPLE)).output

    listed = run("webhooks", "list").output.splitlines()
    assert listed[0].startswith("webhook\tstate\tdelivered")
    assert listed[1].split("\t")[:5] == ["crm", "enabled", "0", "0", "0"]
    rotated = run("webhooks", "secret", "crm", "--rotate")
    assert rotated.exit_code == 0 and "new secret whsec_" in rotated.output
    assert len(run("webhooks", "secret", "crm").output.splitlines()) == 2
    assert "retired 1 secret(s)" in run("webhooks", "secret", "crm", "--retire").output
    assert run("webhooks", "secret", "nope").exit_code == 1


def test_a_bad_file_lists_every_error_and_stores_nothing(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "webhooks.yaml"
    bad.write_text("webhooks:\n  - id: a\n    url: http://x.example/\n    events: [nope]\n")
    result = run("webhooks", "push", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: webhooks[0].url: must use https" in result.output
    assert f"{bad}: webhooks[0].events[0]: unknown event type 'nope'" in result.output
    assert world.admin.current().webhooks == ()
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    assert run("webhooks", "validate", str(binary)).exit_code == 2


def test_test_sends_a_signed_sample_and_shows_the_answer(world: World) -> None:
    url = world.receiver.url("probe")
    dry = run("webhooks", "test", url, "--to", "stdout")
    assert dry.exit_code == 0 and "webhook-signature: v1," in dry.output
    assert world.receiver.received == []
    sent = run("webhooks", "test", url)
    assert sent.exit_code == 0 and "HTTP 200" in sent.output
    assert world.receiver.received[0].event["type"] == "clicked"
    world.receiver.status = 500
    assert run("webhooks", "test", url).exit_code == 1
    refused = run("webhooks", "test", "https://169.254.169.254/latest")
    assert (
        refused.exit_code == 1
        and "url: 169.254.169.254 is a cloud metadata address" in refused.output
    )
    assert run("webhooks", "test", url, "--secret", "nope").exit_code == 1


def test_deliveries_and_redrive(world: World) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status = 500
    world.event("ada")
    world.settle()
    shown = run("webhooks", "deliveries", "crm").output.splitlines()
    assert shown[1].split("\t")[3:] == ["pending", "1", "HTTP 500"]
    assert run("webhooks", "deliveries", "crm", "--limit", "0").exit_code == 2
    delivery = world.deliveries.recent("crm", 1)[0]
    world.deliveries.dead(
        delivery, "2026-11-24T10:00:00.000Z", "exhausted", 500, "HTTP 500", attempted=False
    )
    world.queue.dead_letter(store_ref(delivery), "exhausted")
    world.receiver.status = 200
    dry = run("webhooks", "redrive", "--to", "stdout")
    assert f"would redrive\tcrm/{delivery.event_id}" in dry.output
    done = run("webhooks", "redrive")
    assert "1 redriven, 0 skipped" in done.output
    world.settle()
    assert world.deliveries.get("crm", delivery.event_id).status == "delivered"  # type: ignore[union-attr]
    assert "0 redriven" in run("webhooks", "redrive").output


def store_ref(delivery: store.Delivery):  # type: ignore[no-untyped-def]
    from chalicelib.outbound import DeliveryRef

    return DeliveryRef(delivery.webhook_id, delivery.event_id)
