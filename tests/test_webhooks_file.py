"""`webhooks.yaml`: every problem at once as file: path: message (line), pushed as immutable
versions, a secret made once per subscription."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from chalicelib import store
from chalicelib.errors import FileInvalid
from chalicelib.outbound import CATALOGUE, parse_webhooks
from chalicelib.outbound.schema import webhooks_schema
from tests.outbound_world import World

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "webhooks.yaml"


def test_the_example_is_valid_and_passes_the_published_schema() -> None:
    parsed = parse_webhooks(EXAMPLE.read_text(), file="webhooks.yaml")
    assert [h.id for h in parsed.webhooks] == ["crm", "sales-alerts", "automation"]
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), webhooks_schema())


def test_every_problem_is_reported_at_once_with_path_and_line() -> None:
    text = """webhooks:
  - id: crm
    url: http://crm.example.com/x
    events: [clicked, clickd]
    verdict: people
  - id: crm
    url: https://169.254.169.254/latest/meta-data
    include_email: "yes"
    secret: whsec_abc
"""
    with pytest.raises(FileInvalid) as caught:
        parse_webhooks(text, file="webhooks.yaml")
    lines = str(caught.value).splitlines()
    assert lines == [
        "webhooks.yaml: webhooks[0].url: must use https (line 3)",
        "webhooks.yaml: webhooks[0].events[1]: unknown event type 'clickd'; known: "
        + ", ".join(sorted(CATALOGUE))
        + " (line 4)",
        "webhooks.yaml: webhooks[0].verdict: Input should be 'human' or 'any' (got 'people') "
        "(line 5)",
        "webhooks.yaml: webhooks[1].id: duplicate id (also webhooks[0]) (line 6)",
        "webhooks.yaml: webhooks[1].url: 169.254.169.254 is a cloud metadata address (line 7)",
        "webhooks.yaml: webhooks[1].include_email: Input should be a valid boolean (got 'yes') "
        "(line 8)",
        "webhooks.yaml: webhooks[1].secret: unknown key; allowed here: description, enabled, "
        "events, id, include_email, sequences, test_sends, url, verdict (line 9)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("webhooks: [", "invalid YAML"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("webhooks:\n  - id: a\n    url: https://x.example/\n    id: b\n", "duplicate key"),
        ("webhooks: []\nextra: 1\n", "extra: unknown key"),
        ("webhooks:\n  - id: UPPER\n    url: https://x.example/\n", "webhooks[0].id: must be 1-64"),
        (
            "webhooks:\n  - id: a\n    url: https://x.example/\n    events: []\n",
            "webhooks[0].events",
        ),
    ],
)
def test_malformed_files_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(FileInvalid, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_webhooks(text, file="webhooks.yaml")


@pytest.fixture
def world(table: store.Table) -> World:
    made = World(table)
    yield made  # type: ignore[misc]
    made.close()


def test_a_host_resolving_to_a_private_address_is_refused_at_push(world: World) -> None:
    world.admin.resolver = lambda host, port: (
        ["10.1.2.3"] if host == "internal.example.com" else ["93.184.216.34"]
    )
    text = "webhooks:\n  - id: a\n    url: https://ok.example.com/\n  - id: b\n    url: https://internal.example.com/x\n"
    with pytest.raises(FileInvalid) as caught:
        world.admin.validate(text, "webhooks.yaml")
    assert str(caught.value) == (
        "webhooks.yaml: webhooks[1].url: internal.example.com resolves to 10.1.2.3, which is a "
        "private address"
    )
    assert world.admin.current().webhooks == ()


def test_pushes_are_immutable_versions_and_secrets_are_made_once(world: World) -> None:
    text = EXAMPLE.read_text()
    first = world.admin.push(world.admin.validate(text, "webhooks.yaml"))
    assert (first.version, first.created) == (1, True)
    assert sorted(first.new_secrets) == ["automation", "crm", "sales-alerts"]
    assert all(s.startswith("whsec_") for s in first.new_secrets.values())
    again = world.admin.push(world.admin.validate(text, "webhooks.yaml"))
    assert (again.version, again.created, again.new_secrets) == (1, False, {})
    changed = world.admin.push(
        world.admin.validate(text.replace("verdict: human", "verdict: any"), "w")
    )
    assert (changed.version, changed.created) == (2, True)
    assert world.admin.secrets("crm")[0].value == first.new_secrets["crm"]
    assert world.admin.current().by_id()["crm"].verdict == "any"
