"""What an uploaded sequence must get right, reported all at once: schema and templates
together, a visible unsubscribe link in marketing email, even locales, names that exist."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from chalice.test import Client
from click.testing import CliRunner

from chalicelib import catalog, services
from chalicelib.cli import nurture
from chalicelib.errors import FileInvalid
from chalicelib.sequences import load_sequence
from chalicelib.store import Table

KEY = {"authorization": "Bearer api-key-0123456789abcdef", "content-type": "application/yaml"}
FOOTER = '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'


def sequence(html: str = f"<p>Hi</p>{FOOTER}", extra: str = "", text: str | None = None) -> str:
    spec = {"subject": "Hello", "html": html, **({"text": text} if text is not None else {})}
    return textwrap.dedent(
        f"""\
        id: upload
        name: Upload
        default_timezone: UTC
        default_locale: en
        {extra}
        steps:
          - id: first
            template:
              en: {json.dumps(spec)}
        """
    )


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(FileInvalid) as caught:
        catalog.validate(text, "upload.yaml")
    return [(error.path, error.message) for error in caught.value.errors]


def test_schema_and_template_problems_come_back_in_one_run(tmp_path: Path) -> None:
    broken = sequence(html="<p>{{ ''.__class__ }}</p>" + FOOTER).replace("UTC", "Mars/Olympus")
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")

    found = dict(problems(broken))
    cli = CliRunner().invoke(nurture, ["sequences", "validate", str(path)])

    assert set(found) == {"default_timezone", "steps[0].template.en.html"}
    assert cli.exit_code == 1
    assert "broken.yaml: default_timezone: " in cli.output
    assert "broken.yaml: steps[0].template.en.html: " in cli.output


def test_api_lists_schema_and_template_problems_together(client: Client, table: Table) -> None:
    broken = sequence(html="<p>{{ first_name }}</p>" + FOOTER, extra="goal: {event: nope}")

    response = client.http.post("/api/sequences/validate", headers=KEY, body=broken.encode())

    assert response.status_code == 422
    paths = {error["path"] for error in json.loads(response.body)["errors"]}
    assert paths == {"goal.event", "goal.within", "steps[0].template.en.html"}


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ("<p>Hi {{ first_name }}</p>", "write contact.first_name"),
        ("<p>Hi {{ contact.first_name }}</p>", 'contact.first_name | default("...")'),
        ("<p>{% if contact.company %}x{% endif %}</p>", 'contact.company | default("...")'),
    ],
)
def test_a_misnamed_or_possibly_missing_field_says_what_to_write(html: str, problem: str) -> None:
    [(path, message)] = problems(sequence(html=html + FOOTER))
    assert path == "steps[0].template.en.html" and problem in message


@pytest.mark.parametrize(
    "html",
    [
        "<p>Hi</p>",
        '<p>Hi</p><div style="display: none"><a href="{{ unsubscribe_url }}">Unsubscribe</a></div>',
        '<p>Hi <a href="{{ unsubscribe_url }}"></a></p>',
        '<p>Hi</p><!-- <a href="{{ unsubscribe_url }}">Unsubscribe</a> -->',
        '<style>.x { visibility: hidden }</style><p class="x"><a href="{{ unsubscribe_url }}">'
        "Unsubscribe</a></p>",
    ],
)
def test_marketing_html_without_a_visible_unsubscribe_link_is_refused(html: str) -> None:
    [(path, message)] = problems(sequence(html=html))
    assert path == "steps[0].template.en.html"
    assert message.startswith("a marketing email needs a visible unsubscribe link")


def test_a_hand_written_text_part_needs_the_unsubscribe_url_too() -> None:
    [(path, message)] = problems(sequence(text="Hello, no way out"))
    assert path == "steps[0].template.en.text" and "unsubscribe URL" in message
    catalog.validate(sequence(text="Hello. Stop: {{ preferences_url }}"), "ok.yaml")


def test_transactional_sequences_need_no_unsubscribe_link(client: Client, table: Table) -> None:
    receipt = sequence(html="<p>Your receipt</p>", extra="transactional: true", text="Receipt")

    response = client.http.post("/api/sequences", headers=KEY, body=receipt.encode())
    wrong_type = sequence(extra="transactional: 'yes'")

    assert response.status_code == 201
    assert [path for path, _ in problems(wrong_type)] == ["transactional"]


UNEVEN = """\
id: uneven
name: Uneven
default_timezone: UTC
default_locale: en
{extra}
steps:
  - id: one
    template:
      en: {{subject: Hi, html: '<p>Hi</p>{footer}'}}
      de: {{subject: Hallo, html: '<p>Hallo</p>{footer}'}}
  - id: two
    variants:
      - id: a
        weight: 1
        template:
          en: {{subject: Two, html: '<p>Two</p>{footer}'}}
      - id: b
        weight: 1
        template:
          en: {{subject: Zwei, html: '<p>Zwei</p>{footer}'}}
          de: {{subject: Zwei, html: '<p>Zwei</p>{footer}'}}
"""


def test_steps_offering_different_locales_are_flagged_unless_declared() -> None:
    uneven = UNEVEN.format(extra="", footer=FOOTER.replace("'", '"'))
    declared = UNEVEN.format(extra="uneven_locales: true", footer=FOOTER.replace("'", '"'))

    assert problems(uneven) == [
        (
            "steps[1].variants[0].template",
            "no 'de' template, which other steps have: those contacts would switch to the "
            "default locale here; add it, or set uneven_locales: true",
        )
    ]
    assert catalog.validate(declared, "declared.yaml").uneven_locales is True


def test_the_shipped_playbooks_push_over_the_api_once_inlined(
    client: Client, table: Table, tmp_path: Path
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples" / "sequences"
    for path in sorted(examples.glob("*.yaml")):
        inlined = CliRunner().invoke(nurture, ["sequences", "inline", str(path)])
        assert inlined.exit_code == 0, inlined.output
        response = client.http.post("/api/sequences", headers=KEY, body=inlined.stdout.encode())
        assert response.status_code == 201, response.body
        stored, _ = catalog.newest(services.versions(), path.stem)
        assert stored.content_hash() == load_sequence(path).content_hash()
    assert len(services.versions().heads()) == len(list(examples.glob("*.yaml")))


def test_inline_refuses_an_invalid_file_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(sequence(html="<p>no way out</p>"), encoding="utf-8")
    output = tmp_path / "out.yaml"

    result = CliRunner().invoke(
        nurture, ["sequences", "inline", str(path), "--output", str(output)]
    )

    assert result.exit_code == 1
    assert "bad.yaml: steps[0].template.en.html: a marketing email needs" in result.output
    assert not output.exists() or output.read_text() == ""
