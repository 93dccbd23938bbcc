"""Link destinations: checked and made ASCII at upload and signing, redirected as signed."""

from __future__ import annotations

import html
import re

import pytest
from chalice.test import Client
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import BadTemplate
from chalicelib.links import MAX_URL_LENGTH, UnsafeDestination, check_destination
from chalicelib.render import validate_template
from chalicelib.store import Table
from chalicelib.tokens import Purpose
from tests.conftest import events_of, headers, token_for
from tests.test_render import clicks, make

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"


@pytest.mark.parametrize(
    ("written", "signed"),
    [
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        (
            "https://Bücher.Example:8443/a?q=ü#é",
            "https://xn--bcher-kva.example:8443/a?q=%C3%BC#%C3%A9",
        ),
        ("https://例え.テスト/パス", "https://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9"),
        ("https://shop.example/😀?x=1&y=2", "https://shop.example/%F0%9F%98%80?x=1&y=2"),
        ("https://user:pä@shop.example/", "https://user:p%C3%A4@shop.example/"),
        ("https://[2001:db8::1]/é", "https://[2001:db8::1]/%C3%A9"),
    ],
)
def test_international_destinations_are_signed_in_ascii(written: str, signed: str) -> None:
    prepared = make(f'<p><a href="{written}">buy</a></p>', text="Buy: {{ 'x' }}")
    [claims] = clicks(prepared.html)
    assert claims.url == signed and signed.isascii()
    assert check_destination(signed) == signed  # signing it again changes nothing


def test_the_derived_text_part_tracks_an_international_link_too() -> None:
    prepared = make('<p><a href="https://bücher.example/straße">Bücher</a></p>')
    [url] = re.findall(r"https://t\.example\.test/c/\S+", prepared.text)
    assert "bücher" not in prepared.text
    assert html.unescape(url).rstrip(")") in {
        html.unescape(h) for h in re.findall(r'href="([^"]*)"', prepared.html)
    }


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\u202e", "\u200b", "\u00a0", "\ufeff", "\ue000", "\U000e0001"]
)
def test_characters_no_url_may_carry_are_refused_at_upload(char: str) -> None:
    with pytest.raises(BadTemplate, match=f"U\\+{ord(char):04X}"):
        validate_template(f'<a href="https://shop.example/a{char}b">x</a>', "html")


@pytest.mark.parametrize(
    "url",
    [
        "https://bü_cher.example/",
        "https://[.example/é",
        "https://shop.example:٨٠/é",
        "https://shop.example/" + "é" * (MAX_URL_LENGTH // 2),
    ],
)
def test_international_names_that_cannot_be_encoded_are_refused(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        check_destination(url)


def test_a_token_signed_before_normalising_still_redirects_in_ascii(
    client: Client, table: Table
) -> None:
    token = token_for(Purpose.CLICK, link=0, url="https://bücher.example/straße?q=ü")
    response = client.http.get(f"/c/{token}", headers={"user-agent": BROWSER})
    assert response.status_code == 302
    location = headers(response)["location"]
    assert location == "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"
    assert len(events_of(table, kind="clicked")) == 1


def test_a_token_signed_with_a_separator_gets_the_404_page(client: Client, table: Table) -> None:
    token = token_for(Purpose.CLICK, link=0, url="https://shop.example/a\u2028b")
    response = client.http.get(f"/c/{token}", headers={"user-agent": BROWSER})
    assert response.status_code == 404 and "location" not in headers(response)
    assert events_of(table) == []


@given(st.text(max_size=60))
def test_any_destination_is_ascii_or_refused(tail: str) -> None:
    for url in (f"https://shop.example/{tail}", f"https://{tail}.example/p"):
        try:
            checked = check_destination(url)
        except UnsafeDestination:
            continue
        assert checked.isascii() and len(checked) <= MAX_URL_LENGTH
        assert check_destination(checked) == checked


@given(st.from_regex(r"https://[a-z0-9.-]{1,20}\.example/[!-~]{0,40}", fullmatch=True))
def test_an_ascii_destination_is_kept_byte_for_byte(url: str) -> None:
    try:
        assert check_destination(url) == url
    except UnsafeDestination:
        assert "\\" in url
