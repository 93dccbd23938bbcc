"""The console's web server: on 127.0.0.1 only, for the one person who started it.

It can act (pause, unenroll, erase) with the user's own API credentials, so it defends itself
like any web application would, although nothing outside the machine can reach it:
- it listens on the loopback interface only, and answers only requests whose Host is its own
  address (a DNS-rebinding page on another site names its own host);
- a secret made per run is handed over once in the URL that `nurture dashboard` opens, and
  kept in an HttpOnly, SameSite=Strict cookie; every other request needs that cookie;
- every form carries a CSRF token derived from that secret, and a POST also needs our own
  Origin (when the browser sends one); GET never changes anything;
- a strict Content-Security-Policy: no script at all, styles only from our stylesheet,
  no frames, forms only to ourselves.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["COOKIE", "Console", "Reply", "Request"]

COOKIE = "nurture_console"
MAX_FORM_BYTES = 16 * 1024
STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "/static/console.css": ("console.css", "text/css; charset=utf-8"),
    "/favicon.ico": ("icon.svg", "image/svg+xml"),  # what browsers ask for on their own
}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with its
    # form posts, and the Origin check would refuse the console's own forms.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    form: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Request, str], Reply]
"""The pages: (request, CSRF token to put in forms) → reply."""


class Console:
    """Serves `pages` on 127.0.0.1:`port` (0: a free port) behind the per-run secret."""

    def __init__(self, pages: Handler, port: int = 0, secret: str | None = None) -> None:
        self.pages = pages
        self.secret = secret or secrets.token_urlsafe(32)
        self.csrf = hmac.new(self.secret.encode(), b"csrf", hashlib.sha256).hexdigest()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def login_url(self) -> str:
        """The URL to open: it hands the secret to the browser once."""
        return f"{self.origin}/login?token={self.secret}"

    def serve(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve, name="nurture-console", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- one request -----------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Everything but the socket: checks, then the page."""
        if headers.get("host", "").lower() not in self.hosts:
            return _plain(421, "This console answers only at its own address.")
        split = urllib.parse.urlsplit(target)
        query = _single(urllib.parse.parse_qs(split.query, keep_blank_values=True))
        if split.path == "/login" and method == "GET":
            return self._login(query.get("token", ""))
        if split.path in STATIC_FILES and method in ("GET", "HEAD"):
            name, kind = STATIC_FILES[split.path]
            found = (STATIC / name).read_bytes()
            return Reply(200, found, kind, {"Cache-Control": "no-store"})
        if not self._signed_in(headers.get("cookie", "")):
            return _plain(
                401,
                "Open the address that `nurture dashboard` printed (it signs this browser in).",
            )
        if method in ("GET", "HEAD"):
            return self.pages(Request("GET", split.path, query), self.csrf)
        if method != "POST":
            return _plain(405, "Only GET and POST are answered here.")
        origin = headers.get("origin")
        if origin is not None and origin != self.origin:
            return _plain(403, "A form from another site cannot act here.")
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _plain(415, "Forms only.")
        if len(body) > MAX_FORM_BYTES:
            return _plain(413, "That form is too large.")
        form = _single(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
        if not hmac.compare_digest(form.get("csrf", ""), self.csrf):
            return _plain(403, "This form has expired: reload the page and try again.")
        return self.pages(Request("POST", split.path, query, form), self.csrf)

    def _login(self, token: str) -> Reply:
        if not hmac.compare_digest(token.encode(), self.secret.encode()):
            return _plain(401, "That sign-in link is not this console's.")
        cookie = f"{COOKIE}={self.secret}; HttpOnly; SameSite=Strict; Path=/"
        return Reply(303, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})

    def _signed_in(self, cookie_header: str) -> bool:
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and hmac.compare_digest(value.encode(), self.secret.encode()):
                return True
        return False


def _single(parsed: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[-1] for name, values in parsed.items()}


def _plain(status: int, message: str) -> Reply:
    return Reply(status, message.encode(), "text/plain; charset=utf-8")


def _handler(console: Console) -> type[BaseHTTPRequestHandler]:
    class ConsoleHandler(BaseHTTPRequestHandler):
        server_version = "nurture-console"
        sys_version = ""

        def _reply(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(length, MAX_FORM_BYTES + 1)) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                reply = console.answer(self.command, self.path, headers, body)
            except Exception as error:  # a page that fails must not kill the server
                reply = _plain(500, f"The console failed: {type(error).__name__}: {error}")
            self.send_response(reply.status)
            for name, value in {
                **HEADERS,
                "Content-Type": reply.content_type,
                **reply.headers,
            }.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _reply

        def log_message(self, format: str, *args: object) -> None:
            return  # a quiet console; the API logs what happens

    return ConsoleHandler
