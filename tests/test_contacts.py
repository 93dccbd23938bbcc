"""Contact import: parsing and validation, idempotent writes, export, and the CLI."""

from __future__ import annotations

import codecs
import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chalicelib import services, store
from chalicelib.cli import nurture
from chalicelib.contactfiles import export_csv, read_csv, read_jsonl
from chalicelib.contacts import (
    ID_LENGTH,
    MAX_CELL,
    Contact,
    Placed,
    Rejected,
    import_contacts,
    new_contact_id,
)
from chalicelib.emails import hash_identity, normalise_email
from chalicelib.store import Table

HEADER = "email,first_name,last_name,company,timezone,country,tags,plan\n"


def run_import(path: Path, *args: str) -> Result:
    return CliRunner().invoke(nurture, ["contacts", "import", str(path), *args])


def write(tmp_path: Path, text: str | bytes, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def rows_of(text: str | bytes) -> list[Contact | Rejected]:
    return list(read_csv(io.BytesIO(text.encode() if isinstance(text, str) else text)))


def rejected_lines(rows: list[Contact | Rejected]) -> dict[int, str]:
    return {r.line: r.field for r in rows if isinstance(r, Rejected)}


def all_items() -> list[dict[str, Any]]:
    """Every item in key order, as stored attribute values.

    Read from moto's backend: scanning 20,000 items through moto's serializer takes ~30 s.
    """
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    items = [item.to_json()["Attributes"] for item in backend.get_table("nurture-test").all_items()]
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def profile_by_email(table: Table, address: str) -> dict[str, Any]:
    known = table.known_contacts([hash_identity(address)])[hash_identity(address)]
    assert known.profile is not None, address
    return dict(known.profile)


def suppress(address: str) -> None:
    services.client("dynamodb").put_item(
        TableName="nurture-test",
        Item={"PK": {"S": f"X#{hash_identity(address)}"}, "SK": {"S": "SUPPRESS"}},
    )


def summary(result: Result) -> str:
    return result.stdout.splitlines()[0]


# ---------------------------------------------------------------- the big file


def big_file(tmp_path: Path, rows: int = 10_000, every: int = 200) -> tuple[Path, list[int]]:
    """`rows` contacts, one in `every` malformed in a rotating way; returns the bad lines."""
    breakers = [
        lambda n: f"user{n}@example,First{n},Last,Co,Europe/Riga,DE,a;b,gold",
        lambda n: f"user{n}@example.com,First{n},Last,Co,Mars/Olympus,DE,a;b,gold",
        lambda n: f"user{n}@example.com,First{n},Last,Co,UTC+3,DE,a;b,gold",
        lambda n: f"user{n}@example.com,First{n},Last,Co,Europe/Riga,XX,a;b,gold",
        lambda n: f"user{n}@example.com,{'x' * (MAX_CELL + 1)},Last,Co,Europe/Riga,DE,a,gold",
    ]
    lines, bad = [HEADER], []
    for n in range(rows):
        if n % every == every - 1:
            lines.append(breakers[(n // every) % len(breakers)](n) + "\n")
            bad.append(n + 2)
        else:
            lines.append(f"user{n}@example.com,First{n},Last,=Co{n},Europe/Riga,de,a;b,gold\n")
    return write(tmp_path, "".join(lines)), bad


def test_ten_thousand_rows_import_once_and_a_rerun_changes_nothing(
    table: Table, tmp_path: Path
) -> None:
    path, bad = big_file(tmp_path)

    first = run_import(path)

    assert first.exit_code == 1
    assert summary(first) == "imported 9950, updated 0, unchanged 0, suppressed 0, rejected 50"
    reported = [
        int(line.split(":")[0].removeprefix("line "))
        for line in first.stdout.splitlines()[1:]
        if line.startswith("line ") and ":" in line
    ]
    assert reported == bad
    before = all_items()
    assert len(before) == 2 * 9950  # one email claim and one profile per contact

    second = run_import(path)

    assert summary(second) == "imported 0, updated 0, unchanged 9950, suppressed 0, rejected 50"
    assert all_items() == before


# ---------------------------------------------------------------- file handling


def test_bom_and_crlf_are_handled(table: Table, tmp_path: Path) -> None:
    text = codecs.BOM_UTF8 + b"Email,First_Name\r\nann@example.com,Ann\r\nbo@example.com,Bo\r\n"

    result = run_import(write(tmp_path, text))

    assert result.exit_code == 0, result.output
    assert summary(result) == "imported 2, updated 0, unchanged 0, suppressed 0, rejected 0"
    assert profile_by_email(table, "ann@example.com")["first_name"] == "Ann"


def test_embedded_newlines_keep_physical_line_numbers() -> None:
    text = (
        "email,company,timezone\n"
        'a@example.com,"two\nlines",Europe/Riga\n'  # lines 2-3
        'b@example.com,"three\r\nphysical\rlines",Mars/Olympus\n'  # lines 4-6
        "c@example.com,plain,UTC+3\n"  # line 7
    )

    rows = rows_of(text)

    assert rejected_lines(rows) == {4: "timezone", 7: "timezone"}
    assert isinstance(rows[0], Contact) and rows[0].fields["company"] == "two\nlines"


def test_huge_cell_rejects_only_its_row() -> None:
    text = f"email,company\na@example.com,{'x' * (MAX_CELL + 1)}\nb@example.com,ok\n"

    rows = rows_of(text)

    assert rejected_lines(rows) == {2: "company"}
    assert [r.line for r in rows if isinstance(r, Contact)] == [3]


def test_missing_email_column_refuses_the_file(table: Table, tmp_path: Path) -> None:
    result = run_import(write(tmp_path, "name,e-mail\nAnn,ann@example.com\n"))

    assert result.exit_code == 2
    assert "no 'email' column" in result.output and "e-mail" in result.output
    assert all_items() == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            "email,name\nbj\xf6rk@example.com,B\n".encode("latin-1"),
            "not UTF-8 (byte 0xF6 on line 2)",
        ),
        ("email\na@example.com\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_unknown_encodings_are_refused_clearly(
    table: Table, tmp_path: Path, data: bytes, expected: str
) -> None:
    result = run_import(write(tmp_path, data))

    assert result.exit_code == 2
    assert expected in result.output


def test_invalid_utf8_late_in_the_file_rejects_its_row() -> None:
    text = b"email,company\n" + b"a@example.com,x\n" * 5000 + b"b@example.com,\xff\n"

    assert rejected_lines(rows_of(text)) == {5002: "row"}


def test_bad_custom_column_name_refuses_the_file(table: Table, tmp_path: Path) -> None:
    result = run_import(write(tmp_path, "email,Plan Tier\na@example.com,gold\n"))

    assert result.exit_code == 2
    assert "plan tier" in result.output and "[a-z][a-z0-9_]" in result.output


def test_row_with_wrong_cell_count_is_rejected() -> None:
    assert rejected_lines(rows_of("email,company\na@example.com,x,y\nb@example.com\n")) == {
        2: "row",
        3: "row",
    }


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("raw", "stored", "identity"),
    [
        ("  Ann.Lee@Example.COM ", "Ann.Lee@example.com", "ann.lee@example.com"),
        ("user+tag@sub.example.org", "user+tag@sub.example.org", "user+tag@sub.example.org"),
        ('"john doe"@example.com', '"john doe"@example.com', '"john doe"@example.com'),
        ("ann@Bücher.example", "ann@bücher.example", "ann@xn--bcher-kva.example"),
    ],
)
def test_valid_emails_are_normalised(raw: str, stored: str, identity: str) -> None:
    assert normalise_email(raw) == (stored, identity)


@pytest.mark.parametrize(
    "raw",
    [
        "ann",
        "ann@example",
        "ann@@example.com",
        "a@b@example.com",
        "ann lee@example.com",
        ".ann@example.com",
        "ann..lee@example.com",
        "jürgen@example.com",
        "x" * 65 + "@example.com",
        "ann@" + "a" * 64 + ".com",
        "ann@" + ("a" * 60 + ".") * 5 + "com",
        "x" * 64 + "@" + ("a" * 62 + ".") * 3 + "com",
        "ann@-example.com",
        "ann@example.123",
        "ann@[192.0.2.1]",
        "",
    ],
)
def test_invalid_emails_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(raw)


def test_bad_timezones_are_listed_and_never_defaulted() -> None:
    zones = ["Mars/Olympus", "UTC+3", "../../etc/passwd", "Europe/../Riga", "EST5EDT"]
    text = "email,timezone\n" + "".join(f"u{n}@example.com,{z}\n" for n, z in enumerate(zones))
    text += "ok@example.com,America/Sao_Paulo\nnone@example.com,\nblank@example.com,  \n"

    rows = rows_of(text)

    assert rejected_lines(rows) == {n + 2: "timezone" for n in range(len(zones))}
    good = {r.email: r.fields.get("timezone") for r in rows if isinstance(r, Contact)}
    assert good == {
        "ok@example.com": "America/Sao_Paulo",
        "none@example.com": None,
        "blank@example.com": None,
    }


def test_jsonl_rows_with_lists_numbers_and_blank_timezone() -> None:
    lines = [
        {"email": "a@example.com", "tags": ["vip", " beta "], "score": 7, "ratio": 0.5},
        {"email": "b@example.com", "timezone": ""},
        {"email": "c@example.com", "nested": {"x": 1}},
        {"email": "d@example.com", "Bad-Name": "x"},
        {"first_name": "no email"},
    ]
    data = codecs.BOM_UTF8 + "\n".join(json.dumps(line) for line in lines).encode() + b"\n[1]\n{"

    rows = list(read_jsonl(io.BytesIO(data)))

    assert rejected_lines(rows) == {
        3: "nested",
        4: "Bad-Name",
        5: "email",
        6: "row",
        7: "row",
    }
    first, blank_zone = rows[0], rows[1]
    assert isinstance(blank_zone, Contact) and "timezone" not in blank_zone.fields
    assert isinstance(first, Contact)
    assert first.labels == {"tags": frozenset({"vip", "beta"})}
    assert dict(first.attributes) == {"score": 7, "ratio": Decimal("0.5")}


def test_locale_country_and_consent_are_normalised() -> None:
    text = (
        "email,locale,country,consent_at,consent_source\n"
        "a@example.com,pt_br,de,2026-03-29T02:30:00+02:00,signup form\n"
        "b@example.com,english,DEU,yesterday,\n"
        "c@example.com,en,,2026-03-29T02:30:00,\n"
    )

    rows = rows_of(text)

    first = rows[0]
    assert isinstance(first, Contact)
    assert first.fields == {
        "locale": "pt-BR",
        "country": "DE",
        "consent_at": "2026-03-29T00:30:00Z",
        "consent_source": "signup form",
    }
    assert rejected_lines(rows) == {3: "locale", 4: "consent_at"}
    assert "country" in str(rows[1]) and "consent_at" in str(rows[1])


# ---------------------------------------------------------------- import semantics


def test_case_and_space_duplicates_become_one_contact(table: Table, tmp_path: Path) -> None:
    text = "email,first_name\n Bob@Example.com,Bob\nbob@EXAMPLE.COM ,Robert\nBOB@example.com,B\n"

    result = run_import(write(tmp_path, text))

    assert summary(result) == "imported 1, updated 0, unchanged 0, suppressed 0, rejected 2"
    assert (
        "line 3: email: duplicate" in result.output and "line 4: email: duplicate" in result.output
    )
    profile = profile_by_email(table, "bob@example.com")
    assert (profile["email"], profile["first_name"]) == ("Bob@example.com", "Bob")


def test_blank_cells_never_overwrite(table: Table, tmp_path: Path) -> None:
    run_import(write(tmp_path, HEADER + "a@example.com,Ann,Lee,Acme,Europe/Riga,LV,x,gold\n"))
    before = profile_by_email(table, "a@example.com")

    result = run_import(write(tmp_path, HEADER + "a@example.com,,Lee-Smith,,,,y,\n"))

    assert summary(result) == "imported 0, updated 1, unchanged 0, suppressed 0, rejected 0"
    after = profile_by_email(table, "a@example.com")
    assert after["first_name"] == "Ann" and after["company"] == "Acme"
    assert (after["timezone"], after["country"]) == ("Europe/Riga", "LV")
    assert after["last_name"] == "Lee-Smith"
    assert after["tags"] == {"x", "y"}
    assert after["attributes"] == {"plan": "gold"}
    assert after["contact_id"] == before["contact_id"]


def test_no_op_rows_keep_updated_at(table: Table) -> None:
    row = rows_of("email,first_name\na@example.com,Ann\n")
    import_contacts(table, row, now="2026-01-01T00:00:00Z", new_id=lambda: "id1")

    report = import_contacts(table, row, now="2026-02-01T00:00:00Z", new_id=lambda: "id2")

    assert (report.imported, report.unchanged) == (0, 1)
    assert profile_by_email(table, "a@example.com")["updated_at"] == "2026-01-01T00:00:00Z"


def test_custom_attributes_merge_into_a_profile_created_elsewhere(table: Table) -> None:
    table.apply(store.email_claim_write(hash_identity("a@example.com"), "seeded", "t0"))
    table.put_profile("seeded", {"email": "a@example.com", "status": "subscribed"})

    rows = rows_of("email,plan\na@example.com,gold\n")
    import_contacts(table, rows, now="t1", new_id=lambda: "unused")
    import_contacts(table, rows_of("email,seats\na@example.com,5\n"), now="t2", new_id=str)

    assert table.profile("seeded")["attributes"] == {"plan": "gold", "seats": "5"}  # type: ignore[index]


def test_unsubscribed_contact_stays_unsubscribed(table: Table, tmp_path: Path) -> None:
    run_import(write(tmp_path, "email,first_name\na@example.com,Ann\n"))
    contact_id = profile_by_email(table, "a@example.com")["contact_id"]
    event = store.Event(
        contact_id, "unsubscribed", "2026-01-02T00:00:00Z", "ev1", attrs={"method": "page"}
    )
    table.apply(store.unsubscribe_write(event))

    result = run_import(write(tmp_path, "email,first_name\na@example.com,Annie\n"))

    assert summary(result).startswith("imported 0, updated 1")
    profile = profile_by_email(table, "a@example.com")
    assert (profile["status"], profile["unsubscribed_at"]) == (
        "unsubscribed",
        "2026-01-02T00:00:00Z",
    )
    assert profile["first_name"] == "Annie"


def test_suppressed_address_is_skipped(table: Table, tmp_path: Path) -> None:
    suppress("bounced@example.com")
    text = "email,first_name\nBounced@Example.com,B\nok@example.com,O\n"

    result = run_import(write(tmp_path, text))

    assert result.exit_code == 0
    assert summary(result) == "imported 1, updated 0, unchanged 0, suppressed 1, rejected 0"
    bounced = hash_identity("bounced@example.com")
    assert table.known_contacts([bounced])[bounced] == store.KnownContact(suppressed=True)


def test_claim_without_profile_is_completed_with_the_claimed_id(table: Table) -> None:
    """A crash between claiming the address and writing the profile heals on the next run."""
    table.apply(store.email_claim_write(hash_identity("a@example.com"), "claimed", "t0"))

    report = import_contacts(
        table, rows_of("email\na@example.com\n"), now="t1", new_id=lambda: "fresh"
    )

    assert report.imported == 1
    assert table.profile("claimed")["email"] == "a@example.com"  # type: ignore[index]


def test_contact_ids_are_random_not_derived_from_the_email(table: Table, tmp_path: Path) -> None:
    run_import(write(tmp_path, "email\na@example.com\n"))
    contact_id = profile_by_email(table, "a@example.com")["contact_id"]

    assert len(contact_id) == 16 and "example" not in contact_id
    assert contact_id not in hash_identity("a@example.com")


def test_generated_ids_never_look_like_an_option() -> None:
    ids = {new_contact_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == ID_LENGTH and i.isalnum() and i == i.lower() for i in ids)


def test_import_answers_the_id_of_every_row_created_matched_or_suppressed(table: Table) -> None:
    import_contacts(table, rows_of("email\nold@example.com\n"), now="t0", new_id=lambda: "old1")
    suppress("gone@example.com")
    placed: list[Placed] = []
    text = "email\nnew@example.com\nOLD@example.com\nnope\ngone@example.com\n"

    report = import_contacts(
        table, rows_of(text), now="t1", new_id=lambda: "new1", on_contact=placed.append
    )

    assert (report.rows, len(report.rejected)) == (4, 1)
    assert placed == [
        Placed(2, "new@example.com", "new1", "imported"),
        Placed(3, "OLD@example.com", "old1", "unchanged"),
        Placed(5, "gone@example.com", None, "suppressed"),
    ]


def test_cli_prints_the_first_ids_and_writes_all_with_ids(table: Table, tmp_path: Path) -> None:
    text = "email\n" + "".join(f"u{n}@example.com\n" for n in range(12))
    source = write(tmp_path, text)

    shown = run_import(source)
    listing = tmp_path / "ids.csv"
    again = run_import(source, "--ids", str(listing))

    assert shown.exit_code == 0, shown.output
    header, *rows = shown.stdout.splitlines()[1:]
    assert header == "line\temail\tcontact id\toutcome" and len(rows) == 11
    assert rows[-1] == "... and 2 more: write them all with --ids FILE"
    line, email, contact_id, outcome = rows[0].split("\t")
    assert (line, email, outcome) == ("2", "u0@example.com", "imported")
    assert profile_by_email(table, "u0@example.com")["contact_id"] == contact_id
    assert again.exit_code == 0 and "12 contact ids written to" in again.stdout
    written = list(csv.DictReader(listing.open(encoding="utf-8")))
    assert len(written) == 12 and written[0]["contact_id"] == contact_id
    assert {row["outcome"] for row in written} == {"unchanged"}


@pytest.mark.parametrize("text", ["email\n", "", "\n\n"])
def test_a_file_without_rows_does_nothing_and_fails(
    table: Table, tmp_path: Path, text: str
) -> None:
    result = run_import(write(tmp_path, text))

    assert result.exit_code != 0
    assert all_items() == []


def test_dry_run_writes_nothing(table: Table, tmp_path: Path) -> None:
    result = run_import(write(tmp_path, "email\na@example.com\n"), "--dry-run")

    assert result.exit_code == 0
    assert summary(result) == (
        "dry run, nothing written: imported 1, updated 0, unchanged 0, suppressed 0, rejected 0"
    )
    assert all_items() == []


# ---------------------------------------------------------------- export


FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


def test_formula_cells_are_stored_as_given_and_neutralised_on_export(
    table: Table, tmp_path: Path
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "first_name", "note"])
    for n, value in enumerate(FORMULAS):
        writer.writerow([f"u{n}@example.com", value, value])
    run_import(write(tmp_path, buffer.getvalue()))
    profiles = [profile_by_email(table, f"u{n}@example.com") for n in range(len(FORMULAS))]

    assert [p["first_name"] for p in profiles] == FORMULAS
    assert [p["attributes"]["note"] for p in profiles] == FORMULAS

    exported = list(
        csv.reader(io.StringIO("".join(export_csv(profiles, ["email", "first_name", "note"]))))
    )

    assert exported[0] == ["email", "first_name", "note"]
    assert [row[1:] for row in exported[1:]] == [["'" + v, "'" + v] for v in FORMULAS]
    assert exported[1][0] == "u0@example.com"


def test_export_leaves_plain_cells_and_joins_sets() -> None:
    lines = export_csv(
        [{"email": "a@example.com", "tags": {"b", "a"}, "n": None}], ["email", "tags", "n"]
    )

    assert "".join(lines) == "email,tags,n\r\na@example.com,a;b,\r\n"


def test_help_explains_each_command() -> None:
    runner = CliRunner()

    top = runner.invoke(nurture, ["--help"])
    group = runner.invoke(nurture, ["contacts", "--help"])
    command = runner.invoke(nurture, ["contacts", "import", "--help"])

    assert "contacts" in top.output and "import" in group.output
    assert "--dry-run" in command.output and "Exit status" in command.output


def test_jsonl_file_imports_through_the_cli(table: Table, tmp_path: Path) -> None:
    lines = [{"email": "a@example.com", "interests": ["hiking"], "seats": 3}, {"email": "nope"}]
    path = write(tmp_path, "\n".join(json.dumps(line) for line in lines), "people.jsonl")

    result = run_import(path)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith("line 2: email: ")
    profile = profile_by_email(table, "a@example.com")
    assert (profile["interests"], profile["attributes"]) == ({"hiking"}, {"seats": 3})


def test_unknown_extension_needs_a_format(table: Table, tmp_path: Path) -> None:
    path = write(tmp_path, "email\na@example.com\n", "people.txt")

    assert run_import(path).exit_code == 2
    assert run_import(path, "--format", "csv").exit_code == 0


# --- Hostile rows: one bad row never stops or corrupts the import --------------------------

GOOD_JSONL = '{"email": "ada@example.com"}\n'


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ('{"email": "x@e.com", "a": ' + "[" * 100_000 + "]" * 100_000 + "}", "row", "nested"),
        ('{"email": "x@e.com", "score": 1e200}', "score", "outside the storable range"),
        ('{"email": "x@e.com", "score": 1e-200}', "score", "outside the storable range"),
        ('{"email": "x@e.com", "score": ' + "9" * 39 + "}", "score", "38 significant digits"),
        ('{"email": "x@e.com", "score": ' + "9" * 5000 + "}", "score", "38 significant digits"),
        ('{"email": "x@e.com", "score": NaN}', "row", "NaN"),
        ('{"email": "x@e.com", "first_name": "\\udc00"}', "row", "surrogate"),
    ],
)
def test_a_row_the_table_could_not_store_is_rejected_by_line(
    table: Table, row: str, field: str, reason: str
) -> None:
    text = GOOD_JSONL + row + "\n" + '{"email": "lin@example.com", "score": 12.5}\n'
    report = import_contacts(
        table, read_jsonl(io.BytesIO(text.encode())), now="2026-01-01T00:00:00Z", new_id=_ids()
    )
    [rejected] = report.rejected
    assert (rejected.line, rejected.field) == (2, field) and reason in rejected.reason
    assert report.imported == 2
    assert profile_by_email(table, "lin@example.com")["attributes"] == {"score": Decimal("12.5")}
    assert hash_identity("x@e.com") not in {
        h for h, k in table.known_contacts([hash_identity("x@e.com")]).items() if k.contact_id
    }


def _ids() -> Any:
    counter = iter(range(1_000_000))
    return lambda: f"c{next(counter)}"


def _fail_on(operation: str, code: str, after: int) -> Any:
    calls = {"n": 0}

    def hook(**_: object) -> None:
        calls["n"] += 1
        if calls["n"] > after:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    return hook


def test_a_row_the_table_refuses_is_rejected_and_the_import_goes_on(table: Table) -> None:
    refused_key = f"M#{hash_identity('p1@example.com')}"

    def refuse_p1(params: dict[str, Any], **_: object) -> None:
        if refused_key.encode() in params["body"]:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ValidationException"}}, "PutItem")

    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.PutItem", refuse_p1, unique_id="refuse")
    try:
        text = "".join(f'{{"email": "p{n}@example.com"}}\n' for n in range(4))
        report = import_contacts(
            table, read_jsonl(io.BytesIO(text.encode())), now="2026-01-01T00:00:00Z", new_id=_ids()
        )
    finally:
        events.unregister("before-call.dynamodb.PutItem", unique_id="refuse")
    assert [(r.line, r.field) for r in report.rejected] == [(2, "row")]
    assert "refused" in report.rejected[0].reason
    assert report.imported == 3


def test_an_outage_mid_import_reports_what_was_done_and_a_rerun_finishes(
    table: Table, tmp_path: Path
) -> None:
    text = "".join(f'{{"email": "q{n}@example.com"}}\n' for n in range(120))
    path = write(tmp_path, text, "contacts.jsonl")
    events = services.client("dynamodb").meta.events
    events.register(
        "before-call.dynamodb.BatchGetItem",
        _fail_on("BatchGetItem", "ProvisionedThroughputExceededException", after=2),
        unique_id="outage",
    )
    try:
        stopped = run_import(path, "--workers", "1")
    finally:
        events.unregister("before-call.dynamodb.BatchGetItem", unique_id="outage")
    assert stopped.exit_code == 1
    assert "imported 100, updated 0, unchanged 0, suppressed 0, rejected 0" in stopped.output
    assert (
        "import interrupted (ProvisionedThroughputExceededException) after imported 100"
        in stopped.output
    )
    again = run_import(path)
    assert again.exit_code == 0
    assert "imported 20, updated 0, unchanged 100" in again.output
