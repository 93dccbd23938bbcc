"""The authenticated marketer API through chalice's test client, on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from chalice.test import Client
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import services
from chalicelib.config import settings
from chalicelib.sequences import load_sequence
from chalicelib.store import Table
from tests.conftest import headers

KEY = {"authorization": "Bearer api-key-0123456789abcdef"}
YAML = {"content-type": "application/yaml"}
COURSE_FILE = Path(__file__).resolve().parent.parent / "examples" / "sequences" / "course.yaml"
# The API takes self-contained YAML (templates inline); the CLI inlines template files itself.
COURSE = yaml.safe_dump(json.loads(load_sequence(COURSE_FILE).to_json())).encode()


@pytest.mark.parametrize(
    ("method", "path", "sent"),
    [
        ("GET", "/api/sequences", {}),
        ("POST", "/api/sequences", YAML),
        ("POST", "/api/sequences/validate", YAML),
        ("GET", "/api/sequences/course", {}),
        ("POST", "/api/enrollments", {"content-type": "application/json"}),
        ("POST", "/api/contacts", {"content-type": "text/csv"}),
        ("GET", "/api/schedule/preview?contact_id=a&sequence_id=b", {}),
        ("POST", "/api/send-test", {"content-type": "application/json"}),
        ("GET", "/api/reports/course", {}),
        ("POST", "/api/segments", YAML),
        ("GET", "/api/segments", {}),
        ("POST", "/api/stages", YAML),
        ("GET", "/api/stages", {}),
    ],
)
@pytest.mark.parametrize(
    "credentials", [{}, {"authorization": "Bearer wrong-key"}, {"authorization": "Basic YTpi"}]
)
def test_every_marketer_route_needs_an_api_key(
    client: Client,
    table: Table,
    method: str,
    path: str,
    sent: dict[str, str],
    credentials: dict[str, str],
) -> None:
    response = client.http.request(method, path, headers={**sent, **credentials}, body=b"x")
    assert response.status_code == 401
    assert headers(response)["www-authenticate"] == "Bearer"
    assert services.versions().heads() == []


def test_push_validate_list_show(client: Client, table: Table) -> None:
    body = COURSE
    first = client.http.post("/api/sequences", headers={**YAML, **KEY}, body=body)
    assert (first.status_code, json.loads(first.body)) == (
        201,
        {"sequence_id": "course", "version": 1, "created": True},
    )
    again = client.http.post("/api/sequences", headers={**YAML, **KEY}, body=body)
    assert (again.status_code, json.loads(again.body)["created"]) == (200, False)
    listed = json.loads(client.http.get("/api/sequences", headers=KEY).body)
    assert [s["sequence_id"] for s in listed["sequences"]] == ["course"]
    shown = client.http.get("/api/sequences/course?version=1", headers=KEY)
    assert json.loads(shown.body)["sequence"]["id"] == "course"
    report = json.loads(client.http.get("/api/reports/course", headers=KEY).body)
    assert [step["step_id"] for step in report["steps"]][:2] == ["lesson_1", "lesson_2"]
    assert report["steps"][0]["sent"] == 0
    bad_version = client.http.get("/api/sequences/course?version=x", headers=KEY)
    assert bad_version.status_code == 400
    assert json.loads(bad_version.body)["error"].startswith("version:")


def test_template_files_are_refused_by_the_api(client: Client, table: Table) -> None:
    response = client.http.post(
        "/api/sequences", headers={**YAML, **KEY}, body=COURSE_FILE.read_bytes()
    )
    assert response.status_code == 422
    assert "html_file" in json.loads(response.body)["error"]


def test_invalid_upload_lists_every_error_and_stores_nothing(client: Client, table: Table) -> None:
    broken = b"id: ok\nname: N\ndefault_timezone: UTC+3\ndefault_locale: en\nsteps: []\nextra: 1\n"
    response = client.http.post("/api/sequences", headers={**YAML, **KEY}, body=broken)
    assert response.status_code == 422
    paths = {e["path"] for e in json.loads(response.body)["errors"]}
    assert {"default_timezone", "steps", "extra"} <= paths
    assert services.versions().heads() == []


def test_contacts_enroll_preview_send_test(client: Client, table: Table) -> None:
    services.client("sesv2").create_email_identity(EmailIdentity=settings().sender)
    services.client("scheduler").create_schedule_group(Name="nurture")
    client.http.post("/api/sequences", headers={**YAML, **KEY}, body=COURSE)
    csv = (
        b"email,first_name,timezone\nada@example.com,Ada,Europe/Riga\n"
        b"not-an-email,Bob,UTC\nlin@example.com,Lin,Mars/Olympus\n"
    )
    imported = client.http.post(
        "/api/contacts", headers={"content-type": "text/csv", **KEY}, body=csv
    )
    report = json.loads(imported.body)
    assert imported.status_code == 422 and report["imported"] == 1
    assert [(r["line"], r["field"]) for r in report["errors"]] == [(3, "email"), (4, "timezone")]
    assert report["error"] == "2 rows rejected"
    [placed] = report["contacts"]
    assert (placed["line"], placed["email"]) == (2, "ada@example.com")
    assert placed["outcome"] == "imported"
    contact_id = placed["contact_id"]
    assert table.profile(contact_id)["email"] == "ada@example.com"  # type: ignore[index]
    enrolled = client.http.post(
        "/api/enrollments",
        headers={"content-type": "application/json", **KEY},
        body=json.dumps({"contact_id": contact_id, "sequence_id": "course"}),
    )
    assert enrolled.status_code == 201 and json.loads(enrolled.body)["step_id"] == "lesson_1"
    preview = client.http.get(
        f"/api/schedule/preview?contact_id={contact_id}&sequence_id=course", headers=KEY
    )
    steps = json.loads(preview.body)["steps"]
    assert len(steps) == 7 and steps[0]["zone"] == "Europe/Riga"
    sent = client.http.post(
        "/api/send-test",
        headers={"content-type": "application/json", **KEY},
        body=json.dumps({"contact_id": contact_id, "sequence_id": "course"}),
    )
    assert sent.status_code == 200 and json.loads(sent.body)["status"] == "sent"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", "body"),
        (b"[]", "body"),
        (b'{"sequence_id": "course"}', "contact_id"),
        (b'{"contact_id": 7, "sequence_id": "course"}', "contact_id"),
        (b'{"contact_id": "a", "email": "a@example.com", "sequence_id": "course"}', "contact_id"),
        (b'{"email": "not-an-address", "sequence_id": "course"}', "email"),
        (b'{"email": 7, "sequence_id": "course"}', "email"),
        (b'{"contact_id": "a", "sequence": "course"}', "sequence"),
    ],
)
def test_malformed_enrollment_is_400_naming_the_field(
    client: Client, table: Table, body: bytes, field: str
) -> None:
    response = client.http.post(
        "/api/enrollments", headers={"content-type": "application/json", **KEY}, body=body
    )
    assert response.status_code == 400
    assert json.loads(response.body)["error"].startswith(f"{field}:")


def test_import_answers_ids_for_the_first_rows_and_says_how_to_get_the_rest(
    client: Client, table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    monkeypatch.setattr(app, "CONTACT_IDS", 2)
    body = "email\n" + "".join(f"u{n}@example.com\n" for n in range(5))
    sent = {"content-type": "text/csv", **KEY}

    answer = json.loads(client.http.post("/api/contacts", headers=sent, body=body.encode()).body)

    assert answer["imported"] == 5
    assert [c["email"] for c in answer["contacts"]] == ["u0@example.com", "u1@example.com"]
    assert answer["contacts_omitted"] == 3 and "in parts" in answer["hint"]
    for placed in answer["contacts"]:
        assert table.profile(placed["contact_id"])["email"] == placed["email"]  # type: ignore[index]


@pytest.mark.parametrize("body", [b"", b"email\n", b"\n"])
def test_import_without_rows_is_400_and_stores_nothing(
    client: Client, table: Table, body: bytes
) -> None:
    response = client.http.post(
        "/api/contacts", headers={"content-type": "text/csv", **KEY}, body=body
    )
    assert response.status_code == 400
    assert json.loads(response.body)["error"].startswith(("body:", "file:"))
    assert table.client.scan(TableName=table.name)["Items"] == []


JSON = {"content-type": "application/json", **KEY}


def test_contacts_are_named_by_email_and_misspelt_fields_are_refused(
    client: Client, table: Table
) -> None:
    services.client("sesv2").create_email_identity(EmailIdentity=settings().sender)
    services.client("scheduler").create_schedule_group(Name="nurture")
    client.http.post("/api/sequences", headers={**YAML, **KEY}, body=COURSE)
    csv = b"email,timezone\nLin@Example.com,Asia/Tokyo\n"
    imported = client.http.post(
        "/api/contacts", headers={"content-type": "text/csv", **KEY}, body=csv
    )
    [placed] = json.loads(imported.body)["contacts"]

    def post(path: str, doc: dict[str, str]) -> tuple[int, dict[str, object]]:
        response = client.http.post(path, headers=JSON, body=json.dumps(doc))
        return response.status_code, json.loads(response.body)

    misspelt = post(
        "/api/send-test", {"email": "lin@example.com", "sequence_id": "course", "step": "lesson_2"}
    )
    unknown = post("/api/enrollments", {"email": "nobody@example.com", "sequence_id": "course"})
    enrolled = post("/api/enrollments", {"email": " LIN@example.com", "sequence_id": "course"})
    preview = client.http.get(
        "/api/schedule/preview?email=lin%40example.com&sequence_id=course", headers=KEY
    )
    sent = post(
        "/api/send-test",
        {"email": "lin@example.com", "sequence_id": "course", "step_id": "lesson_2"},
    )

    assert misspelt[0] == 400 and str(misspelt[1]["error"]).startswith("step: unknown field")
    assert unknown[0] == 404 and str(unknown[1]["error"]).startswith("email: no contact")
    assert enrolled[0] == 201 and enrolled[1]["contact_id"] == placed["contact_id"]
    assert json.loads(preview.body)["steps"][0]["zone"] == "Asia/Tokyo"
    assert sent[0] == 200 and sent[1]["status"] == "sent"
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert message.subject.startswith("Lesson 2:")
    assert message.destinations["ToAddresses"] == ["Lin@example.com"]
