"""A small webhook receiver for the local stack: prints each delivery it gets, with whether its
Standard Webhooks signature verifies against the subscription's secrets.

Tests use the same receiver and turn its knobs: `status` (what it answers), `delay` (seconds
it takes), and `stop()`/`start()` (down, then back).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.outbound.signing import BadSignature, verify

SecretsOf = Callable[[str], list[str]]
"""The current secrets of a subscription, by the path it is delivered to (`/hooks/{id}`)."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def message_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    secrets_of: SecretsOf
    host: str = "127.0.0.1"
    port: int = 0
    status: int = 200
    delay: float = 0.0
    echo: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.time
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, webhook_id: str) -> str:
        return f"{self.origin}/hooks/{webhook_id}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.take(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def take(self, path: str, headers: dict[str, str], body: bytes) -> None:
        webhook_id = path.rstrip("/").rsplit("/", 1)[-1]
        verified = False
        for secret in self.secrets_of(webhook_id):
            try:
                verify(secret, headers, body, self.clock())
            except BadSignature:
                continue
            verified = True
            break
        delivery = Received(path, headers, body, verified)
        self.received.append(delivery)
        if self.echo is not None:
            self.echo(_describe(delivery))


def _describe(delivery: Received) -> str:
    try:
        event = delivery.event
        what = f"{event.get('type')} of contact {event.get('contact', {}).get('id')}"
    except ValueError:
        what = f"{len(delivery.body)} bytes"
    check = "signature verified" if delivery.verified else "SIGNATURE DOES NOT VERIFY"
    return f"webhook {delivery.path}: {what} ({delivery.message_id}, {check})"
