"""Sequence files: real files in tmp_path, exact error paths, every error reported at once."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.errors import FileError, FileInvalid
from chalicelib.sequences import (
    MAX_FILE_BYTES,
    Sequence,
    format_duration,
    load_sequence,
    parse_duration,
    parse_sequence,
    render_json_schema,
    unreachable_steps,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sequences" / "welcome.yaml"

HEADER = """\
id: trial
name: Trial nurture
default_timezone: Europe/Berlin
default_locale: en
"""

VALID = (
    HEADER
    + """\
steps:
  - id: first
    template: {en: {subject: Hello, html: "<p>hi</p>"}}
    next: exit
    branches:
      not_opened: {within: 3d, goto: resend}
  - id: resend
    template: {en: {subject: Hello again, html: "<p>hi</p>"}}
"""
)


def write(tmp_path: Path, text: str, name: str = "seq.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(path: Path) -> list[tuple[str, str]]:
    """(path, message) of every error `load_sequence` reports for the file."""
    with pytest.raises(FileInvalid) as caught:
        load_sequence(path)
    assert caught.value.file == str(path)
    return [(error.path, error.message) for error in caught.value.errors]


def error_paths(path: Path) -> list[str]:
    return [where for where, _ in errors(path)]


def with_steps(steps: str) -> str:
    return HEADER + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  ")


# --- the example and the published schema ----------------------------------------------------


def test_example_file_is_valid_and_inlines_its_templates() -> None:
    sequence = load_sequence(EXAMPLE)

    assert [step.id for step in sequence.steps] == ["welcome", "resend_subject", "tips"]
    english = sequence.steps[0].template["en"]  # type: ignore[index]
    assert "Welcome to nurture" in (english.html or "")
    assert english.html_file is None
    assert sequence.goal is not None and sequence.goal.within == timedelta(days=30)
    assert sequence.steps[0].branches.not_opened is not None
    assert sequence.steps[0].branches.not_opened.goto == "resend_subject"
    assert unreachable_steps(sequence) == ()


def test_committed_schema_matches_the_model() -> None:
    committed = (ROOT / "schemas" / "sequence.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run: python -m chalicelib.sequences > schemas/..."


def test_example_passes_the_published_schema() -> None:
    schema = json.loads(render_json_schema())
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))

    jsonschema.validate(document, schema)
    document["steps"][0]["delya"] = "1d"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_schema_bounds_lists_with_array_keywords() -> None:
    """String keywords on arrays are ignored by editors: a list's bounds are min/maxItems."""
    schema = json.loads(render_json_schema())

    def nodes(node: object) -> list[dict[str, object]]:
        if isinstance(node, dict):
            return [node, *(n for v in node.values() for n in nodes(v))]
        return [n for v in node for n in nodes(v)] if isinstance(node, list) else []

    arrays = [n for n in nodes(schema) if n.get("type") == "array"]
    assert arrays and all("maxLength" not in n and "minLength" not in n for n in arrays)
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    step = document["steps"][-1]
    document["steps"] = [{**step, "id": f"s{i}", "next": "exit"} for i in range(101)]
    with pytest.raises(jsonschema.ValidationError, match="too long"):
        jsonschema.validate(document, schema)


# --- many errors at once -----------------------------------------------------------------------


def test_schema_and_cross_step_errors_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        id: trial
        name: Trial
        default_timezone: Mars/Olympus
        default_locale: en
        frequency_cap: {max: 0, per: month}
        steps:
          - id: first
            template: {de: {subject: Hallo, html: x}}
            branches:
              opened: nowhere
          - id: second
            template: {en: {subject: Hi, html: x}}
            branches:
              not_opened: {within: soon, goto: first}
          - id: first
            template: {en: {subject: Hi, html: x}}
        """,
    )

    assert error_paths(path) == [
        "default_timezone",
        "frequency_cap.max",
        "frequency_cap.per",
        "steps[0].template",
        "steps[0].branches.opened",
        "steps[1].branches.not_opened",
        "steps[1].branches.not_opened.within",
        "steps[2].id",
    ]


def test_error_text_names_file_path_message_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, with_steps("- id: first\n  delay: 0d\n  template: {en: {subject: s}}\n"))

    with pytest.raises(FileInvalid) as caught:
        load_sequence(path)

    assert (
        str(caught.value)
        == f"{path}: steps[0].template.en: give exactly one of html or html_file (line 8)"
    )


# --- YAML problems -----------------------------------------------------------------------------


def test_duplicate_keys_are_errors_with_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + """\
name: Second name
steps:
  - id: first
    template: {en: {subject: a, subject: b, html: x}}
""",
    )

    with pytest.raises(FileInvalid) as caught:
        load_sequence(path)

    assert caught.value.errors == (
        FileError("name", "duplicate key (first at line 2; YAML keeps the last)", 5),
        FileError(
            "steps[0].template.en.subject",
            "duplicate key (first at line 8; YAML keeps the last)",
            8,
        ),
    )


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("id: [unclosed\n", "invalid YAML: ", 2),
        ("- just\n- a list\n", "the top level must be a mapping", None),
        ("plain text\n", "the top level must be a mapping", None),
        ("", "the file is empty", None),
        ("# only a comment\n", "the file is empty", None),
        ("a: &x 1\nb: *x\n", "invalid YAML: aliases (*name) are not supported", 2),
        ("x: !!python/object:os.system {}\n", "invalid YAML: tag !!python/object:os", 1),
        ("id: a\nx: !!timestamp 2026-02-30\n", "invalid YAML: tag !!timestamp is not supported", 2),
        ("x: !!int x\n", "invalid YAML: 'x' is not a valid !!int", 1),
        ("x: !!int 0x_\n", "invalid YAML: '0x_' is not a valid !!int", 1),
        ("x: !!bool maybe\n", "invalid YAML: 'maybe' is not a valid !!bool", 1),
        ("x:\n  y: !!float .nan\n", "invalid YAML: '.nan' is not a valid !!float", 2),
        ("x: 1.0e999\n", "invalid YAML: '1.0e999' is not a valid !!float", 1),
        ("x: " + "9" * 5000 + "\n", "invalid YAML: '999", 1),
        ("x: !!binary aGk=\n", "invalid YAML: tag !!binary is not supported", 1),
        ("x: !!set {a}\n", "invalid YAML: tag !!set is not supported", 1),
        ("x: !custom 1\n", "invalid YAML: tag !custom is not supported", 1),
        ('x: "\\ud800"\n', "invalid YAML: '\\ud800' is not a valid !!str", 1),
        ("id: a\nname: \x00\n", "invalid YAML: character #x0000 is not allowed", 2),
        ("id: a\n---\nid: b\n", "invalid YAML: but found another document", 2),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "the YAML is nested too deeply", None),
    ],
)
def test_unusable_yaml_gives_one_clear_error(
    tmp_path: Path, text: str, message: str, line: int | None
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(FileInvalid) as caught:
        load_sequence(path)

    [error] = caught.value.errors
    assert (error.path, error.line) == ("", line)
    assert error.message.startswith(message)


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "#" * MAX_FILE_BYTES)

    assert errors(path) == [("", f"file is {path.stat().st_size} bytes; the limit is 256 KiB")]
    with pytest.raises(FileInvalid):
        parse_sequence(VALID + "#" * MAX_FILE_BYTES)


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("Hello", "Grüß").encode("latin-1"))

    assert errors(path) == [("", "the file is not UTF-8 text")]


def test_yaml_12_scalars_keep_norwegian_and_unquoted_times(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID.replace("default_locale: en", "default_locale: no").replace("{en:", "{no:")
        + "send_window: {start: 9:30, end: 17:00, days: [mon]}\n",
    )

    sequence = load_sequence(path)

    assert sequence.default_locale == "no"
    assert sequence.send_window.start.isoformat() == "09:30:00"


def test_yaml_11_booleans_are_not_booleans(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "entry: {reentry: yes}\n")

    assert errors(path) == [("entry.reentry", "Input should be a valid boolean (got 'yes')")]


# --- fields ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone",
    [
        "UTC+3",
        "Mars/Olympus",
        "../etc",
        "",
        "Europe/../etc/passwd",
        "localtime",
        "Factory",
        "Etc/GMT+3",
    ],
)
def test_bad_timezones_are_rejected(tmp_path: Path, zone: str) -> None:
    path = write(tmp_path, VALID.replace("Europe/Berlin", json.dumps(zone)))

    assert error_paths(path) == ["default_timezone"]


@pytest.mark.parametrize("zone", ["America/Argentina/Buenos_Aires", "Asia/Kathmandu", "UTC"])
def test_iana_timezones_are_accepted(tmp_path: Path, zone: str) -> None:
    path = write(tmp_path, VALID.replace("Europe/Berlin", zone))

    assert load_sequence(path).default_timezone == zone


@pytest.mark.parametrize("subject", [r'"Hi\r\nBcc: x@example.com"', r'"Hi\nthere"', r'"Hi\r"'])
def test_subject_with_line_break_is_rejected(tmp_path: Path, subject: str) -> None:
    path = write(tmp_path, VALID.replace("subject: Hello again", f"subject: {subject}"))

    assert errors(path) == [
        ("steps[1].template.en.subject", "subject must be one line (no CR or LF)")
    ]


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: first
              dealy: 1d
              template: {en: {subject: s, html: x}}
              branches:
                not_opened: {withn: 3d, goto: exit}
            """
        )
        + "colour: blue\n",
    )

    found = dict(errors(path))

    assert found["steps[0].dealy"].startswith("unknown key; did you mean 'delay'? allowed here: ")
    assert found["steps[0].branches.not_opened.withn"].startswith(
        "unknown key; did you mean 'within'?"
    )
    assert found["steps[0].branches.not_opened.within"] == "is required"
    assert "allowed here: consent, default_locale, " in found["colour"]


def test_typo_in_branch_name_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("not_opened:", "not_open:"))

    [(where, message)] = errors(path)
    assert where == "steps[0].branches.not_open"
    assert "did you mean 'not_opened'?" in message


def test_send_window_frequency_cap_and_entry_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID
        + """\
send_window: {start: "11:00", end: "09:00"}
frequency_cap: {max: "3", per: week}
entry: {cooldown: 90d}
""",
    )

    assert errors(path) == [
        ("send_window", "start must be earlier than end (a send window cannot wrap midnight)"),
        ("frequency_cap.max", "Input should be a valid integer (got '3')"),
        ("entry", "cooldown only applies when reentry is true"),
    ]


def test_a_transactional_sequence_is_never_capped(tmp_path: Path) -> None:
    capped = write(tmp_path, VALID + "transactional: true\nfrequency_cap: {max: 1, per: day}\n")
    assert errors(capped) == [
        (
            "frequency_cap",
            "a transactional sequence is never counted or capped: remove frequency_cap",
        )
    ]
    assert error_paths(write(tmp_path, VALID + 'transactional: "yes"\n')) == ["transactional"]
    assert load_sequence(write(tmp_path, VALID + "transactional: true\n")).transactional


def test_wait_until_must_be_a_time_and_day_the_window_allows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: first
              template: {en: {subject: s, html: x}}
            - id: second
              wait_until: {time: "18:30"}
              template: {en: {subject: s, html: x}}
            - id: third
              wait_until: {time: "12:15", days: [sat, sun]}
              template: {en: {subject: s, html: x}}
            - id: fourth
              wait_until: {time: "12:45"}
              template: {en: {subject: s, html: x}}
            """
        )
        + 'send_window: {start: "09:00", end: "17:00",'
        + ' quiet_hours: {start: "12:30", end: "13:00"}}\n',
    )

    assert errors(path) == [
        ("steps[1].wait_until.time", "18:30 is outside the send window 09:00-17:00"),
        ("steps[2].wait_until.days", "none of these days is in the send window's days"),
        ("steps[3].wait_until.time", "12:45 is in the quiet hours"),
    ]


def test_a_branch_to_the_step_that_follows_at_once_is_an_error(tmp_path: Path) -> None:
    readme_trap = VALID.replace("    next: exit\n", "", 1)
    assert errors(write(tmp_path, readme_trap)) == [
        (
            "steps[0].branches.not_opened",
            "'resend' is also this step's next step, sent right after it (it has no delay), "
            "so this branch changes nothing: set `next` on this step (e.g. next: exit) or give "
            "'resend' a delay",
        )
    ]
    opened = readme_trap.replace("not_opened: {within: 3d, goto: resend}", "opened: resend")
    assert error_paths(write(tmp_path, opened)) == ["steps[0].branches.opened"]
    delayed = readme_trap.replace("  - id: resend\n", "  - id: resend\n    delay: 4d\n")
    assert load_sequence(write(tmp_path, delayed)).next_of("first") == "resend"


def test_locales_must_look_like_locales(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("{en: {subject: Hello,", "{EN: {subject: Hello,"))

    assert errors(path) == [
        ("steps[0].template", "no template for default_locale 'en' (the fallback locale)"),
        ("steps[0].template.EN", "key: must be a locale like en or pt-BR (got 'EN')"),
    ]


def test_days_are_normalized_to_week_order(tmp_path: Path) -> None:
    path = write(
        tmp_path, VALID + "send_window: {start: '09:00', end: '10:00', days: [thu, tue]}\n"
    )

    assert load_sequence(path).send_window.days == ("tue", "thu")


# --- steps and references ----------------------------------------------------------------------


def test_unknown_targets_are_reported_where_they_are_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: first
              template: {en: {subject: s, html: x}}
              next: third
              branches:
                clicked: {goto: fourth, engagement: any}
                opened: fifth
            """
        ),
    )

    assert errors(path) == [
        ("steps[0].next", "unknown step 'third'"),
        ("steps[0].branches.clicked.goto", "unknown step 'fourth'"),
        ("steps[0].branches.opened", "unknown step 'fifth'"),
    ]


def test_default_locale_is_required_in_every_step_and_variant(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: first
              template: {de: {subject: s, html: x}}
            - id: second
              variants:
                - {id: a, weight: 1, template: {en: {subject: s, html: x}}}
                - {id: b, weight: 1, template: {fr: {subject: s, html: x}}}
            """
        ),
    )

    assert error_paths(path) == ["steps[0].template", "steps[1].variants[1].template"]


def test_zero_delay_cycle_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: first
              template: {en: {subject: s, html: x}}
            - id: second
              template: {en: {subject: s, html: x}}
              branches:
                opened: first
            """
        ),
    )

    assert errors(path) == [
        (
            "steps[1].branches.opened",
            "loop with no delay (first -> second -> first); "
            "add a delay or wait_until to one of its steps",
        )
    ]


@pytest.mark.parametrize(
    "fix",
    [
        ("  - id: first\n", "  - id: first\n    delay: 1d\n"),
        ("  - id: first\n", "  - id: first\n    wait_until: {time: '10:00', days: [mon]}\n"),
        ("opened: first", "not_opened: {within: 1h, goto: first}"),
    ],
)
def test_a_loop_that_waits_is_allowed(tmp_path: Path, fix: tuple[str, str]) -> None:
    text = with_steps(
        """\
        - id: first
          template: {en: {subject: s, html: x}}
        - id: second
          template: {en: {subject: s, html: x}}
          branches:
            opened: first
        """
    )
    assert fix[0] in text

    assert len(load_sequence(write(tmp_path, text.replace(*fix))).steps) == 2


def test_step_shape_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: exit
              template: {en: {subject: s, html: x}}
            - id: both
              template: {en: {subject: s, html: x}}
              variants:
                - {id: a, weight: 1, template: {en: {subject: s, html: x}}}
                - {id: b, weight: 1, template: {en: {subject: s, html: x}}}
            - id: twice
              delay: 1d
              wait_until: {time: "10:00"}
              template: {en: {subject: s, html: x}}
            - id: ab
              variants:
                - {id: a, weight: 0, template: {en: {subject: s, html: x}}}
                - {id: a, weight: 1, template: {en: {subject: s, html: x}}}
            - id: gone
              delay: 1d
              template: {en: {subject: s, html: x}}
              branches: {unsubscribed: ab}
            """
        ),
    )

    assert errors(path) == [
        ("steps[0].id", "'exit' is reserved as a target that ends the sequence"),
        ("steps[1]", "give exactly one of template or variants"),
        ("steps[2]", "give at most one of delay or wait_until"),
        ("steps[3].variants[0].weight", "Input should be greater than 0 (got 0)"),
        ("steps[4].branches", "unsubscribed contacts are never emailed again: use 'exit'"),
    ]


def test_duplicate_variant_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: ab
              variants:
                - {id: a, weight: 1, template: {en: {subject: s, html: x}}}
                - {id: a, weight: 2, template: {en: {subject: s, html: x}}}
            """
        ),
    )

    assert errors(path) == [("steps[0]", "variant ids must be unique")]


def test_unreachable_steps_are_listed() -> None:
    assert unreachable_steps(parse_sequence(VALID)) == ()  # through the branch
    no_branch = VALID.replace("goto: resend", "goto: exit")
    assert unreachable_steps(parse_sequence(no_branch)) == ("resend",)
    assert unreachable_steps(parse_sequence(no_branch.replace("    next: exit\n", "", 1))) == ()


def test_direct_construction_runs_the_cross_step_checks() -> None:
    data = yaml.safe_load(VALID)
    data["steps"][0]["branches"]["not_opened"]["goto"] = "nowhere"

    with pytest.raises(ValidationError, match="unknown step 'nowhere'"):
        Sequence.model_validate(data)


# --- template files ----------------------------------------------------------------------------


def test_template_files_must_stay_next_to_the_sequence(tmp_path: Path) -> None:
    (tmp_path / "secret.html").write_text("<p>secret</p>")
    (tmp_path / "seqs").mkdir()
    path = write(
        tmp_path,
        with_steps(
            """\
            - id: first
              template:
                en: {subject: s, html_file: ../secret.html, text_file: missing.txt}
            """
        ),
        name="seqs/trial.yaml",
    )

    assert errors(path) == [
        (
            "steps[0].template.en.html_file",
            "'../secret.html' is outside the sequence file's folder",
        ),
        (
            "steps[0].template.en.text_file",
            "template file 'missing.txt' not found next to the sequence file",
        ),
    ]


def test_template_files_need_a_base_directory() -> None:
    text = VALID.replace('html: "<p>hi</p>"', "html_file: a.html", 1)

    with pytest.raises(FileInvalid, match=r"steps\[0\]\.template\.en\.html_file: template"):
        parse_sequence(text)


# --- versions ----------------------------------------------------------------------------------


def test_json_round_trip_keeps_the_hash(tmp_path: Path) -> None:
    sequence = load_sequence(EXAMPLE)

    stored = Sequence.from_json(sequence.to_json())

    assert stored == sequence
    assert stored.content_hash() == sequence.content_hash()


def test_equivalent_spellings_hash_the_same() -> None:
    spelled_out = (
        VALID.replace("within: 3d", "within: 72h", 1)
        + "send_window: {start: '09:00', end: '17:00', days: [fri, mon, tue, wed, thu]}\n"
        + "entry: {reentry: false}\n"
    )

    assert parse_sequence(spelled_out).content_hash() == parse_sequence(VALID).content_hash()
    two_locales = (
        'template: {en: {subject: Hello, html: "<p>hi</p>"}, de: {subject: Hallo, html: x}}'
    )
    reordered = 'template: {de: {subject: Hallo, html: x}, en: {subject: Hello, html: "<p>hi</p>"}}'
    first_line = 'template: {en: {subject: Hello, html: "<p>hi</p>"}}'
    uneven = "uneven_locales: true\n"  # only the first step speaks German
    assert (
        parse_sequence(VALID.replace(first_line, two_locales) + uneven).content_hash()
        == parse_sequence(VALID.replace(first_line, reordered) + uneven).content_hash()
    )
    changed = parse_sequence(VALID.replace("Hello again", "Hello again!"))
    assert changed.content_hash() != parse_sequence(VALID).content_hash()


def test_hash_changes_when_a_template_file_changes(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("<p>one</p>")
    path = write(tmp_path, VALID.replace('html: "<p>hi</p>"', "html_file: a.html", 1))
    before = load_sequence(path).content_hash()

    (tmp_path / "a.html").write_text("<p>two</p>")

    assert load_sequence(path).content_hash() != before


def test_from_json_rechecks_stored_versions() -> None:
    data = json.loads(parse_sequence(VALID).to_json())
    data["steps"][1]["id"] = "first"

    with pytest.raises(FileInvalid) as caught:
        Sequence.from_json(json.dumps(data))
    assert [e.path for e in caught.value.errors] == [
        "steps[0].branches.not_opened.goto",
        "steps[1].id",
    ]
    with pytest.raises(FileInvalid, match="invalid JSON"):
        Sequence.from_json("{")


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("48h", timedelta(hours=48)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0d", "0m", "-1d", "3", "d", "3 days", "1.5h", "3D", "1d12h", ""])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_zero_only_where_allowed_and_no_absurd_lengths() -> None:
    assert parse_duration("0m", allow_zero=True) == timedelta(0)
    with pytest.raises(ValueError, match="limit"):
        parse_duration("99999w")


@given(st.integers(min_value=1, max_value=3650 * 24 * 60))
def test_format_duration_round_trips(minutes: int) -> None:
    value = timedelta(minutes=minutes)

    text = format_duration(value)

    assert parse_duration(text) == value
    assert len(text) <= len(f"{minutes}m")


@given(st.integers(min_value=1, max_value=520), st.sampled_from("mhdw"))
def test_parse_then_format_is_canonical(amount: int, unit: str) -> None:
    value = parse_duration(f"{amount}{unit}")

    assert parse_duration(format_duration(value)) == value
