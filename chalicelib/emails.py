"""Email addresses: the one syntax check, the one rule for when two spellings are the same
address (its identity), and the hash it is looked up and suppressed by."""

from __future__ import annotations

import hashlib
import re

_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_QUOTED = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def identity(email: str) -> str:
    """Lower-cased local part at the punycode domain: `Ann@Bücher.de ` is `ann@xn--bcher-kva.de`.

    An address that fails the syntax check (SES may report one) is trimmed and lower-cased.
    """
    try:
        return normalise_email(email)[1]
    except ValueError:
        return email.strip().lower()


def hash_identity(identity_key: str) -> str:
    return hashlib.sha256(identity_key.encode()).hexdigest()


def email_hash(email: str) -> str:
    """The key an address is looked up and suppressed by (sha256 hex of its identity)."""
    return hash_identity(identity(email))


def normalise_email(raw: str) -> tuple[str, str]:
    """Return (address as stored, identity key), or raise ValueError saying what is wrong.

    A syntax check only (no DNS): dot-atom or quoted ASCII local part of at most 64 octets,
    a dotted domain (IDN allowed, checked in its punycode form), 254 characters in all.
    """
    address = raw.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("expected one @ between a local part and a domain")
    if not (_QUOTED.fullmatch(local) or _DOT_ATOM.fullmatch(local)):
        problem = "more than one @" if "@" in local else "invalid characters or dots"
        raise ValueError(f"local part {local!r}: {problem}")
    if len(local) > 64:
        raise ValueError("local part longer than 64 characters")
    ascii_domain = _ascii_domain(domain)
    if len(local) + 1 + len(ascii_domain) > 254:
        raise ValueError("address longer than 254 characters")
    return f"{local}@{domain.lower()}", f"{local.lower()}@{ascii_domain}"


def _ascii_domain(domain: str) -> str:
    """The domain's punycode form; ASCII domains skip idna (slow) and are checked as labels."""
    import idna  # only international domains need it; kept off the cold start

    try:
        ascii_domain = (
            domain.lower() if domain.isascii() else idna.encode(domain, uts46=True).decode()
        )
    except (idna.IDNAError, UnicodeError) as err:
        raise ValueError(f"domain {domain!r}: not a valid domain name ({err})") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"domain {domain!r}: expected dotted labels such as example.com")
    if labels[-1].isdigit() or len(ascii_domain) > 253:
        raise ValueError(f"domain {domain!r}: not a host name")
    return ascii_domain
