"""The marketer API as the console calls it, with the CLI's credentials: the local stack's API
key as a bearer token, or in AWS the user's own credentials signing each request (SigV4 for
API Gateway's IAM authorization). No credential is ever shown to the browser."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ConfigError

__all__ = ["Answer", "Api", "ApiError", "from_environment"]

TIMEOUT_SECONDS = 30
Signer = Callable[[str, str, bytes, dict[str, str]], dict[str, str]]
"""(method, url, body, headers) → headers with the credentials added."""
_EXECUTE_API = re.compile(r"[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class ApiError(Exception):
    """The API refused or failed a request; `message` is its error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Api:
    base_url: str
    sign: Signer
    timeout: float = TIMEOUT_SECONDS

    def get(self, path: str, query: Mapping[str, str | None] | None = None, **headers: str) -> Any:
        return self.call("GET", path, query, headers=headers).json()

    def post(self, path: str, doc: object) -> Any:
        body = json.dumps(doc).encode()
        return self.call(
            "POST", path, body=body, headers={"Content-Type": "application/json"}
        ).json()

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path).json()

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | None] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request; an error answer raises `ApiError` with the API's own message."""
        wanted = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        url = (
            self.base_url.rstrip("/")
            + path
            + ("?" + urllib.parse.urlencode(wanted) if wanted else "")
        )
        sent = self.sign(method, url, body, {"Accept": "application/json", **(headers or {})})
        request = urllib.request.Request(url, data=body or None, method=method, headers=sent)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return Answer(answer.status, answer.read(), dict(answer.headers.items()))
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, _message(error.read())) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ApiError(0, f"the API at {self.base_url} did not answer ({error})") from None


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error", "error"))
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace") or "error"


def bearer(key: str) -> Signer:
    def sign(method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "Authorization": f"Bearer {key}"}

    return sign


def sigv4(region: str) -> Signer:
    """Sign with the credentials boto3 finds (environment, profile, SSO, instance role)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise ConfigError("AWS credentials: none found (set AWS_PROFILE or run aws sso login)")

    def sign(method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    return sign


def from_environment(environ: Mapping[str, str]) -> Api:
    """`NURTURE_API_URL`, and a key (`NURTURE_API_KEY`, or the local stack's `NURTURE_API_KEYS`)
    or else AWS credentials for the URL's region."""
    url = environ.get("NURTURE_API_URL", "").strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            "NURTURE_API_URL: set it to the marketer API (on the local stack: . .local/env)"
        )
    key = environ.get("NURTURE_API_KEY", "").strip()
    if not key and environ.get("NURTURE_API_KEYS"):
        from chalicelib.secrets import ApiSecrets

        keys = ApiSecrets.from_json(environ["NURTURE_API_KEYS"]).api_keys
        key = next(iter(keys.values()), "")
    if key:
        return Api(url, bearer(key))
    host = urllib.parse.urlsplit(url).hostname or ""
    found = _EXECUTE_API.fullmatch(host)
    region = (
        found.group(1)
        if found
        else environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
    )
    if not region:
        raise ConfigError("AWS_REGION: needed to sign requests to a custom API domain")
    return Api(url, sigv4(region))
