"""The composition root: AWS clients and use-case objects, built once per Lambda container.

boto3 honours `AWS_ENDPOINT_URL`, which is how the local stack points everything at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

from chalicelib import secrets
from chalicelib.config import settings
from chalicelib.parking import Parking
from chalicelib.store import Table, Versions
from chalicelib.tokens import Keyring
from chalicelib.tracking import Tracker


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service)


def table() -> Table:
    return Table(client("dynamodb"), settings().table)


def versions() -> Versions:
    return Versions(table())


def parking() -> Parking:
    return Parking(client("sqs"), settings().park_queue_url)


def keyring() -> Keyring:
    return secrets.keyring(settings())


def api_secrets() -> secrets.ApiSecrets:
    return secrets.api_secrets(settings())


@cache
def tracker() -> Tracker:
    return Tracker(settings(), keyring, table(), parking())
