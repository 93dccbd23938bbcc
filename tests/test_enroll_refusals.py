"""Enrolling a contact nobody may email is refused with the reason, and nothing is planned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalice.test import Client
from click.testing import CliRunner

from chalicelib import services, store
from chalicelib.cli import nurture
from chalicelib.emails import email_hash
from chalicelib.store import Table

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sequences"
KEY = {"authorization": "Bearer api-key-0123456789abcdef", "content-type": "application/json"}


@pytest.fixture
def contacts(table: Table, tmp_path: Path) -> Table:
    services.client("scheduler").create_schedule_group(Name="nurture")
    runner = CliRunner()
    assert (
        runner.invoke(nurture, ["sequences", "push", str(EXAMPLES / "course.yaml")]).exit_code == 0
    )
    table.put_profile("ok", {"email": "ok@example.com"})
    table.put_profile("left", {"email": "left@example.com", "status": "unsubscribed"})
    table.put_profile("bounced", {"email": "bounced@example.com"})
    table.put_profile("blank", {"first_name": "No Address"})
    table.apply(store.suppression_write(email_hash("bounced@example.com"), "bounce", "t0", "s1"))
    return table


def enrollments(table: Table) -> set[str]:
    found = store.Enrollments(table)
    return {c for c in ("ok", "left", "bounced", "blank") if found.get(c, "course") is not None}


@pytest.mark.parametrize(
    ("contact_id", "reason"),
    [("left", "unsubscribed"), ("bounced", "suppressed"), ("blank", "invalid address")],
)
def test_the_api_refuses_with_the_reason(
    client: Client, contacts: Table, contact_id: str, reason: str
) -> None:
    body = json.dumps({"contact_id": contact_id, "sequence_id": "course"})
    response = client.http.post("/api/enrollments", headers=KEY, body=body)

    assert response.status_code == 409
    assert json.loads(response.body)["error"] == f"contact_id: contact {contact_id!r} is {reason}"
    assert enrollments(contacts) == set()


def test_the_cli_counts_each_reason_and_fails(contacts: Table) -> None:
    result = CliRunner().invoke(
        nurture, ["enroll", "--sequence", "course", "ok", "left", "bounced", "blank"]
    )

    assert result.exit_code == 1
    assert result.stdout.strip() == (
        "enrolled 1, already enrolled 0, refused 0, unknown contact 0, "
        "unsubscribed 1, suppressed 1, invalid address 1"
    )
    assert enrollments(contacts) == {"ok"}
