from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import BadToken, ConfigError
from chalicelib.tokens import MAX_TOKEN_LENGTH, Claims, Keyring, Purpose, _b64decode, sign, verify

KEY_A = b"a" * 32
KEY_B = b"b" * 32
RING = Keyring(active="a", keys={"a": KEY_A, "b": KEY_B})

ids = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FFF, exclude_characters="\x7f"),
    min_size=1,
    max_size=40,
)
urls = st.from_regex(r"https://[a-z]{1,20}\.example/[A-Za-z0-9/?=&#%._~-]{0,80}", fullmatch=True)


def click(
    contact: str = "c1", send: str = "s1", url: str = "https://example.com/x?a=1#f"
) -> Claims:
    return Claims(Purpose.CLICK, contact, send, 1_700_000_000, 3, url)


@given(contact=ids, send=ids, issued=st.integers(0, 2**40), link=st.integers(0, 500), url=urls)
def test_click_round_trip(contact: str, send: str, issued: int, link: int, url: str) -> None:
    claims = Claims(Purpose.CLICK, contact, send, issued, link, url)
    assert verify(sign(claims, RING), Purpose.CLICK, RING) == claims


@given(
    purpose=st.sampled_from([Purpose.OPEN, Purpose.UNSUBSCRIBE, Purpose.CONVERSION]),
    contact=ids,
    send=ids,
)
def test_other_purposes_round_trip(purpose: Purpose, contact: str, send: str) -> None:
    claims = Claims(purpose, contact, send, 1_700_000_000)
    token = sign(claims, RING)
    assert verify(token, purpose, RING) == claims
    assert all(c.isalnum() or c in "-_." for c in token)


@given(data=st.data())
def test_any_single_character_change_is_rejected(data: st.DataObject) -> None:
    token = sign(click(), RING)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AQgw_-.0z9=+/ ").filter(lambda c: c != token[index]))
    tampered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(BadToken):
        verify(tampered, Purpose.CLICK, RING)


@given(cut=st.integers(1, 60))
def test_truncation_is_rejected(cut: int) -> None:
    token = sign(click(), RING)
    with pytest.raises(BadToken):
        verify(token[:-cut], Purpose.CLICK, RING)


def test_padded_or_reencoded_tokens_are_rejected() -> None:
    token = sign(Claims(Purpose.OPEN, "c1", "s1", 1), RING)
    body, tag = token.split(".")
    for variant in (
        token + "=",
        f"{body}=.{tag}",
        token.replace("-", "+").replace("_", "/"),
        f" {token}",
        token.upper(),
        token + ".",
    ):
        if variant != token:
            with pytest.raises(BadToken):
                verify(variant, Purpose.OPEN, RING)


def test_non_canonical_base64_with_same_bytes_is_rejected() -> None:
    token = sign(Claims(Purpose.OPEN, "c1", "s1", 1), RING)
    body, tag = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(tag[-1])
    # 16 tag bytes → 22 chars whose last char carries 4 unused bits: flip one of them.
    sibling = tag[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(sibling + "==") == base64.urlsafe_b64decode(tag + "==")
    with pytest.raises(BadToken):
        verify(f"{body}.{sibling}", Purpose.OPEN, RING)


@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=12))
def test_base64url_is_taken_only_as_the_canonical_encoding_of_its_bytes(text: str) -> None:
    """Any text of the alphabet decodes if and only if it is exactly how its bytes encode."""
    padded = text + "=" * (-len(text) % 4)
    try:
        data: bytes | None = base64.urlsafe_b64decode(padded)
    except ValueError:
        data = None
    if text and data is not None and base64.urlsafe_b64encode(data).decode() == padded:
        assert _b64decode(text) == data
    else:
        with pytest.raises(BadToken):
            _b64decode(text)


def test_token_is_bound_to_its_purpose() -> None:
    token = sign(click(), RING)
    for other in (Purpose.OPEN, Purpose.UNSUBSCRIBE, Purpose.CONVERSION):
        with pytest.raises(BadToken):
            verify(token, other, RING)


def test_swapping_contact_between_tokens_is_rejected() -> None:
    alice = sign(Claims(Purpose.UNSUBSCRIBE, "alice", "s1", 1), RING)
    bob = sign(Claims(Purpose.UNSUBSCRIBE, "bob", "s1", 1), RING)
    spliced = alice.split(".")[0] + "." + bob.split(".")[1]
    with pytest.raises(BadToken):
        verify(spliced, Purpose.UNSUBSCRIBE, RING)


def test_rotation_old_keys_verify_new_tokens_use_active_key() -> None:
    old = sign(click(), Keyring(active="b", keys={"b": KEY_B}))
    rotated = Keyring(active="a", keys={"a": KEY_A, "b": KEY_B})
    assert verify(old, Purpose.CLICK, rotated) == click()
    fresh = sign(click(), rotated)
    assert verify(fresh, Purpose.CLICK, Keyring(active="a", keys={"a": KEY_A})) == click()
    with pytest.raises(BadToken):
        verify(fresh, Purpose.CLICK, Keyring(active="b", keys={"b": KEY_B}))


def test_retired_key_stops_verifying() -> None:
    old = sign(click(), Keyring(active="b", keys={"b": KEY_B}))
    with pytest.raises(BadToken):
        verify(old, Purpose.CLICK, Keyring(active="a", keys={"a": KEY_A}))


def test_same_key_id_with_other_secret_is_rejected() -> None:
    token = sign(click(), RING)
    with pytest.raises(BadToken):
        verify(token, Purpose.CLICK, Keyring(active="a", keys={"a": b"x" * 32}))


@given(garbage=st.text(max_size=300))
def test_garbage_never_raises_anything_but_bad_token(garbage: str) -> None:
    with pytest.raises(BadToken):
        verify(garbage, Purpose.CLICK, RING)


def test_oversized_token_is_rejected_before_decoding() -> None:
    with pytest.raises(BadToken, match="malformed"):
        verify("A" * (MAX_TOKEN_LENGTH + 1) + ".AAAA", Purpose.OPEN, RING)


def test_control_characters_never_enter_a_token() -> None:
    with pytest.raises(ValueError, match="control characters"):
        sign(click(url="https://example.com/\r\nSet-Cookie: x=1"), RING)


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ('{"active": "z", "keys": {"a": "YWFhYWFhYWFhYWFhYWFhYWFh"}}', "not in keys"),
        ('{"active": "a", "keys": {"a": "c2hvcnQ="}}', "shorter than"),
        ('{"active": "a b", "keys": {"a b": "YWFhYWFhYWFhYWFhYWFhYWFh"}}', "must match"),
        ('{"active": "a"}', "malformed"),
        ("not json", "malformed"),
    ],
)
def test_bad_keyring_documents_fail_clearly(doc: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Keyring.from_json(doc)
