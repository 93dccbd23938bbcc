"""Where webhooks may go: public https endpoints only (no SSRF).

A URL is checked when a subscription is pushed and again at every delivery, after DNS
resolution; the delivery then connects to the address that was checked (no second lookup a
rebinding DNS server could answer differently) and follows no redirect. Refused: loopback,
private, link-local, CGNAT, multicast, reserved and unspecified addresses and the cloud
metadata endpoints, in IPv4 and IPv6, including IPv4 carried inside IPv6 (mapped, 6to4,
Teredo, NAT64). `NURTURE_WEBHOOK_ALLOWED_ORIGINS` lists the origins exempt from these rules
(the local stack's receiver); it is empty in AWS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.errors import UnsafeWebhook

__all__ = ["Resolver", "Target", "parse_target", "refusal", "resolve", "system_resolver"]

MAX_URL = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
    )
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    request_target: str
    exempt: bool

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_target(url: str, allowed_origins: Iterable[str] = ()) -> Target:
    """Check a URL's form (https, no credentials, a host); IP literals are checked here too."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise UnsafeWebhook(f"must be a URL of at most {MAX_URL} characters")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise UnsafeWebhook("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhook(f"is not a valid URL ({exc})") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhook("must not carry a user name or password")
    if not host:
        raise UnsafeWebhook("has no host")
    if parts.fragment:
        raise UnsafeWebhook("must not have a #fragment")
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError:
        raise UnsafeWebhook(f"host {host!r} is not a valid domain name") from None
    port = port or (443 if scheme == "https" else 80)
    origin = f"{scheme}://{host}:{port}"
    exempt = origin in {_normal_origin(o) for o in allowed_origins}
    if scheme != "https" and not exempt:
        raise UnsafeWebhook("must use https")
    path = parts.path or "/"
    target = Target(
        url, scheme, host, port, path + (f"?{parts.query}" if parts.query else ""), exempt
    )
    if _is_ip(host) and not exempt:
        _check(ipaddress.ip_address(host), host)
    return target


def resolve(target: Target, resolver: Resolver) -> str:
    """The address to connect to: every address the host resolves to must be public."""
    if _is_ip(target.host):
        return target.host
    try:
        addresses = resolver(target.host, target.port)
    except OSError as exc:
        raise UnsafeWebhook(f"host {target.host!r} does not resolve ({exc})") from None
    if not addresses:
        raise UnsafeWebhook(f"host {target.host!r} does not resolve")
    if not target.exempt:
        for address in addresses:
            _check(ipaddress.ip_address(address), target.host)
    return addresses[0]


def system_resolver(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def refusal(address: Address) -> str | None:
    """Why an address is no place for a webhook, or None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        why = refusal(embedded)
        return f"{why}, inside IPv6" if why else None
    checks = (
        (address in METADATA, "a cloud metadata address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.version == 4 and address in CGNAT, "a carrier-grade NAT address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for refused, why in checks if refused), None)


def _check(address: Address, host: str) -> None:
    why = refusal(address)
    if why:
        where = host if host == str(address) else f"{host} resolves to {address}, which"
        raise UnsafeWebhook(f"{where} is {why}")


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _normal_origin(origin: str) -> str:
    parts = urlsplit(origin.strip())
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"
