"""Contact import jobs: the job item (state, checkpoint and counts) and the addresses a job has
placed, by the line that placed them.

The checkpoint only moves forward with a conditional update on where it stood, so of two
workers on one job (a redelivered trigger) exactly one advances it; the other stops. The
address items make a later row for an address a duplicate however many chunks and invocations
lie between the two rows. Neither kind of item wakes the stream's consumers (`changes.STREAM`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.store.items import _key, _plain, _value
from chalicelib.store.table import ConditionFailed, Table

__all__ = ["ImportJob", "ImportJobs", "JobState", "Placement", "Progress"]

JobState = Literal["awaiting_upload", "queued", "running", "done", "failed"]
ACTIVE: tuple[JobState, ...] = ("queued", "running")
_COUNTS = ("rows", "imported", "updated", "unchanged", "suppressed", "rejected")


@dataclass(frozen=True)
class Progress:
    """How far a job has read (`offset` bytes, `line` physical lines, the CSV header once
    read) and what the rows up to there came to."""

    offset: int = 0
    line: int = 0
    columns: tuple[str, ...] = ()
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    rejected: int = 0

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected


@dataclass(frozen=True)
class Placement:
    """The row (line) of a job that placed an address, and what placing it came to."""

    line: int
    outcome: str


@dataclass(frozen=True)
class ImportJob:
    """One upload and its import. `size` is the declared size until the upload is started,
    then the uploaded object's; `etag` is the uploaded object's once started (the job reads
    only that object)."""

    job_id: str
    file_format: str
    size: int
    created_at: str
    created_by: str
    expires_at: int
    state: JobState = "awaiting_upload"
    progress: Progress = field(default_factory=Progress)
    queued_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    problem: str = ""
    report: bool = False
    etag: str = ""


class ImportJobs:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, job: ImportJob) -> None:
        item = {
            **_key(f"IMP#{job.job_id}", "JOB"),
            "file_format": _value(job.file_format),
            "size": _value(job.size),
            "created_at": _value(job.created_at),
            "created_by": _value(job.created_by),
            "state": _value(job.state),
            "ttl": _value(job.expires_at),
            **_progress_values(job.progress),
        }
        self.table.run([{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}])

    def get(self, job_id: str) -> ImportJob | None:
        found = self.table.client.get_item(
            TableName=self.table.name, Key=_key(f"IMP#{job_id}", "JOB"), ConsistentRead=True
        )
        return _job(_plain(found["Item"])) if "Item" in found else None

    def queue(self, job_id: str, size: int, etag: str, now: str) -> bool:
        """Mark an uploaded job queued with the object's size and ETag; False if it was not
        awaiting its upload (started already)."""
        return self._update(
            job_id,
            "SET #state = :queued, #size = :size, etag = :etag, queued_at = :now",
            "#state = :awaiting",
            {
                ":queued": "queued",
                ":size": size,
                ":etag": etag,
                ":now": now,
                ":awaiting": "awaiting_upload",
            },
            {"#size": "size"},
        )

    def advance(self, job_id: str, before: Progress, after: Progress, now: str) -> bool:
        """Move the checkpoint from `before` to `after`; False if it no longer stood at
        `before` (another worker moved it) or the job is over."""
        stored = ("offset", "line", *_COUNTS)
        sets = ", ".join(f"#{name} = :new_{name}" for name in stored)
        values: dict[str, Any] = {":running": "running", ":now": now, **_at(before)}
        values.update({f":new_{name}": getattr(after, name) for name in stored})
        names = {f"#{name}": name for name in stored}
        expression = f"SET #state = :running, started_at = if_not_exists(started_at, :now), {sets}"
        if after.columns:
            expression += ", #columns = :columns"
            names["#columns"] = "columns"
            values[":columns"] = list(after.columns)
        return self._update(job_id, expression, _ACTIVE_AT, values, names)

    def finish(
        self,
        job_id: str,
        at: Progress,
        state: JobState,
        now: str,
        *,
        problem: str = "",
        report: bool = False,
    ) -> bool:
        """End the job at checkpoint `at` (`done`, or `failed` with its `problem`)."""
        values = {":state": state, ":now": now, ":problem": problem, ":report": report, **_at(at)}
        return self._update(
            job_id,
            "SET #state = :state, finished_at = :now, #problem = :problem, #report = :report",
            _ACTIVE_AT,
            values,
            {"#offset": "offset", "#line": "line", "#problem": "problem", "#report": "report"},
        )

    def placed(self, job_id: str, email_hashes: Iterable[str]) -> dict[str, Placement]:
        """Where and how this job placed each address (addresses not placed yet are left
        out)."""
        keys = [_key(f"IMP#{job_id}#{h}", "ROW") for h in dict.fromkeys(email_hashes)]
        return {
            pk.rsplit("#", 1)[1]: Placement(int(item["line"]), str(item["outcome"]))
            for (pk, _), item in self.table.batch_get(keys).items()
        }

    def record_placed(
        self, job_id: str, placements: Mapping[str, Placement], expires_at: int
    ) -> None:
        """Remember the row (line) that places each address and what it comes to, before the
        contacts are written: a rerun of the chunk counts each row as it was first counted
        (rewriting one is harmless: a rerun places an address from the same line)."""
        self.table.put_batch(
            {
                **_key(f"IMP#{job_id}#{email_hash}", "ROW"),
                "line": _value(placement.line),
                "outcome": _value(placement.outcome),
                "ttl": _value(expires_at),
            }
            for email_hash, placement in placements.items()
        )

    def _update(
        self,
        job_id: str,
        expression: str,
        condition: str,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> bool:
        update = {
            "Key": _key(f"IMP#{job_id}", "JOB"),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(PK) AND {condition}",
            "ExpressionAttributeNames": {"#state": "state", **(names or {})},
            "ExpressionAttributeValues": {k: _attribute(v) for k, v in values.items()},
        }
        try:
            self.table.run([{"Update": update}])
        except ConditionFailed:
            return False
        return True


_ACTIVE_AT = "#state IN (:queued_, :running_) AND #offset = :at_offset AND #line = :at_line"


def _at(progress: Progress) -> dict[str, Any]:
    return {
        ":queued_": "queued",
        ":running_": "running",
        ":at_offset": progress.offset,
        ":at_line": progress.line,
    }


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"L": [_value(v) for v in value]}
    return _value(value)


def _progress_values(progress: Progress) -> dict[str, Any]:
    return {name: _value(getattr(progress, name)) for name in ("offset", "line", *_COUNTS)}


def _job(item: Mapping[str, Any]) -> ImportJob:
    progress = Progress(
        offset=int(item.get("offset", 0)),
        line=int(item.get("line", 0)),
        columns=tuple(str(c) for c in item.get("columns") or ()),
        **{name: int(item.get(name, 0)) for name in _COUNTS},
    )
    return ImportJob(
        job_id=str(item["PK"]).removeprefix("IMP#"),
        file_format=str(item["file_format"]),
        size=int(item["size"]),
        created_at=str(item["created_at"]),
        created_by=str(item.get("created_by", "")),
        expires_at=int(item.get("ttl", 0)),
        state=item["state"],
        progress=progress,
        queued_at=str(item.get("queued_at", "")),
        started_at=str(item.get("started_at", "")),
        finished_at=str(item.get("finished_at", "")),
        problem=str(item.get("problem", "")),
        report=bool(item.get("report", False)),
        etag=str(item.get("etag", "")),
    )
