"""The console's own server (loopback, Host check, per-run secret, CSRF, CSP), its API client's
credentials (bearer key, SigV4) and its SVG charts, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import socket
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from chalicelib.cli import nurture
from chalicelib.console import charts
from chalicelib.console.api import from_environment
from chalicelib.console.server import COOKIE, Console, Reply, Request
from chalicelib.errors import ConfigError

Seen = list[tuple[Request, str]]


@pytest.fixture
def console() -> Iterator[tuple[Console, Seen]]:
    seen: Seen = []

    def pages(request: Request, csrf: str) -> Reply:
        seen.append((request, csrf))
        return Reply(200, f"{request.method} {request.path} {dict(request.form)}".encode())

    served = Console(pages)
    served.start()
    yield served, seen
    served.stop()


def ask(
    console: Console,
    method: str,
    path: str,
    *,
    host: str | None = None,
    cookie: bool = True,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    sent = {"Host": host or f"127.0.0.1:{console.port}", **(headers or {})}
    if cookie:
        sent["Cookie"] = f"{COOKIE}={console.secret}"
    connection.request(method, path, body=body or None, headers=sent)
    answer = connection.getresponse()
    found = answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    connection.close()
    return found


def form(console: Console, **fields: str) -> dict[str, Any]:
    return {
        "body": urllib.parse.urlencode(fields).encode(),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


def test_it_listens_on_the_loopback_interface_only(console: tuple[Console, Seen]) -> None:
    served, _ = console
    assert served.httpd.server_address[0] == "127.0.0.1"
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    for address in addresses - {"127.0.0.1", "127.0.1.1", "::1"}:
        with pytest.raises(OSError):
            socket.create_connection((address, served.port), timeout=1).close()


def test_login_hands_over_the_secret_once_in_a_strict_cookie(
    console: tuple[Console, Seen],
) -> None:
    served, seen = console
    status, headers, _ = ask(served, "GET", f"/login?token={served.secret}", cookie=False)
    assert status == 303 and headers["location"] == "/"
    assert headers["set-cookie"] == f"{COOKIE}={served.secret}; HttpOnly; SameSite=Strict; Path=/"
    assert ask(served, "GET", "/login?token=guess", cookie=False)[0] == 401
    assert ask(served, "GET", "/", cookie=False)[0] == 401
    assert seen == []


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", ""])
def test_other_hosts_are_refused_against_dns_rebinding(
    console: tuple[Console, Seen], host: str
) -> None:
    served, seen = console
    status, _, _ = ask(served, "GET", "/", host=host.format(port=served.port) or " ")
    assert status == 421 and seen == []
    assert ask(served, "GET", "/", host=f"localhost:{served.port}")[0] == 200


def test_every_answer_carries_a_strict_policy(console: tuple[Console, Seen]) -> None:
    served, _ = console
    for path in ("/", "/static/console.css", "/favicon.ico"):
        status, headers, _ = ask(served, "GET", path)
        assert status == 200, path
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        # A browser sends `Origin: null` with forms under no-referrer, which the Origin
        # check refuses: same-origin keeps the real origin on our own posts.
        assert headers["referrer-policy"] == "same-origin"
    assert ask(served, "GET", "/favicon.ico")[1]["content-type"] == "image/svg+xml"


def test_a_post_needs_the_csrf_token_and_our_origin(console: tuple[Console, Seen]) -> None:
    served, seen = console
    assert ask(served, "POST", "/contacts/ann/pause", **form(served, days="7"))[0] == 403
    assert ask(served, "POST", "/x", **form(served, days="7", csrf="wrong"))[0] == 403
    elsewhere = form(served, days="7", csrf=served.csrf)
    elsewhere["headers"]["Origin"] = "https://evil.example"
    assert ask(served, "POST", "/x", **elsewhere)[0] == 403
    assert seen == []
    json_body = {"body": b'{"days": 7}', "headers": {"Content-Type": "application/json"}}
    assert ask(served, "POST", "/x", **json_body)[0] == 415
    big = form(served, csrf=served.csrf, text="x" * 20_000)
    assert ask(served, "POST", "/x", **big)[0] == 413
    assert ask(served, "PUT", "/x", **form(served, csrf=served.csrf))[0] == 405
    ours = form(served, days="7", csrf=served.csrf)
    ours["headers"]["Origin"] = served.origin
    status, _, body = ask(served, "POST", "/contacts/ann/pause", **ours)
    assert status == 200 and body.startswith(b"POST /contacts/ann/pause")
    assert [(r.method, dict(r.form)) for r, _ in seen] == [
        ("POST", {"days": "7", "csrf": served.csrf})
    ]


def test_get_reaches_the_pages_with_the_csrf_token_for_their_forms(
    console: tuple[Console, Seen],
) -> None:
    served, seen = console
    status, _, _ = ask(served, "GET", "/contacts?q=ann%40example.com")
    assert status == 200
    [(request, csrf)] = seen
    assert (request.method, request.query["q"], csrf) == ("GET", "ann@example.com", served.csrf)


def test_the_api_client_signs_with_a_key_or_with_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    keyed = from_environment(
        {"NURTURE_API_URL": "http://127.0.0.1:8000", "NURTURE_API_KEY": "k" * 20}
    )
    assert keyed.sign("GET", "http://127.0.0.1:8000/api/x", b"", {})["Authorization"] == (
        "Bearer " + "k" * 20
    )
    local = from_environment(
        {
            "NURTURE_API_URL": "http://127.0.0.1:8000",
            "NURTURE_API_KEYS": '{"api_keys": {"local": "local-key-0123456789"}}',
        }
    )
    assert local.sign("GET", "http://x/", b"", {})["Authorization"] == "Bearer local-key-0123456789"
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
    signed = from_environment({"NURTURE_API_URL": url}).sign("GET", url + "/api/sequences", b"", {})
    authorization = signed["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "X-Amz-Date" in signed


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({}, "NURTURE_API_URL"),
        ({"NURTURE_API_URL": "ftp://x"}, "NURTURE_API_URL"),
        ({"NURTURE_API_URL": "https://api.example.com"}, "AWS_REGION"),
        ({"NURTURE_API_URL": "http://x", "NURTURE_API_KEYS": "{"}, "api keys"),
    ],
)
def test_missing_configuration_is_named(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        from_environment(environ)


def test_dashboard_refuses_bad_options_and_missing_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    assert runner.invoke(nurture, ["dashboard", "--port", "70000"]).exit_code == 2
    monkeypatch.delenv("NURTURE_API_URL", raising=False)
    result = runner.invoke(nurture, ["dashboard", "--no-open"])
    assert result.exit_code == 1 and "NURTURE_API_URL" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("NURTURE_API_URL", "http://127.0.0.1:1")
        monkeypatch.setenv("NURTURE_API_KEY", "k" * 20)
        busy = runner.invoke(nurture, ["dashboard", "--no-open", "--port", str(port)])
    assert busy.exit_code == 1 and f"--port {port}" in busy.output


def test_charts_escape_what_they_draw() -> None:
    bar = charts.bars("t<", [charts.Bar("<script>x</script>", 3, "sent")], "b")
    assert "<script>" not in bar and "&lt;script&gt;" in bar
    graph = charts.step_graph(
        {"steps": [{"id": "a", "branches": {"opened": {"goto": "b"}}}, {"id": "b"}]}, "g"
    )
    assert graph.count('class="branch"') == 1 and "opened → b" in graph
    line = charts.trend(
        "t", ["2026-03-01", "2026-03-02"], [charts.Series("s", "sent", [1, 2])], "l"
    )
    assert line.count("<polyline") == 1
