"""Property-based fuzzing of every public input, on moto.

Every `/api` route (found in the app's route table, so new routes are fuzzed too) is driven
through chalice's test client, and every CLI command (found by walking the click group)
through click's runner, with generated hostile documents: YAML with arbitrary tags, scalars,
nesting, anchors and aliases, spliced into real model files; JSON and JSON Lines with extreme
numbers, depth and lone surrogates; CSV with formulas, huge and odd cells; odd encodings and
oversized bodies; hostile ids, query strings and option values. What must hold:

- no 500 (and no crash of a command): a 4xx in the project's error shape, `{"error": ...}`;
- nothing stored from a rejected document (the table is unchanged after a 4xx, or after a
  command that refused its input);
- bounded time, by the limits on sizes, depth and template work (no timing asserts).

`make test` runs the bounded, derandomised profile `fuzz-ci`; `make fuzz` runs `fuzz-long`
(NURTURE_FUZZ_PROFILE selects it; NURTURE_FUZZ_EXAMPLES overrides the number of examples).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import click
import pytest
import yaml
from chalice.test import Client
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib import services
from chalicelib.cli import nurture
from chalicelib.config import settings as config
from chalicelib.conversions import sign_request
from chalicelib.sequences import load_sequence
from chalicelib.store import Table
from chalicelib.tokens import Purpose
from tests.conftest import CONVERSION_SECRET, token_for

ROOT = Path(__file__).resolve().parent.parent
KEY = "Bearer api-key-0123456789abcdef"
_HEALTH = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "fuzz-ci", max_examples=8, deadline=None, derandomize=True, suppress_health_check=_HEALTH
)
settings.register_profile(
    "fuzz-long", max_examples=300, deadline=None, database=None, suppress_health_check=_HEALTH
)
PROFILE = settings.get_profile(os.environ.get("NURTURE_FUZZ_PROFILE", "fuzz-ci"))
if "NURTURE_FUZZ_EXAMPLES" in os.environ:
    PROFILE = settings(PROFILE, max_examples=int(os.environ["NURTURE_FUZZ_EXAMPLES"]))
fuzz = settings(PROFILE)

# ---------------------------------------------------------------------------------------------
# A world with something in it, so hostile requests also reach the deeper paths

COURSE = (ROOT / "examples" / "sequences" / "course.yaml").resolve()
SEGMENT = ROOT / "examples" / "segments" / "pricing-curious.yaml"
STAGES = ROOT / "examples" / "stages.yaml"
COURSE_DOC = json.loads(load_sequence(COURSE).to_json())


@pytest.fixture
def world(table: Table, client: Client) -> Iterator[dict[str, str]]:
    services.client("sesv2").create_email_identity(EmailIdentity=config().sender)
    services.client("scheduler").create_schedule_group(Name="nurture")
    headers = {"authorization": KEY, "content-type": "application/yaml"}
    pushed = client.http.post("/api/sequences", headers=headers, body=yaml.safe_dump(COURSE_DOC))
    assert pushed.status_code == 201, pushed.body
    imported = client.http.post(
        "/api/contacts",
        headers={"authorization": KEY, "content-type": "text/csv"},
        body=b"email,first_name,timezone\nann@example.com,Ann,Europe/Riga\n",
    )
    assert imported.status_code == 200, imported.body
    [profile] = list(table.profiles())
    yield {"contact_id": str(profile["contact_id"]), "email": "ann@example.com"}


def stored_items() -> int:
    return int(services.client("dynamodb").scan(TableName=config().table, Select="COUNT")["Count"])


# ---------------------------------------------------------------------------------------------
# Hostile pieces

WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "-",
        "--help",
        "\x00",
        "\r\n",
        "\u2028",
        "\ufeff",
        "\u202e",
        "é",
        "😀",
        "²",
        "١٢٣",
        "=cmd|' /C calc'!A0",
        "<script>alert(1)</script>",
        "{{ ''.__class__.__mro__ }}",
        "' OR 1=1 --",
        "../../etc/passwd",
        "C#x",
        "EV#",
        "%00",
        "%2F",
        "9" * 50,
        "x" * 3000,
        "ann@example.com",
        "ANN@EXAMPLE.COM ",
        "course",
        "lesson_1",
    ]
)
TEXT = st.one_of(WEIRD_TEXT, st.text(max_size=40))
NUMBER_LITERALS = st.sampled_from(
    [
        "0",
        "-0",
        "-0.0",
        "1e999",
        "-1e999",
        "1e-999",
        "1e-131",
        "9.99e125",
        "1e126",
        "NaN",
        "Infinity",
        "-Infinity",
        "9" * 39,
        "9" * 5000,
        "0." + "0" * 400 + "1",
        "123456789012345678901234567890123456789.5",
        "1_000",
        "0x1F",
    ]
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252"])


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


# --- YAML ---

YAML_SCALARS = st.one_of(
    st.sampled_from(
        [
            "~",
            "null",
            "yes",
            "no",
            "on",
            "true",
            "FALSE",
            ".inf",
            "-.Inf",
            ".nan",
            "2026-02-30",
            "2026-01-01 25:61:61",
            "10:30",
            "3d",
            "0d",
            "99999999w",
            "Europe/Riga",
            "Mars/Olympus",
            '"\\ud800"',
            '"\\U0010FFFF"',
            '"\\x00"',
            "'it''s'",
            '"{{ contact.first_name }}"',
            '"{% for i in range(100000) %}{{ i }}{% endfor %}"',
            "\"<a href='javascript:alert(1)'>x</a>\"",
            '"<a href=\\"https://bücher.example/stra\\u2028sse\\">x</a>"',
        ]
    ),
    NUMBER_LITERALS,
    st.integers(min_value=-(10**45), max_value=10**45).map(str),
    st.floats().map(repr),
    st.text(max_size=30).map(json.dumps),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12),
)
YAML_TAGS = st.sampled_from(
    [
        "",
        "",
        "",
        "!!str ",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!null ",
        "!!timestamp ",
        "!!binary ",
        "!!set ",
        "!!omap ",
        "!!pairs ",
        "!!map ",
        "!!seq ",
        "!!python/object/apply:os.system ",
        "!local ",
        "!<tag:yaml.org,2002:int> ",
    ]
)
YAML_ANCHORS = st.sampled_from(["", "", "&a ", "&b "])
YAML_KEYS = st.one_of(
    st.sampled_from(["id", "name", "steps", "template", "html", "subject", "delay", "<<", "? x"]),
    YAML_SCALARS,
)


def _flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pairs = st.lists(st.tuples(YAML_KEYS, children), max_size=4)
    return st.one_of(
        pairs.map(lambda kvs: "{" + ", ".join(f"{k}: {v}" for k, v in kvs) + "}"),
        st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
    )


YAML_NODES = st.recursive(
    st.tuples(YAML_TAGS, YAML_ANCHORS, st.one_of(YAML_SCALARS, st.sampled_from(["*a", "*b"]))).map(
        "".join
    ),
    lambda children: st.tuples(YAML_TAGS, YAML_ANCHORS, _flow(children)).map("".join),
    max_leaves=12,
)
MODEL_PATHS = [
    ("id",),
    ("name",),
    ("default_timezone",),
    ("default_locale",),
    ("window",),
    ("steps",),
    ("steps", 0),
    ("steps", 0, "delay"),
    ("steps", 0, "template"),
    ("steps", 0, "template", "en", "subject"),
    ("steps", 0, "template", "en", "html"),
    ("steps", 0, "branches"),
    ("steps", 1, "id"),
]


def _spliced(path: tuple[str | int, ...], fragment: str) -> str:
    """The course sequence with the value at `path` replaced by a hostile YAML fragment."""
    doc = json.loads(json.dumps(COURSE_DOC))
    holder: Any = doc
    for part in path[:-1]:
        holder = holder[part] if isinstance(holder, dict) or isinstance(part, int) else {}
    holder[path[-1]] = "__HOLE__"
    return yaml.safe_dump(doc, sort_keys=False, width=10**6).replace("__HOLE__", fragment)


YAML_TEXT = st.one_of(
    YAML_NODES,
    st.tuples(st.sampled_from(MODEL_PATHS), YAML_NODES).map(lambda t: _spliced(*t)),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "a: " + "[" * n + "]" * n),
    st.integers(min_value=1, max_value=50_000).map(
        lambda n: "".join(f"k{i}: 1\n" for i in range(n))
    ),
    st.just("a: " + "x" * (300 * 1024)),
    st.just("id: a\n---\nid: b\n"),
)
YAML_BODIES = st.one_of(
    st.tuples(YAML_TEXT, ENCODINGS).map(lambda t: encoded(*t)),
    st.binary(max_size=2000),
    YAML_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass") + b"\xff\x00"),
)

# --- JSON ---

JSON_KEYS = st.one_of(
    st.sampled_from(
        [
            "contact_id",
            "email",
            "sequence_id",
            "step_id",
            "days",
            "until",
            "conversion_id",
            "token",
            "value",
            "currency",
            "contacts",
        ]
    ),
    st.text(max_size=10),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**45), max_value=10**45),
        st.floats(),
        TEXT,
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(JSON_KEYS, children, max_size=4)
    ),
    max_leaves=16,
)


def _json_object_with_raw(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}"


JSON_TEXT = st.one_of(
    JSON_VALUES.map(lambda value: json.dumps(value, allow_nan=True)),
    st.lists(
        st.tuples(
            JSON_KEYS, st.one_of(NUMBER_LITERALS, st.just('"\\ud800"'), TEXT.map(json.dumps))
        ),
        max_size=5,
    ).map(_json_object_with_raw),
    st.integers(min_value=1, max_value=100_000).map(lambda n: "[" * n + "]" * n),
    st.just('{"contact_id": "x", "contact_id": "y"}'),
    st.just('{"a": 1} trailing'),
    st.just(""),
)
JSON_BODIES = st.one_of(
    st.tuples(JSON_TEXT, ENCODINGS).map(lambda t: encoded(*t)),
    st.binary(max_size=500),
    st.just(b'{"contact_id": "' + b"x" * 100_000 + b'"}'),
)

# --- Contact files ---

CSV_COLUMNS = st.lists(
    st.sampled_from(
        ["email", "first_name", "timezone", "country", "locale", "tags", "consent_at", "score"]
    )
    | TEXT,
    min_size=1,
    max_size=6,
)
CELLS = st.one_of(TEXT, NUMBER_LITERALS, st.sampled_from(["ann@example.com", "=1+1", '"', "\n"]))


@st.composite
def csv_documents(draw: Any) -> str:
    columns = draw(CSV_COLUMNS)
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(columns) + 1), max_size=8))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


JSONL_LINES = st.one_of(
    JSON_TEXT,
    st.lists(
        st.tuples(
            st.sampled_from(["email", "first_name", "timezone", "tags", "score", "plan"]) | TEXT,
            st.one_of(NUMBER_LITERALS, TEXT.map(json.dumps), st.just('"ann@example.com"')),
        ),
        max_size=5,
    ).map(_json_object_with_raw),
)
CONTACT_BODIES = st.one_of(
    st.tuples(csv_documents(), ENCODINGS).map(lambda t: encoded(*t)),
    st.tuples(st.lists(JSONL_LINES, max_size=6).map("\n".join), ENCODINGS).map(
        lambda t: encoded(*t)
    ),
    st.binary(max_size=1000),
    st.just(b"email\n" + b"a@example.com\n" * 6000),
)

# ---------------------------------------------------------------------------------------------
# /api routes


def api_routes() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (path, method)
        for path, methods in app.routes.items()
        if path.startswith("/api/")
        for method in methods
    )


def route_entry(path: str, method: str) -> Any:
    from app import app

    return app.routes[path][method]


def body_strategy(content_type: str) -> st.SearchStrategy[bytes]:
    if "json" in content_type and "ndjson" not in content_type and "jsonl" not in content_type:
        return JSON_BODIES
    if "yaml" in content_type or content_type == "text/plain":
        return YAML_BODIES
    if content_type in ("text/csv", "application/x-ndjson", "application/jsonl"):
        return CONTACT_BODIES
    return st.binary(max_size=500)


QUERY_KEYS = st.one_of(
    st.sampled_from(
        [
            "contact_id",
            "sequence_id",
            "email",
            "version",
            "since",
            "until",
            "from",
            "to",
            "format",
            "cursor",
            "limit",
            "page",
        ]
    ),
    TEXT,
)


@st.composite
def api_requests(draw: Any, path: str, method: str, known: dict[str, str]) -> dict[str, Any]:
    entry = route_entry(path, method)
    ids = st.one_of(st.sampled_from([*known.values(), "course", "lesson_1"]), TEXT)
    params = {name: draw(ids.filter(lambda v: v not in ("", "/"))) for name in entry.view_args}
    url = path.format(**{name: quote(value, safe="") for name, value in params.items()})
    query = draw(st.lists(st.tuples(QUERY_KEYS, st.one_of(ids, NUMBER_LITERALS)), max_size=4))
    if query:
        url += "?" + urlencode(query)
    # Mostly well-formed envelopes, so most examples reach the route's own checks (hypothesis
    # favours both ends of a list: the usual choice sits at both).
    headers = {
        "authorization": draw(st.sampled_from([KEY, "", "Bearer x", "Basic eDp5"] + [KEY] * 8))
    }
    body = b""
    if entry.content_types and method in ("POST", "PUT", "PATCH"):
        usual = list(entry.content_types)
        content_type = draw(st.sampled_from([*usual, "text/html", "", "*/*", *usual * 4]))
        headers["content-type"] = content_type
        body = draw(body_strategy(content_type))
        if path == "/api/conversions" and draw(st.booleans()):
            headers["x-nurture-signature"] = sign_request(CONVERSION_SECRET, body, int(time.time()))
    return {"method": method, "path": url, "headers": headers, "body": body}


def check_answer(request: dict[str, Any], response: Any) -> None:
    where = f"{request['method']} {request['path'][:200]} body={request['body'][:200]!r}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.body[:500]!r}"
    if response.status_code >= 400:
        assert response.headers.get("Content-Type") == "application/json", where
        doc = json.loads(response.body)
        assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], where


@pytest.mark.parametrize(("path", "method"), api_routes())
@fuzz
@given(data=st.data())
def test_every_api_route_answers_hostile_requests_in_shape(
    client: Client, world: dict[str, str], path: str, method: str, data: Any
) -> None:
    request = data.draw(api_requests(path, method, world))
    before = stored_items()
    response = client.http.request(**request)
    event(f"{response.status_code}")
    check_answer(request, response)
    rows_taken = path == "/api/contacts" and response.status_code == 422
    if response.status_code >= 400 and not rows_taken:
        assert stored_items() == before, f"a rejected {method} {path} stored something"


# ---------------------------------------------------------------------------------------------
# Recipient routes: the pixel always answers, clicks and pages answer 2xx, 302 or a 4xx page

AGENTS = st.one_of(TEXT, st.sampled_from(["", "Mozilla/5.0", "curl/8", "x" * 100_000]))
ACCEPTS = st.sampled_from(["", "*/*", "image/webp,*/*", "text/html", "application/json", "x"])


@st.composite
def recipient_requests(draw: Any) -> dict[str, Any]:
    purpose = draw(st.sampled_from([Purpose.OPEN, Purpose.CLICK, Purpose.UNSUBSCRIBE]))
    genuine = token_for(
        purpose,
        link=0 if purpose is Purpose.CLICK else None,
        url=draw(st.sampled_from(["https://e.example/", "https://bücher.example/ü"]))
        if purpose is Purpose.CLICK
        else None,
    )
    token = draw(
        st.one_of(
            st.just(genuine),
            st.integers(min_value=0, max_value=len(genuine) - 1).map(
                lambda i: genuine[:i] + ("A" if genuine[i] != "A" else "B") + genuine[i + 1 :]
            ),
            TEXT.filter(bool).map(lambda t: quote(t, safe="")),
        )
    )
    route = {Purpose.OPEN: "o", Purpose.CLICK: "c", Purpose.UNSUBSCRIBE: "u"}[purpose]
    method = draw(st.sampled_from(["GET", "HEAD", "POST"] if route == "u" else ["GET", "HEAD"]))
    headers = {"user-agent": draw(AGENTS), "accept": draw(ACCEPTS)}
    body = b""
    if method == "POST":
        headers["content-type"] = draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "text/plain",
                ]
            )
        )
        body = draw(
            st.one_of(
                st.just(b"List-Unsubscribe=One-Click"),
                st.lists(st.tuples(TEXT, TEXT), max_size=5).map(
                    lambda pairs: urlencode(pairs).encode()
                ),
                st.binary(max_size=300),
            )
        )
    return {"method": method, "path": f"/{route}/{token}", "headers": headers, "body": body}


@fuzz
@given(request=recipient_requests())
def test_recipient_routes_never_fail(client: Client, world: dict[str, str], request: Any) -> None:
    response = client.http.request(**request)
    assert response.status_code < 500, (request, response.status_code, response.body[:300])
    if request["path"].startswith("/o/") and request["method"] == "GET":
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    if response.status_code == 302:
        assert response.headers["Location"].isascii()


# ---------------------------------------------------------------------------------------------
# CLI commands


def cli_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(nurture, ())
    return sorted(found)


def cli_command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = nurture
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def file_contents(path: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    if path[0] == "contacts" or path == ("enroll",):
        return CONTACT_BODIES
    return YAML_BODIES


@st.composite
def cli_invocations(
    draw: Any, path: tuple[str, ...], folder: Path, known: dict[str, str]
) -> list[str]:
    command = cli_command(path)
    args: list[str] = list(path)
    values = st.one_of(st.sampled_from([*known.values(), "course", "lesson_1"]), TEXT)
    for param in command.params:
        if isinstance(param, click.Option) and not draw(st.booleans()):
            continue
        kind = param.type
        if isinstance(param, click.Option) and param.is_flag:
            args.append(param.opts[0])
            continue
        count = draw(st.integers(min_value=0, max_value=3)) if param.nargs == -1 else 1
        for _ in range(count):
            if isinstance(kind, click.Path | click.File) and isinstance(param, click.Argument):
                name = draw(st.sampled_from(["in.yaml", "in.csv", "in.jsonl", "in.txt"]))
                (folder / name).write_bytes(draw(file_contents(path)))
                value = str(folder / name)
            elif isinstance(kind, click.File):  # an output (or --file input) of the command
                target = folder / "given.txt"
                target.write_bytes(draw(CONTACT_BODIES))
                value = str(target) if "file" in (param.name or "") else str(folder / "out.txt")
            elif isinstance(kind, click.Choice):
                value = draw(st.sampled_from(list(kind.choices)) | TEXT)
            elif isinstance(kind, click.IntRange | click.types.IntParamType):
                value = draw(NUMBER_LITERALS | st.integers().map(str) | TEXT)
            else:
                value = draw(values)
            if isinstance(param, click.Option):
                args.append(param.opts[0])
            args.append(value)
    return args


@pytest.mark.parametrize("path", cli_commands(), ids=" ".join)
@fuzz
@given(data=st.data())
def test_every_command_refuses_hostile_input_cleanly(
    world: dict[str, str], tmp_path: Path, path: tuple[str, ...], data: Any
) -> None:
    args = data.draw(cli_invocations(path, tmp_path, world))
    before = stored_items()
    result = CliRunner().invoke(nurture, args, catch_exceptions=True)
    event(f"exit {result.exit_code}")
    where = f"nurture {' '.join(a[:80] for a in args)}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{where} crashed: {result.exception!r}\n{result.output[-2000:]}"
    )
    assert result.exit_code in (0, 1, 2), where
    assert "Traceback" not in result.output, where
    if result.exit_code == 2 or (result.exit_code == 1 and path[-1] in ("push", "validate")):
        assert stored_items() == before, f"{where} refused its input but stored something"


def test_the_fuzz_suite_reaches_every_route_and_command() -> None:
    """A guard: the suite keeps up as routes and commands are added."""
    assert len(api_routes()) >= 10 and ("/api/contacts", "POST") in api_routes()
    assert ("sequences", "push") in cli_commands() and ("contacts", "import") in cli_commands()
