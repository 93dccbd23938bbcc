"""Import jobs as the marketer API and the CLI see them: create one (an upload URL), start
it once the file is uploaded, read its progress and, when rows were rejected, its report."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ImportNotReady, InvalidInput, TooLarge, UnknownImport
from chalicelib.imports.driving import ImportQueue
from chalicelib.imports.objects import ImportObjects
from chalicelib.stamps import iso
from chalicelib.store.imports import ACTIVE, ImportJob, ImportJobs

__all__ = ["FORMATS", "Created", "Imports", "Status"]

FORMATS = ("csv", "jsonl")
RETENTION_DAYS = 14
"""Jobs, their uploads and reports are kept this long (the bucket's lifecycle agrees)."""


@dataclass(frozen=True)
class Status:
    job: ImportJob
    report_url: str = ""
    report_expires_at: str = ""

    def doc(self) -> dict[str, Any]:
        """The job as the API answers it."""
        job, at = self.job, self.job.progress
        doc: dict[str, Any] = {
            "import_id": job.job_id,
            "format": job.file_format,
            "state": job.state,
            "size": job.size,
            "bytes_read": at.offset,
            "rows": at.rows,
            "accepted": at.accepted,
            "rejected": at.rejected,
            "imported": at.imported,
            "updated": at.updated,
            "unchanged": at.unchanged,
            "suppressed": at.suppressed,
            "created_at": job.created_at,
        }
        for name in ("queued_at", "started_at", "finished_at", "problem"):
            if value := getattr(job, name):
                doc[name] = value
        if self.report_url:
            doc["error_report"] = {"url": self.report_url, "expires_at": self.report_expires_at}
        return doc


@dataclass(frozen=True)
class Created:
    job: ImportJob
    upload_url: str
    upload_expires_at: str
    max_bytes: int

    def doc(self) -> dict[str, Any]:
        job = self.job
        return {
            **Status(job).doc(),
            "upload": {
                "url": self.upload_url,
                "method": "PUT",
                "headers": {"Content-Length": str(job.size)},
                "expires_at": self.upload_expires_at,
                "max_bytes": self.max_bytes,
            },
            "start": f"/api/imports/{job.job_id}/start",
        }


class Imports:
    def __init__(
        self,
        jobs: ImportJobs,
        objects: ImportObjects,
        queue: ImportQueue,
        *,
        max_bytes: int,
        url_seconds: int,
    ) -> None:
        self.jobs = jobs
        self.objects = objects
        self.queue = queue
        self.max_bytes = max_bytes
        self.url_seconds = url_seconds

    def create(self, file_format: str, size: int, caller: str, now: float) -> Created:
        """A job awaiting its upload, and the URL that takes one PUT of `size` bytes."""
        if file_format not in FORMATS:
            raise InvalidInput("format", f"must be one of {', '.join(FORMATS)}")
        if size > self.max_bytes:
            raise TooLarge("size", f"an import file holds at most {self.max_bytes:,} bytes")
        job = ImportJob(
            job_id=secrets.token_hex(8),
            file_format=file_format,
            size=size,
            created_at=iso(now),
            created_by=caller,
            expires_at=int(now) + RETENTION_DAYS * 86_400,
        )
        self.jobs.create(job)
        url = self.objects.upload_url(job.job_id, size, self.url_seconds)
        return Created(job, url, iso(now + self.url_seconds), self.max_bytes)

    def start(self, job_id: str, now: float) -> Status:
        """Queue the uploaded file for the worker. Starting a queued or running job again
        queues it again: a job whose run was dead-lettered resumes from its checkpoint."""
        job = self.status(job_id, now).job
        if job.state == "awaiting_upload":
            upload = self.objects.uploaded(job_id)
            if upload is None:
                raise ImportNotReady(f"import {job_id}: nothing uploaded yet; PUT the file first")
            if upload.size > self.max_bytes:
                raise TooLarge("upload", f"is {upload.size:,} bytes; at most {self.max_bytes:,}")
            self.jobs.queue(job_id, upload.size, upload.etag, iso(now))
        found = self.status(job_id, now)
        if found.job.state in ACTIVE:
            self.queue.send(job_id)
        return found

    def status(self, job_id: str, now: float) -> Status:
        """The job; with a download URL for its error report when rows were rejected."""
        job = self.jobs.get(job_id)
        if job is None:
            raise UnknownImport(f"no import {job_id}")
        if not job.report:
            return Status(job)
        url = self.objects.report_url(job_id, self.url_seconds)
        return Status(job, url, iso(now + self.url_seconds))
