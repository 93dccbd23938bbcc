from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib import services
from chalicelib.config import settings
from chalicelib.store import Table
from chalicelib.tokens import Claims, Purpose, sign
from chalicelib.tracking import Tracker
from chalicelib.web import PIXEL
from tests.conftest import events_of, headers, token_for

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari"
ACCEPTS = [
    None,
    "image/*",
    "*/*",
    "image/webp,*/*",
    "image/avif,image/webp,*/*;q=0.8",
    "text/html",
    "application/json",
    "image/png",
]


def flip_last(token: str) -> str:
    return token[:-1] + ("B" if token[-1] == "A" else "A")


def gif_size(body: bytes) -> tuple[int, int]:
    assert body[:6] == b"GIF89a" and body.endswith(b";")
    return int.from_bytes(body[6:8], "little"), int.from_bytes(body[8:10], "little")


@pytest.mark.parametrize("accept", ACCEPTS)
def test_pixel_answers_every_accept_header(
    client: Client, table: Table, accept: str | None
) -> None:
    sent = {"user-agent": BROWSER} | ({"accept": accept} if accept else {})
    response = client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers=sent)
    assert response.status_code == 200
    assert headers(response)["content-type"] == "image/gif"
    assert "no-store" in headers(response)["cache-control"]
    assert response.body == PIXEL and gif_size(response.body) == (1, 1)
    [opened] = events_of(table, kind="opened")
    assert (opened["verdict"], opened["send_id"]) == ("human", "send-1")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "not-a-token.at-all",
        "A" * 5000,
        token_for(Purpose.CLICK, link=0, url="https://e.x/"),
        flip_last(token_for(Purpose.OPEN)),
        token_for(Purpose.OPEN) + "%00",
    ],
)
def test_pixel_with_bad_token_serves_gif_and_records_nothing(
    client: Client, table: Table, token: str
) -> None:
    response = client.http.get(f"/o/{token}")
    assert response.status_code in (200, 403, 404)  # "" does not reach the route at all
    if token:
        assert response.status_code == 200 and response.body == PIXEL
    assert events_of(table) == []


@pytest.mark.parametrize(
    ("agent", "verdict", "reason"),
    [
        ("Mozilla/5.0", "machine", "apple_mpp"),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"
            " (via ggpht.com GoogleImageProxy)",
            "machine",
            "google_image_proxy",
        ),
        (
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
            "machine",
            "yahoo_image_proxy",
        ),
        ("", "unknown", "no_user_agent"),
        (BROWSER, "human", "mail_client"),
    ],
)
def test_opens_are_classified_with_reason(
    client: Client, table: Table, agent: str, verdict: str, reason: str
) -> None:
    client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": agent})
    [opened] = events_of(table, kind="opened")
    assert (opened["verdict"], opened["verdict_reason"]) == (verdict, reason)
    assert not {"ip", "source_ip", "user_agent"} & set(opened)


def test_open_seconds_after_send_is_machine(client: Client, table: Table) -> None:
    client.http.get(f"/o/{token_for(Purpose.OPEN, age=0)}", headers={"user-agent": BROWSER})
    [opened] = events_of(table, kind="opened")
    assert opened["verdict_reason"] == "seconds_after_send"


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/p?id=7&utm_source=mail#reviews",
        "http://EXAMPLE.com/%7Euser?q=a%20b",
        "https://example.com/path;params?x=1&x=2&empty=#",
    ],
)
def test_click_redirects_to_exact_signed_destination(
    client: Client, table: Table, url: str
) -> None:
    token = token_for(Purpose.CLICK, link=2, url=url)
    response = client.http.get(f"/c/{token}", headers={"user-agent": BROWSER})
    assert response.status_code == 302
    assert headers(response)["location"] == url
    assert headers(response)["content-type"] == "text/plain; charset=utf-8"
    [clicked] = events_of(table, kind="clicked")
    assert (clicked["verdict"], clicked["link"], clicked["send_id"]) == ("human", 2, "send-1")


def test_tampered_click_token_gets_404_page_and_no_redirect(client: Client, table: Table) -> None:
    token = token_for(Purpose.CLICK, link=0, url="https://example.com/")
    for bad in (
        token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        token[:20],
        token_for(Purpose.OPEN),
        token_for(Purpose.UNSUBSCRIBE),
    ):
        response = client.http.get(f"/c/{bad}")
        assert response.status_code == 404
        assert "location" not in headers(response)
        assert headers(response)["content-type"].startswith("text/html")
        assert b"not valid" in response.body
    assert events_of(table) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "file:///etc/passwd",
        "//evil.example/",
        "https:/no-host",
        "https://ok.example/\\evil",
    ],
)
def test_signed_non_http_destination_never_redirects(
    client: Client, table: Table, url: str
) -> None:
    response = client.http.get(f"/c/{token_for(Purpose.CLICK, link=0, url=url)}")
    assert response.status_code == 404 and "location" not in headers(response)
    assert events_of(table) == []


def test_expired_click_token_is_refused(client: Client, table: Table) -> None:
    token = token_for(Purpose.CLICK, link=0, url="https://example.com/", age=3651 * 86400)
    assert client.http.get(f"/c/{token}").status_code == 404


def test_head_redirects_but_is_a_scanner_click(client: Client, table: Table) -> None:
    token = token_for(Purpose.CLICK, link=1, url="https://example.com/")
    response = client.http.head(f"/c/{token}", headers={"user-agent": BROWSER})
    assert response.status_code == 302
    [clicked] = events_of(table, kind="clicked")
    assert (clicked["verdict"], clicked["verdict_reason"]) == ("scanner", "head_request")


def test_a_click_names_its_method_only_when_not_a_get_and_the_timeline_shows_both(
    client: Client, table: Table
) -> None:
    """A GET click's item holds no `method` (one attribute less on every click's write); the
    timeline still shows each click's method."""
    table.put_profile("alice", {"email": "alice@example.com"})
    for method, link in (("GET", 1), ("HEAD", 2)):
        token = token_for(Purpose.CLICK, link=link, url="https://example.com/")
        answer = client.http.request(method, f"/c/{token}", headers={"user-agent": BROWSER})
        assert answer.status_code == 302
    stored = {int(e["link"]): e.get("method") for e in events_of(table, kind="clicked")}
    assert stored == {1: None, 2: "HEAD"}
    key = {"authorization": "Bearer api-key-0123456789abcdef"}
    shown = json.loads(client.http.get("/api/contacts/alice/timeline", headers=key).body)
    methods = {e["link"]: e["method"] for e in shown["entries"] if e["type"] == "clicked"}
    assert methods == {1: "GET", 2: "HEAD"}


@pytest.mark.parametrize(
    ("agent", "age", "reason"),
    [
        ("Mozilla/5.0 (compatible; Mimecast URL Protect)", 3600, "mimecast"),
        (BROWSER, 1, "seconds_after_send"),
        ("python-requests/2.32", 3600, "http_library"),
    ],
)
def test_scanner_clicks_still_redirect_and_are_marked(
    client: Client, table: Table, agent: str, age: float, reason: str
) -> None:
    token = token_for(Purpose.CLICK, link=1, url="https://example.com/", age=age)
    assert client.http.get(f"/c/{token}", headers={"user-agent": agent}).status_code == 302
    [clicked] = events_of(table, kind="clicked")
    assert (clicked["verdict"], clicked["verdict_reason"]) == ("scanner", reason)


def test_huge_query_string_is_a_fast_client_answer(client: Client, table: Table) -> None:
    token = token_for(Purpose.OPEN)
    response = client.http.get(f"/o/{token}?{'x' * 20000}=1")
    assert response.status_code == 200 and response.body == PIXEL


def test_clicks_on_one_link_in_a_day_are_one_item_holding_the_first(table: Table) -> None:
    now = [1_800_000_000.05]
    tracker = Tracker(settings(), services.keyring, table, services.parking(), lambda: now[0])
    token = sign(
        Claims(Purpose.CLICK, "alice", "send-1", 1_799_996_400, 4, "https://e.com/a"),
        services.keyring(),
    )
    for _ in range(10):
        tracker.click(token, "GET", BROWSER)
        now[0] += 0.09  # ten clicks within 0.9 s
    now[0] = 1_800_000_000 + 3 * 3600  # the mail read again three hours later
    tracker.click(token, "GET", BROWSER)
    clicks = events_of(table, kind="clicked")
    assert [(e["link"], e["at"]) for e in clicks] == [(4, "2027-01-15T08:00:00.000Z")]
    tracker.click(token, "HEAD", BROWSER)  # a scanner's verdict is an item of its own
    assert sorted(str(e["verdict"]) for e in events_of(table, kind="clicked")) == [
        "human",
        "scanner",
    ]
    now[0] = 1_800_000_000 + 86_400  # the next day is a new click, so recency moves
    tracker.click(token, "GET", BROWSER)
    human = [e for e in events_of(table, kind="clicked") if e["verdict"] == "human"]
    assert sorted(str(e["at"]) for e in human) == [
        "2027-01-15T08:00:00.000Z",
        "2027-01-16T08:00:00.000Z",
    ]


def test_a_repeated_open_the_same_day_reaches_no_stream(table: Table) -> None:
    """The repeat's conditional put fails: one write unit, and no record for the stream."""
    now = [1_800_000_000.0]
    tracker = Tracker(settings(), services.keyring, table, services.parking(), lambda: now[0])
    token = sign(Claims(Purpose.OPEN, "alice", "send-1", 1_799_996_400), services.keyring())
    tracker.open(token, BROWSER)
    streams = services.client("dynamodbstreams")
    arn = services.client("dynamodb").describe_table(TableName=table.name)["Table"][
        "LatestStreamArn"
    ]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]

    def records() -> int:
        total = 0
        for shard in shards:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            total += len(streams.get_records(ShardIterator=iterator)["Records"])
        return total

    first = records()
    for minutes in (1, 90, 600):
        now[0] = 1_800_000_000.0 + minutes * 60
        tracker.open(token, BROWSER)
    assert records() == first
    assert len(events_of(table, kind="opened")) == 1


@pytest.mark.parametrize("accept", [None, "*/*", "image/webp,*/*", "text/html", "application/json"])
def test_head_on_the_pixel_is_a_gif_and_a_machine_open(
    client: Client, table: Table, accept: str | None
) -> None:
    sent = {"user-agent": BROWSER} | ({"accept": accept} if accept is not None else {})
    response = client.http.head(f"/o/{token_for(Purpose.OPEN)}", headers=sent)
    assert response.status_code == 200
    assert headers(response)["content-type"] == "image/gif"
    assert headers(response)["cache-control"].startswith("no-store")
    [opened] = events_of(table, kind="opened")
    assert (opened["verdict"], opened["verdict_reason"]) == ("machine", "head_request")
    assert client.http.head("/o/not-a-token").status_code == 200


def stored_size(item: dict) -> int:
    """Bytes DynamoDB charges for an item of strings and numbers: names plus values."""
    return sum(len(name) + len(next(iter(value.values()))) for name, value in item.items())


def test_an_open_and_a_click_are_one_item_under_1_kb_in_no_index(
    client: Client, table: Table
) -> None:
    """One write unit each: no index copy (no GSI key attributes), at most 1 KB."""
    long_url = "https://example.com/" + "p" * 300
    client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    client.http.get(
        f"/c/{token_for(Purpose.CLICK, link=7, url=long_url)}", headers={"user-agent": BROWSER}
    )
    answer = services.client("dynamodb").scan(TableName=table.name)
    events = [i for i in answer["Items"] if i["SK"]["S"].startswith("EV#")]
    assert sorted(i["type"]["S"] for i in events) == ["clicked", "opened"]
    indexed = {"GSI1PK", "GSI1SK"}
    for item in events:
        assert not indexed & set(item)
        assert stored_size(item) <= 1024
