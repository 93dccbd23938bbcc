"""The shipped playbooks in `examples/sequences/` load, are fully reachable and use only the
template names the renderer provides (`contact`, `sequence`, `step`, `unsubscribe_url`,
`preferences_url`), with a default for every optional contact attribute."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import pytest
import yaml
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from chalicelib.sequences import (
    Sequence,
    load_sequence,
    sequence_json_schema,
    unreachable_steps,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "sequences"
FILES = sorted(EXAMPLES.glob("*.yaml"))
PLAYBOOKS = (
    "cart",
    "course",
    "engagement",
    "hot-offer",
    "onboarding",
    "reengagement",
    "welcome",
    "winback",
)

ALLOWED_NAMES = frozenset(
    {
        "contact",
        "sequence",
        "step",
        "unsubscribe_url",
        "preferences_url",
        "conversion_token",
        "event",
    }
)
ALLOWED_FILTERS = frozenset(
    {"default", "d", "e", "escape", "upper", "lower", "title", "capitalize", "trim"}
)
REQUIRED_CONTACT = frozenset({"email", "locale", "tags", "interests", "stage"})
"""Contact attributes every contact has; any other needs `| default(...)`."""
UNSUBSCRIBE = "{{ unsubscribe_url }}"
SCHEMA = sequence_json_schema()

# A contact with nothing but the required attributes: a StrictUndefined render fails on any
# optional attribute used without a default.
BARE_CONTEXT = {
    "contact": {
        "email": "ada@example.com",
        "locale": "en",
        "tags": [],
        "interests": [],
        "stage": None,
    },
    "sequence": {"name": "Example"},
    "step": {"id": "example"},
    "unsubscribe_url": "https://example.com/u/token",
    "preferences_url": "https://example.com/u/token",
    "conversion_token": "conversion.token",
    "event": {},
}


def template_problems(source: str) -> list[str]:
    """What is wrong with one template source under the examples' convention."""
    try:
        tree = jinja2.Environment(autoescape=True).parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [f"syntax error: {exc}"]
    problems = [
        f"unknown name {name!r}"
        for name in sorted(meta.find_undeclared_variables(tree) - ALLOWED_NAMES)
    ]
    for node in tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        problems.append(f"{type(node).__name__.lower()} is not allowed")
    for node in tree.find_all(nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            problems.append(f"filter |{node.name} is not allowed")
    defaulted = {
        id(node.node) for node in tree.find_all(nodes.Filter) if node.name in {"default", "d"}
    }
    for node in tree.find_all(nodes.Getattr):
        is_contact = isinstance(node.node, nodes.Name) and node.node.name == "contact"
        if is_contact and node.attr not in REQUIRED_CONTACT and id(node) not in defaulted:
            problems.append(f"contact.{node.attr} needs | default(...)")
    if not problems:
        try:
            SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True).from_string(
                source
            ).render(BARE_CONTEXT)
        except jinja2.TemplateError as exc:
            problems.append(f"does not render for a contact with only email and locale: {exc}")
    return problems


def html_problems(source: str) -> list[str]:
    """What a marketing email's HTML must carry: the unsubscribe link."""
    return [] if UNSUBSCRIBE in source else [f"no {UNSUBSCRIBE} link"]


def templates(sequence: Sequence) -> Iterator[tuple[str, str, str]]:
    """(where, kind, source) of every subject, html and text of every step and variant."""
    for step in sequence.steps:
        owners = [(f"{step.id}", step.template)] if step.template else []
        owners += [(f"{step.id}/{v.id}", v.template) for v in step.variants or ()]
        for where, by_locale in owners:
            for locale, spec in (by_locale or {}).items():
                yield f"{where}.{locale}", "subject", spec.subject
                yield f"{where}.{locale}", "html", spec.html or ""
                if spec.text is not None:
                    yield f"{where}.{locale}", "text", spec.text


def test_every_playbook_ships() -> None:
    assert sorted(path.stem for path in FILES) == sorted(PLAYBOOKS)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_example_loads_and_every_step_is_reachable(path: Path) -> None:
    sequence = load_sequence(path)

    assert sequence.id == path.stem
    assert unreachable_steps(sequence) == ()


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_example_passes_the_published_schema(path: Path) -> None:
    """What editors see through the `$schema` comment agrees with the loader."""
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_example_templates_use_only_the_renderer_names(path: Path) -> None:
    problems = [
        f"{where} {kind}: {problem}"
        for where, kind, source in templates(load_sequence(path))
        for problem in [
            *template_problems(source),
            *(html_problems(source) if kind == "html" else []),
        ]
    ]
    assert problems == []


def test_template_files_are_all_used() -> None:
    """A template file no sequence references is stale copy that nobody reviews."""
    referenced = {
        (path.parent / reference).resolve()
        for path in FILES
        for reference in file_references(yaml.safe_load(path.read_text(encoding="utf-8")))
    }
    on_disk = {file.resolve() for file in EXAMPLES.glob("*/*") if file.is_file()}
    assert sorted(str(file.relative_to(EXAMPLES)) for file in on_disk - referenced) == []


def file_references(data: Any) -> Iterator[str]:
    """Every `html_file` / `text_file` value anywhere in a parsed sequence file."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in {"html_file", "text_file"} and isinstance(value, str):
                yield value
            else:
                yield from file_references(value)
    elif isinstance(data, list):
        for item in data:
            yield from file_references(item)


# --- the checks themselves catch broken templates ----------------------------------------------


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("Hi {{ first_name }}", "unknown name 'first_name'"),
        ("{{ product }} is ready", "unknown name 'product'"),
        ("Hi {{ contact.first_name }}", "contact.first_name needs | default(...)"),
        ("{{ contact.company | upper }}", "contact.company needs | default(...)"),
        ('{% include "footer.html" %}', "include is not allowed"),
        ('{% extends "base.html" %}', "extends is not allowed"),
        ("{{ contact.email | tojson }}", "filter |tojson is not allowed"),
        ("{{ contact.email ", "syntax error"),
    ],
)
def test_template_check_rejects(source: str, problem: str) -> None:
    assert any(found.startswith(problem) for found in template_problems(source)), source


@pytest.mark.parametrize(
    "source",
    [
        'Hi {{ contact.first_name | default("there") }}, {{ contact.email }}',
        '{{ contact.company | default("your team") | title }} / {{ step.id }}',
        "<a href='{{ preferences_url }}'>{{ sequence.name | e }}</a>",
    ],
)
def test_template_check_accepts(source: str) -> None:
    assert template_problems(source) == []


def test_html_check_wants_the_unsubscribe_link() -> None:
    assert html_problems("<p>Hi</p>") == ["no {{ unsubscribe_url }} link"]
    assert html_problems('<a href="{{ unsubscribe_url }}">Unsubscribe</a>') == []
