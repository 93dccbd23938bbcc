"""One HTTP POST to a checked address: standard library only, no redirects, bounded waits.

The host is resolved once, every address checked (`addresses`), and the connection made to
the checked address, with the host name kept for TLS (SNI and certificate checks) and the
`Host` header. A redirect is an answer like any other non-2xx: it is not followed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from chalicelib.errors import UnsafeWebhook
from chalicelib.outbound.addresses import Resolver, parse_target, resolve, system_resolver

__all__ = ["Answer", "Transport"]

MAX_ANSWER = 1024


@dataclass(frozen=True)
class Answer:
    """What the receiver said: a status (None when no answer came) and why it failed."""

    status: int | None
    body: str = ""
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def summary(self) -> str:
        if self.error:
            return self.error
        if self.status is not None and 300 <= self.status < 400:
            return f"HTTP {self.status} (redirects are not followed)"
        return f"HTTP {self.status}"


@dataclass
class Transport:
    allowed_origins: Iterable[str] = ()
    timeout: float = 10.0
    resolver: Resolver = system_resolver
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)
    clock: Callable[[], float] = time.monotonic

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        started = self.clock()
        try:
            target = parse_target(url, self.allowed_origins)
            address = resolve(target, self.resolver)
        except UnsafeWebhook as exc:
            return Answer(None, error=f"refused: {exc}")
        connection: http.client.HTTPConnection = (
            _PinnedHTTPS(target.host, address, target.port, self.timeout, self.tls)
            if target.scheme == "https"
            else _PinnedHTTP(target.host, address, target.port, self.timeout)
        )
        try:
            connection.request("POST", target.request_target, body=body, headers=dict(headers))
            response = connection.getresponse()
            text = response.read(MAX_ANSWER).decode("utf-8", "replace")
            return Answer(response.status, text, seconds=self.clock() - started)
        except TimeoutError:
            return Answer(None, error="timed out", seconds=self.clock() - started)
        except ssl.SSLError as exc:
            return Answer(None, error=f"TLS: {exc.reason or exc}", seconds=self.clock() - started)
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            return Answer(None, error=error[:300], seconds=self.clock() - started)
        finally:
            connection.close()


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to `address`; `host` stays the name asked for."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(
        self, host: str, address: str, port: int, timeout: float, tls: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=tls)
        self.address = address
        self.tls = tls

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
