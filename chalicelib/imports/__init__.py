"""Contact imports of any size: a file uploaded to S3 through a presigned URL, imported by a
worker in chunks that checkpoint in the table, with rejected rows in a downloadable report."""

from chalicelib.imports.driving import ImportQueue, drive
from chalicelib.imports.jobs import FORMATS, Created, Imports, Status
from chalicelib.imports.objects import ImportObjects
from chalicelib.imports.worker import REPORT_HEADER, Ran, Worker

__all__ = [
    "FORMATS",
    "REPORT_HEADER",
    "Created",
    "ImportObjects",
    "ImportQueue",
    "Imports",
    "Ran",
    "Status",
    "Worker",
    "drive",
]
