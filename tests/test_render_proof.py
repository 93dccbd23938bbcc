"""`nurture render`: the email a step would send, written to files, with nothing sent or stored;
its tracked links are real in form and record nothing when opened."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest
from chalice.test import Client
from click.testing import CliRunner, Result
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.cli import nurture
from chalicelib.config import settings
from chalicelib.store import Table

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sequences"


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


def everything(table: Table) -> list[dict[str, object]]:
    pages = table.client.get_paginator("scan").paginate(TableName=table.name)
    return [item for page in pages for item in page["Items"]]


@pytest.fixture
def world(table: Table, tmp_path: Path) -> Table:
    people = tmp_path / "people.csv"
    people.write_text("email,first_name\nkim@example.com,Kim\n")
    imported = run("contacts", "import", str(people))
    assert imported.exit_code == 0, imported.output
    assert run("sequences", "push", str(EXAMPLES / "engagement.yaml")).exit_code == 0
    return table


def test_render_writes_the_prepared_mail_and_stores_nothing(
    world: Table, tmp_path: Path, client: Client
) -> None:
    before = everything(world)
    out = tmp_path / "proof"
    result = run(
        "render", "--sequence", "engagement", "--step", "new_subject", "--variant", "benefit",
        "--contact", "Kim@Example.com", "--out", str(out), "--no-open",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "engagement v1, step new_subject, variant benefit" in result.output
    assert "Subject: Emails that answer back" in result.output
    html = (out / "engagement-new_subject-benefit.html").read_text()
    text = (out / "engagement-new_subject-benefit.txt").read_text()
    base = re.escape(settings().base_url)
    clicks = re.findall(rf'href="({base}/c/[^"]+)"', html)
    [pixel] = re.findall(rf'src="({base}/o/[^"]+)"', html)
    assert clicks and 'href="https://example.com/signup' not in html
    assert re.search(rf"{base}/c/\S+", text), "the text part's links are tracked too"
    assert re.search(r"^link 0: https://example\.com/signup\?", result.output, re.M)
    mail = email.message_from_bytes(
        (out / "engagement-new_subject-benefit.eml").read_bytes(), policy=policy.default
    )
    assert (mail["To"], mail["Subject"]) == ("kim@example.com", "Emails that answer back")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_body(("html",)) is not None and mail.get_body(("plain",)) is not None
    assert everything(world) == before, "a proof stores nothing"
    assert ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages == []
    # Opening the proof or clicking in it records nothing: a throwaway key signed its tokens.
    assert client.http.get(pixel.removeprefix(settings().base_url)).status_code == 200
    assert client.http.get(clicks[0].removeprefix(settings().base_url)).status_code == 404
    assert everything(world) == before


def test_render_defaults_to_the_first_step_and_the_contacts_own_variant(
    world: Table, tmp_path: Path
) -> None:
    result = run(
        "render", "--sequence", "engagement", "--contact", "kim@example.com",
        "--out", str(tmp_path / "first"), "--no-open",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "first").iterdir()) == [
        "engagement-intro.eml",
        "engagement-intro.html",
        "engagement-intro.txt",
    ]
    assert "Subject: The follow-up most teams never send" in result.output
    names = set()
    for attempt in range(2):  # the variant the send would choose: the same every time
        again = tmp_path / f"variant{attempt}"
        run(
            "render", "--sequence", "engagement", "--step", "new_subject",
            "--contact", "kim@example.com", "--out", str(again), "--no-open",
        )  # fmt: skip
        names |= {p.name for p in again.iterdir()}
    assert len(names) == 3
    assert names <= {
        f"engagement-new_subject-{v}.{e}"
        for v in ("question", "benefit")
        for e in ("eml", "html", "txt")
    }


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (("--sequence", "nope", "--contact", "kim@example.com"), 1, "nope"),
        (("--sequence", "engagement", "--step", "nope", "--contact", "kim@example.com"), 1, "step"),
        (
            ("--sequence", "engagement", "--variant", "x", "--contact", "kim@example.com"),
            1,
            "variant",
        ),
        (("--sequence", "engagement", "--contact", "ghost@example.com"), 1, "contact"),
        (("--sequence", "engagement", "--contact", "not an address@"), 1, "contact"),
        (("--sequence", "engagement", "--contact", "ghost"), 1, "ghost"),
        (("--sequence", "engagement"), 2, "--contact"),
    ],
)
def test_render_refuses_bad_input_naming_it_and_writes_nothing(
    world: Table, tmp_path: Path, args: tuple[str, ...], code: int, named: str
) -> None:
    out = tmp_path / "out"
    result = run("render", *args, "--out", str(out), "--no-open")
    assert result.exit_code == code, result.output
    assert named in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_render_refuses_a_file_for_out(world: Table, tmp_path: Path) -> None:
    taken = tmp_path / "file"
    taken.write_text("keep me")
    result = run(
        "render", "--sequence", "engagement", "--contact", "kim@example.com",
        "--out", str(taken), "--no-open",
    )  # fmt: skip
    assert result.exit_code == 2 and "--out" in result.output
    assert taken.read_text() == "keep me"
