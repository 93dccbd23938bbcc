"""Contact files: CSV and JSON Lines read one row at a time, and CSV written safely.

Rows are streamed, so memory does not grow with the file. Every rejected row is reported by
the physical line it starts on. Cells a spreadsheet would run as formulas are neutralised on
export, never changed in storage.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

from chalicelib import jsondoc
from chalicelib.contacts import (
    MAX_ATTRIBUTES,
    STANDARD_FIELDS,
    Rejected,
    Row,
    attribute_name_problem,
    contact_from_cells,
)
from chalicelib.errors import InvalidInput

MAX_LINE = 1 << 20  # characters in one physical line; the rest of a longer line is dropped
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a non-UTF-8 byte kept by surrogateescape
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Position:
    """Where a file was read to: `offset` bytes and `line` physical lines from its start (the
    next row starts on line `line + 1`), and for CSV the header once read. An import job keeps
    it as its checkpoint and resumes reading there (an S3 range read) after a crash."""

    offset: int = 0
    line: int = 0
    columns: tuple[str, ...] = ()


def _sized_lines(stream: IO[bytes], at_start: bool) -> Iterator[tuple[str, int]]:
    """Physical lines of a UTF-8 file (BOM dropped, CR/LF/CRLF kept), each at most MAX_LINE,
    with the bytes each took in the file (a cut line counts what was dropped).

    Bytes that are not UTF-8 are kept as surrogates so only their row is rejected; a file
    whose start is not UTF-8 at all is refused outright. Not `at_start` (a resumed read), the
    stream starts on a line boundary inside the file.
    """
    buffered = io.BufferedReader(cast(io.RawIOBase, stream), buffer_size=1 << 16)
    skipped = 0
    if at_start:
        head = buffered.peek()
        _check_encoding(head)
        skipped = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    encoding = "utf-8-sig" if at_start else "utf-8"
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="surrogateescape", newline="")
    try:
        while line := text.readline(MAX_LINE):
            size = skipped + _size(line)
            skipped = 0
            if len(line) == MAX_LINE and not line.endswith(("\n", "\r")):
                while rest := text.readline(MAX_LINE):
                    size += _size(rest)
                    if rest.endswith(("\n", "\r")):
                        break
                line += "\n"
            yield line, size
    finally:  # the caller owns `stream`: dropping our wrappers must not close it
        if not buffered.closed:
            text.detach()
            buffered.detach()


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


class _Counted:
    """Lines with a running `Position`: how far the rows handed out so far reached."""

    def __init__(self, lines: Iterator[tuple[str, int]], start: Position) -> None:
        self.lines = lines
        self.offset = start.offset
        self.line = start.line

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> str:
        text, size = next(self.lines)
        self.offset += size
        self.line += 1
        return text


def _check_encoding(head: bytes) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput("file", "encoded as UTF-16; save it as UTF-8 (e.g. 'CSV UTF-8')")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as err:
        line = head[: err.start].count(b"\n") + 1
        raise InvalidInput(
            "file",
            f"not UTF-8 (byte 0x{head[err.start]:02X} on line {line}); "
            "save it as UTF-8 (e.g. 'CSV UTF-8')",
        ) from None


def _undecodable(cells: Iterable[str]) -> bool:
    return any(_ESCAPED_BYTE.search(cell) for cell in cells)


def read_csv(stream: IO[bytes]) -> Iterator[Row]:
    """Rows of a CSV file with a header line; an empty cell means the field is absent."""
    return (row for row, _ in csv_from(stream, Position()))


def csv_from(stream: IO[bytes], start: Position) -> Iterator[tuple[Row, Position]]:
    """CSV rows from `start` (the file's start, or where an earlier read stopped, header
    known), each with the position after it."""
    lines = _Counted(_sized_lines(stream, at_start=start.offset == 0), start)
    reader = csv.reader(lines, strict=False)
    header = start.columns
    if not header:
        header = tuple(name.strip().lower() for name in next(reader, []))
        _check_header(header)
    while True:
        line = lines.line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield Rejected(line, "row", f"unreadable CSV ({err})"), _at(lines, header)
            continue
        if cells:
            yield _csv_row(line, header, cells), _at(lines, header)


def _at(lines: _Counted, columns: tuple[str, ...] = ()) -> Position:
    return Position(lines.offset, lines.line, columns)


def _check_header(header: Sequence[str]) -> None:
    if not header:
        raise InvalidInput("file", "empty: expected a header line naming the columns")
    if "email" not in header:
        found = ", ".join(header)
        raise InvalidInput("email", f"no 'email' column in the header (found: {found})")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InvalidInput(name, "column appears twice in the header")
        seen.add(name)
        if name not in STANDARD_FIELDS and (problem := attribute_name_problem(name)):
            raise InvalidInput(name, f"unknown column: {problem}")
    if len(seen - STANDARD_FIELDS) > MAX_ATTRIBUTES:
        raise InvalidInput("file", f"more than {MAX_ATTRIBUTES} custom attribute columns")


def _csv_row(line: int, header: Sequence[str], cells: Sequence[str]) -> Row:
    if len(cells) != len(header):
        return Rejected(line, "row", f"{len(cells)} cells, but the header has {len(header)}")
    if _undecodable(cells):
        return Rejected(line, "row", "not valid UTF-8")
    return contact_from_cells(line, {n: c or None for n, c in zip(header, cells, strict=True)})


def read_jsonl(stream: IO[bytes]) -> Iterator[Row]:
    """One JSON object per line; `null` or a missing key means the field is absent."""
    return (row for row, _ in jsonl_from(stream, Position()))


def jsonl_from(stream: IO[bytes], start: Position) -> Iterator[tuple[Row, Position]]:
    """JSON Lines rows from `start`, each with the position after it."""
    lines = _Counted(_sized_lines(stream, at_start=start.offset == 0), start)
    for text in lines:
        if text.strip():
            yield _jsonl_row(lines.line, text), _at(lines)


def _jsonl_row(line: int, text: str) -> Row:
    if _undecodable([text]):
        return Rejected(line, "row", "not valid UTF-8")
    try:
        cells = jsondoc.parse(text, "row")
    except InvalidInput as err:
        return Rejected(line, "row", err.problem)
    if not isinstance(cells, dict):
        return Rejected(line, "row", "expected a JSON object")
    return contact_from_cells(line, cells)


READERS: dict[str, Callable[[IO[bytes]], Iterator[Row]]] = {"csv": read_csv, "jsonl": read_jsonl}
RESUMABLE: dict[str, Callable[[IO[bytes], Position], Iterator[tuple[Row, Position]]]] = {
    "csv": csv_from,
    "jsonl": jsonl_from,
}


def neutralise_cell(value: str) -> str:
    """Stop spreadsheets from running a cell as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """CSV lines for `rows` (header first); custom attributes by name, sets `;`-joined."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for values in _export_values(rows, columns):
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _export_values(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str]
) -> Iterator[list[str]]:
    yield list(columns)
    for row in rows:
        attributes = row.get("attributes") or {}
        yield [neutralise_cell(_cell(row.get(c, attributes.get(c)))) for c in columns]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, set | frozenset | list):
        return ";".join(sorted(str(v) for v in value))
    return str(value)
