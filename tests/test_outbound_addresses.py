"""No SSRF: webhook URLs must be https to public addresses, checked at push and at delivery."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import UnsafeWebhook
from chalicelib.outbound import parse_target, refusal, resolve

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (an address refused, not bound)
    ("::", "unspecified"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("168.63.129.16", "metadata"),
    ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "loopback address, inside IPv6"),
    ("::ffff:169.254.169.254", "metadata address, inside IPv6"),
    ("2002:a00:1::1", "private address, inside IPv6"),  # 6to4 of 10.0.0.1
    ("64:ff9b::a9fe:a9fe", "metadata address, inside IPv6"),  # NAT64 of 169.254.169.254
    ("2001:db8::1", "private"),  # documentation
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None and why in found
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeWebhook, match="is "):
        parse_target(f"https://{literal}/hook")


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@given(st.ip_addresses())
def test_every_address_is_judged_and_only_global_unicast_passes(
    address: ipaddress._BaseAddress,
) -> None:
    why = refusal(address)  # type: ignore[arg-type]
    if why is None:
        assert address.is_global and not address.is_multicast


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https:///x", "has no host"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com/a b", "spaces or control"),
        ("https://hooks.example.com/\r\nX: y", "spaces or control"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        ("https://" + "a" * 3000 + ".com/", "at most 2048"),
        ("javascript:alert(1)", "has no host"),
    ],
)
def test_malformed_or_unsafe_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(UnsafeWebhook, match=problem):
        parse_target(url)


def test_a_name_resolving_to_any_private_address_is_refused_after_resolution() -> None:
    target = parse_target("https://hooks.example.com/nurture")
    assert resolve(target, lambda host, port: ["93.184.216.34"]) == "93.184.216.34"
    for answer in (["10.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["::ffff:10.0.0.1"]):
        with pytest.raises(UnsafeWebhook, match=r"hooks\.example\.com resolves to"):
            resolve(target, lambda host, port, answer=answer: answer)
    with pytest.raises(UnsafeWebhook, match="does not resolve"):
        resolve(target, lambda host, port: [])


def test_only_the_listed_origin_is_exempt() -> None:
    allowed = ("http://127.0.0.1:5006",)
    target = parse_target("http://127.0.0.1:5006/hooks/crm", allowed)
    assert target.exempt and resolve(target, lambda h, p: ["127.0.0.1"]) == "127.0.0.1"
    for other in ("http://127.0.0.1:5007/x", "http://localhost:5006/x", "https://127.0.0.1:5006/"):
        with pytest.raises(UnsafeWebhook):
            resolve(parse_target(other, allowed), lambda h, p: ["127.0.0.1"])


def test_unicode_hosts_become_idna() -> None:
    assert parse_target("https://bücher.example/x").host == "xn--bcher-kva.example"


@given(st.text(max_size=300))
def test_any_text_as_a_url_is_accepted_or_refused_with_a_reason(text: str) -> None:
    try:
        target = parse_target(text)
    except UnsafeWebhook as exc:
        assert str(exc)
    else:
        assert target.scheme == "https" and target.host and target.request_target.startswith("/")
