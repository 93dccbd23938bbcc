"""`nurture contacts show|events|pause|unenroll|erase|export CONTACT` against moto."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from chalice.test import Client
from click.testing import CliRunner, Result

from chalicelib import store
from chalicelib.cli import nurture
from tests.test_journey import T0, Clock, World
from tests.test_people import engaged, everything, imported


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(nurture, list(args), input=stdin)


@pytest.fixture
def people(table: store.Table, client: Client) -> dict[str, str]:
    return engaged(World(table, Clock()), client)


def test_show_and_events_by_email(people: dict[str, str]) -> None:
    shown = run("contacts", "show", "ann@EXAMPLE.com")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["contact_id"] == people["ann"]
    listed = run("contacts", "events", people["ann"], "--since", "2025-11-25")
    rows = list(csv.DictReader(io.StringIO(listed.output)))
    assert listed.exit_code == 0 and len(rows) == 5 and rows[0]["type"] == "clicked"
    lines = run("contacts", "events", people["ann"], "--format", "json", "--until", "2025-11-24")
    assert lines.exit_code == 0 and lines.output == ""


def test_pause_unenroll_export_and_erase(table: store.Table, people: dict[str, str]) -> None:
    ann = people["ann"]
    paused = run("contacts", "pause", ann, "--days", "3")
    assert paused.exit_code == 0 and "paused until" in paused.output
    left = run("contacts", "unenroll", "ann@example.com", "--sequence", "engage")
    assert left.exit_code == 0 and left.output.strip().endswith("exited")
    exported = run("contacts", "export", "ann@example.com")
    assert exported.exit_code == 0 and json.loads(exported.output)["profile"]["first_name"] == "Ann"
    refused = run("contacts", "erase", ann, stdin="n\n")
    assert refused.exit_code == 1 and table.profile(ann) is not None
    erased = run("contacts", "erase", ann, "--yes")
    assert erased.exit_code == 0 and "address suppressed" in erased.output
    assert "ann@example.com" not in json.dumps(everything(table), default=repr).lower()
    [audit] = store.People(table).erasures()
    assert audit["principal"].startswith("cli:")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("contacts", "pause", "x", "--days", "-1"), 2, "--days"),
        (("contacts", "pause", "x", "--days", "400"), 2, "--days"),
        (("contacts", "pause", "ghost", "--days", "1"), 1, "no contact 'ghost'"),
        (("contacts", "unenroll", "ghost", "--sequence", "engage"), 1, "not enrolled"),
        (("contacts", "events", "x", "--since", "soon"), 1, "since:"),
        (("contacts", "events", "x", "--format", "xml"), 2, "--format"),
        (("contacts", "show", "nobody@example.com"), 1, "no contact with the address"),
        (("contacts", "erase", "ghost", "--yes"), 1, "no contact 'ghost'"),
        (("contacts", "export", "x", "--attribute", "plan"), 2, "--attribute"),
    ],
)
def test_bad_arguments_are_refused(
    table: store.Table, args: tuple[str, ...], code: int, says: str
) -> None:
    before = everything(table)
    result = run(*args)
    assert result.exit_code == code and says in result.output, result.output
    assert everything(table) == before


def test_a_paused_contact_gets_nothing_until_the_pause_ends(
    table: store.Table, client: Client
) -> None:
    world = World(table, Clock())
    ids = imported(client)
    world.journey.enroll(ids["ann@example.com"], "engage")
    assert run("contacts", "pause", ids["ann@example.com"], "--days", "30").exit_code == 0
    world.run_until(T0 + timedelta(days=3))
    assert world.mails("Ann@example.com") == []
