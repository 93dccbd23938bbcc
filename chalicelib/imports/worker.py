"""The import worker: reads an uploaded file from its checkpoint in chunks, through the same
row validation and contact writes as a synchronous import, and checkpoints after each chunk.

Before a chunk's contacts are written, each address is remembered with the line that places
it and what placing it comes to; then the contacts are written, the chunk's rejected rows go
to the error report's part for the chunk, and only then does the checkpoint move (a
conditional update on where it stood). A crash anywhere in a chunk (or a Lambda timeout)
leaves the checkpoint before it: the next run reads the chunk again from the same byte and
line, and the rows already written find their contact as they left it (an import writes only
what differs) and are counted as they were the first time, so nothing changes twice, nothing
is skipped and the counts stay exact. A later row for an address an earlier chunk placed is
rejected as a duplicate, as within a chunk (and within a synchronous import).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from itertools import islice
from typing import IO, Literal

from chalicelib.contactfiles import RESUMABLE, Position, neutralise_cell
from chalicelib.contacts import Contact, Rejected, Row, duplicate, import_contacts, plan
from chalicelib.errors import InvalidInput
from chalicelib.imports.objects import ImportObjects
from chalicelib.store.imports import ACTIVE, ImportJob, ImportJobs, Placement, Progress
from chalicelib.store.table import Table

__all__ = ["REPORT_HEADER", "Ran", "Worker"]

CHUNK_ROWS = 1000
RESERVE_SECONDS = 30.0
"""A new chunk starts only with this much of the invocation left (a chunk takes a few)."""
WORKERS = 8
REPORT_HEADER = b"line,field,message\r\n"

Ran = Literal["done", "more", "idle"]
"""`done`: the job is over; `more`: time ran out, run again; `idle`: nothing to do here (no
such job, over already, or another worker moved its checkpoint)."""


class Worker:
    def __init__(
        self,
        table: Table,
        jobs: ImportJobs,
        objects: ImportObjects,
        *,
        now: Callable[[], str],
        new_id: Callable[[], str],
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.table = table
        self.jobs = jobs
        self.objects = objects
        self.now = now
        self.new_id = new_id
        self.chunk_rows = chunk_rows

    def run(self, job_id: str, time_left: Callable[[], float]) -> Ran:
        """Import chunks of the job from its checkpoint while time is left."""
        job = self.jobs.get(job_id)
        if job is None or job.state not in ACTIVE:
            return "idle"
        at = job.progress
        try:
            with closing(self._stream(job)) as stream:
                rows = RESUMABLE[job.file_format](stream, Position(at.offset, at.line, at.columns))
                while chunk := list(islice(rows, self.chunk_rows)):
                    after = self._chunk(job, at, chunk)
                    if not self.jobs.advance(job_id, at, after, self.now()):
                        return "idle"
                    at = after
                    if at.offset < job.size and time_left() < RESERVE_SECONDS:
                        return "more"
        except InvalidInput as refused:  # the file as a whole: replaced, its encoding, header
            self.jobs.finish(job_id, at, "failed", self.now(), problem=str(refused))
            return "done"
        if at.rejected:
            self.objects.assemble_report(job_id, REPORT_HEADER)
        self.jobs.finish(job_id, at, "done", self.now(), report=at.rejected > 0)
        return "done"

    def _stream(self, job: ImportJob) -> IO[bytes]:
        if job.progress.offset >= job.size:
            return io.BytesIO()  # read to the end: only the finish is left
        return self.objects.read_from(job.job_id, job.progress.offset, job.etag)

    def _chunk(
        self, job: ImportJob, at: Progress, chunk: Sequence[tuple[Row, Position]]
    ) -> Progress:
        """Import one chunk; what it came to, added to `at`."""
        rows = [row for row, _ in chunk]
        hashes = {row.line: row.email_hash for row in rows if isinstance(row, Contact)}
        known = self.jobs.placed(job.job_id, hashes.values())
        earlier = {h for h, placed in known.items() if placed.line <= at.line}
        rows = [_unless_placed(row, hashes, earlier) for row in rows]
        # Placed by an earlier attempt at this chunk that crashed: counted as it was then.
        again = {p.line: p.outcome for p in known.values() if p.line > at.line}
        self._remember(job, [row for row in rows if row.line not in again])
        outcomes: Counter[str] = Counter()
        report = import_contacts(
            self.table,
            rows,
            now=self.now(),
            new_id=self.new_id,
            workers=WORKERS,
            on_contact=lambda placed: outcomes.update([again.get(placed.line, placed.outcome)]),
        )
        self.objects.write_part(job.job_id, at.line + 1, report_lines(report.rejected))
        end = chunk[-1][1]
        return Progress(
            offset=end.offset,
            line=end.line,
            columns=end.columns,
            rows=at.rows + report.rows,
            imported=at.imported + outcomes["imported"],
            updated=at.updated + outcomes["updated"],
            unchanged=at.unchanged + outcomes["unchanged"],
            suppressed=at.suppressed + outcomes["suppressed"],
            rejected=at.rejected + len(report.rejected),
        )

    def _remember(self, job: ImportJob, rows: Sequence[Row]) -> None:
        """Each address's first row in the chunk and its planned outcome, before any write."""
        first: dict[str, Contact] = {}
        for row in rows:
            if isinstance(row, Contact):
                first.setdefault(row.email_hash, row)
        known = self.table.known_contacts(first)
        placements = {
            email_hash: Placement(row.line, plan(row, known[email_hash])[0])
            for email_hash, row in first.items()
        }
        self.jobs.record_placed(job.job_id, placements, job.expires_at)


def _unless_placed(row: Row, hashes: dict[int, str], earlier: set[str]) -> Row:
    if isinstance(row, Contact) and hashes[row.line] in earlier:
        return duplicate(row)
    return row


def report_lines(rejected: Iterable[Rejected]) -> bytes:
    """Rejected rows as error report lines (line, field, message); cells a spreadsheet would
    run as a formula are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rejected:
        writer.writerow([row.line, neutralise_cell(row.field), neutralise_cell(row.reason)])
    return buffer.getvalue().encode("utf-8", "surrogateescape")
