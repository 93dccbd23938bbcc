"""The import bucket: uploads, the error report's parts, the assembled report, and the
presigned URLs a client puts a file to and downloads a report from."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from botocore.exceptions import ClientError

from chalicelib.errors import InvalidInput

__all__ = ["ImportObjects", "Upload"]

PART_BYTES = 8 << 20  # a multipart upload's parts (S3: at least 5 MiB but the last)


@dataclass(frozen=True)
class Upload:
    """The uploaded object as a job was started on it: its size and its S3 ETag."""

    size: int
    etag: str


def upload_key(job_id: str) -> str:
    return f"uploads/{job_id}"


def report_key(job_id: str) -> str:
    return f"reports/{job_id}/errors.csv"


def _part_key(job_id: str, first_line: int) -> str:
    return f"reports/{job_id}/parts/{first_line:012d}.csv"


class ImportObjects:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def upload_url(self, job_id: str, size: int, seconds: int) -> str:
        """A URL that takes one PUT of exactly `size` bytes (the length is signed)."""
        return str(
            self.s3.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": upload_key(job_id), "ContentLength": size},
                ExpiresIn=seconds,
            )
        )

    def uploaded(self, job_id: str) -> Upload | None:
        """The uploaded file, or None when nothing was uploaded yet."""
        try:
            found = self.s3.head_object(Bucket=self.bucket, Key=upload_key(job_id))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return Upload(int(found["ContentLength"]), str(found["ETag"]))

    def read_from(self, job_id: str, offset: int, etag: str) -> IO[bytes]:
        """The upload the job was started on (`etag`; any, if empty), from byte `offset` on,
        streamed (a range read). The upload URL takes PUTs until it expires: a file put after
        the start is refused, not read from the middle."""
        pinned = {"IfMatch": etag} if etag else {}
        try:
            found = self.s3.get_object(
                Bucket=self.bucket, Key=upload_key(job_id), Range=f"bytes={offset}-", **pinned
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
            raise InvalidInput(
                "upload", "was replaced after the import started: create a new import for it"
            ) from None
        return cast(IO[bytes], _Body(found["Body"]))

    def write_part(self, job_id: str, first_line: int, content: bytes) -> None:
        """The rejected rows of the chunk starting on `first_line` (a rerun of the chunk
        rewrites the same part)."""
        self.s3.put_object(Bucket=self.bucket, Key=_part_key(job_id, first_line), Body=content)

    def assemble_report(self, job_id: str, header: bytes) -> None:
        """The parts, in line order, as one object after `header`; memory holds one S3 part."""
        key = report_key(job_id)
        upload = _Multipart(self.s3, self.bucket, key)
        buffer = bytearray(header)
        for part in self._parts(job_id):
            buffer += self.s3.get_object(Bucket=self.bucket, Key=part)["Body"].read()
            if len(buffer) >= PART_BYTES:
                upload.add(bytes(buffer))
                buffer.clear()
        upload.finish(bytes(buffer))

    def report_url(self, job_id: str, seconds: int) -> str:
        return str(
            self.s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": report_key(job_id),
                    "ResponseContentType": "text/csv; charset=utf-8",
                    "ResponseContentDisposition": f'attachment; filename="{job_id}-errors.csv"',
                },
                ExpiresIn=seconds,
            )
        )

    def _parts(self, job_id: str) -> Iterator[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"reports/{job_id}/parts/"
        )
        for page in pages:  # keys come in order: the line numbers are zero-padded
            yield from (item["Key"] for item in page.get("Contents", []) if item["Size"])


class _Multipart:
    """One object written in parts; a single PutObject when it fits in one."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self.upload_id = ""
        self.parts: list[dict[str, Any]] = []

    def add(self, data: bytes) -> None:
        if not self.upload_id:
            answer = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="text/csv; charset=utf-8"
            )
            self.upload_id = answer["UploadId"]
        number = len(self.parts) + 1
        answer = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self, rest: bytes) -> None:
        if not self.upload_id:
            self.s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=rest, ContentType="text/csv; charset=utf-8"
            )
            return
        if rest:
            self.add(rest)
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )


class _Body(io.RawIOBase):
    """An S3 body as a raw stream, so the file readers can buffer it."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.body.close()
        super().close()
