"""The `nurture` command line against moto, as a marketer runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import services
from chalicelib.cli import nurture
from chalicelib.config import settings
from chalicelib.store import Table
from local.ports import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sequences"
BROKEN = """id: Broken Id
name: ""
default_timezone: Mars/Olympus
default_locale: en
steps:
  - id: one
    template:
      en: {subject: "Hi {{ ''.__class__.__mro__ }}", html: "<p>x</p>"}
    branches:
      not_opened: {within: 3x, goto: nowhere}
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


def test_validate_lists_every_error_with_its_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    result = run("sequences", "validate", str(broken), str(EXAMPLES / "course.yaml"))
    assert result.exit_code == 1
    for path in (
        "id",
        "name",
        "default_timezone",
        "steps[0].branches.not_opened.within",
        "steps[0].branches.not_opened.goto",
    ):
        assert re.search(rf"broken.yaml: {re.escape(path)}: ", result.output), path
    assert "course.yaml: ok (course, 7 steps)" in result.output


def test_templates_are_trial_rendered_at_validation(tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text(
        BROKEN.replace("Broken Id", "unsafe")
        .replace('name: ""', "name: U")
        .replace("Mars/Olympus", "UTC")
        .replace("3x", "3d")
        .replace("nowhere", "exit")
    )
    result = run("sequences", "validate", str(unsafe))
    assert result.exit_code == 1
    assert "steps[0].template.en.subject:" in result.output


def test_push_versions_list_and_show(table: Table) -> None:
    first = run("sequences", "push", *map(str, sorted(EXAMPLES.glob("*.yaml"))))
    assert first.exit_code == 0, first.output
    assert "engagement v1 (new version)" in first.output
    again = run("sequences", "push", str(EXAMPLES / "engagement.yaml"))
    assert again.output.splitlines()[-1] == "engagement v1 (unchanged)"
    listed = run("sequences", "list")
    header, *rows = listed.output.splitlines()
    assert header == "sequence\tversion\tpushed at\tname"
    assert {line.split("\t")[0] for line in rows} == {p.stem for p in EXAMPLES.glob("*.yaml")}
    shown = run("sequences", "show", "course", "--version", "1")
    assert shown.exit_code == 0 and "id: course" in shown.output
    missing = run("sequences", "show", "course", "--version", "9")
    assert missing.exit_code == 1 and "no version 9" in missing.output


def test_enroll_preview_and_send_test(table: Table) -> None:
    services.client("sesv2").create_email_identity(EmailIdentity=settings().sender)
    services.client("scheduler").create_schedule_group(Name="nurture")
    table.put_profile(
        "k1",
        {
            "email": "k1@example.com",
            "first_name": "Kai",
            "timezone": "Asia/Kathmandu",
            "country": "NP",
        },
    )
    run("sequences", "push", str(EXAMPLES / "engagement.yaml"))
    preview = run("schedule", "preview", "--sequence", "engagement", "--contact", "k1")
    assert preview.exit_code == 0, preview.output
    header, first_line, *_ = preview.output.splitlines()
    assert header == "step\tvia\tlocal time\tUTC\tzone (from)\twhy"
    first = first_line.split("\t")
    assert first[:2] == ["intro", "enrolled"] and first[2].endswith("+05:45")
    assert first[4] == "Asia/Kathmandu (contact)"
    assert "new_subject\tnot_opened 3d\t" in preview.output  # the path of silence
    enrolled = run("enroll", "--sequence", "engagement", "k1", "ghost")
    assert enrolled.exit_code == 1  # not every named contact was enrolled
    assert enrolled.stdout.strip() == (
        "enrolled 1, already enrolled 0, refused 0, unknown contact 1"
    )
    sent = run("send-test", "--sequence", "engagement", "k1")
    assert sent.exit_code == 0 and sent.output.startswith("sent ")
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert message.destinations["ToAddresses"] == ["k1@example.com"]
    report = run("report", "--sequence", "engagement")
    lines = report.output.splitlines()
    assert lines[0].startswith("step\tsent\topened\tclicked") and lines[0].endswith("revenue")
    assert len(lines) == 9  # six steps, one of them with three variants
    assert lines[1].startswith("intro\t0\t0 (0%)")  # test sends stay out of the funnel
    unknown = run("send-test", "--sequence", "engagement", "--step", "nope", "k1")
    assert unknown.exit_code == 1 and "has no step 'nope'" in unknown.output


def test_export_neutralises_formulas_but_stores_them_as_given(table: Table, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('email,first_name,company\nf@example.com,=HYPERLINK("x"),+1 Corp\n')
    assert run("contacts", "import", str(source)).exit_code == 0
    [profile] = list(table.profiles())
    assert (profile["first_name"], profile["company"]) == ('=HYPERLINK("x")', "+1 Corp")
    exported = run("contacts", "export")
    assert exported.exit_code == 0
    assert '\'=HYPERLINK(""x"")' in exported.output and "'+1 Corp" in exported.output


def test_version_names_the_installed_package() -> None:
    from importlib.metadata import version

    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"nurture, version {version('nurture')}"


def test_contacts_are_named_by_email_and_ids_may_follow_a_double_dash(
    table: Table, tmp_path: Path
) -> None:
    services.client("sesv2").create_email_identity(EmailIdentity=settings().sender)
    services.client("scheduler").create_schedule_group(Name="nurture")
    run("sequences", "push", str(EXAMPLES / "engagement.yaml"))
    people = tmp_path / "people.csv"
    people.write_text("email,first_name,timezone\nAnn@Example.com,Ann,Europe/Berlin\n")
    assert run("contacts", "import", str(people)).exit_code == 0
    table.put_profile("-dash", {"email": "dash@example.com"})  # an id from older releases

    preview = run("schedule", "preview", "--sequence", "engagement", "--contact", "ann@example.com")
    enrolled = run("enroll", "--sequence", "engagement", " ANN@example.COM", "--", "-dash")
    again = run("enroll", "--sequence", "engagement", "ann@example.com")
    sent = run("send-test", "--sequence", "engagement", "--", "-dash")
    by_email = run("send-test", "--sequence", "engagement", "ann@example.com")

    assert preview.exit_code == 0 and "Europe/Berlin (contact)" in preview.stdout
    assert enrolled.exit_code == 0, enrolled.output
    assert enrolled.stdout.startswith("enrolled 2, already enrolled 0,")
    assert again.exit_code == 0 and again.stdout.startswith("enrolled 0, already enrolled 1,")
    assert sent.exit_code == 0 and by_email.exit_code == 0, sent.output + by_email.output
    sent_to = [
        m.destinations["ToAddresses"]
        for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    ]
    assert sent_to == [["dash@example.com"], ["Ann@example.com"]]


@pytest.mark.parametrize(
    "args",
    [
        ("enroll", "--sequence", "engagement", "nobody@example.com"),
        ("enroll", "--sequence", "engagement", "not an address@"),
        ("send-test", "--sequence", "engagement", "nobody@example.com"),
        ("schedule", "preview", "--sequence", "engagement", "--contact", "nobody@example.com"),
    ],
)
def test_an_unknown_address_fails_naming_it(table: Table, args: tuple[str, ...]) -> None:
    run("sequences", "push", str(EXAMPLES / "engagement.yaml"))
    result = run(*args)
    assert result.exit_code == 1
    assert args[-1] in result.output


def test_aws_out_of_reach_is_one_line_not_a_traceback() -> None:
    port = free_port()  # a port nobody listens on
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "nurture"), "sequences", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"cannot reach http://127.0.0.1:{port}" in done.stderr
    assert "make demo" in done.stderr
