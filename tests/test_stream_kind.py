"""Only `store` reads keys: stream records are classified by `store.stream_kind`."""

from __future__ import annotations

import pytest

from chalicelib import store


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ({"PK": "C#c1", "SK": "EV#2026-01-01T00:00:00Z#clicked#e1"}, "event"),
        ({"PK": "S#abc", "SK": "META"}, "send"),
        ({"PK": "C#c1", "SK": "E#welcome"}, "enrollment"),
        ({"PK": "D#2026-01-01T00:00Z", "SK": "c1#welcome#1#0#send#a"}, None),
        ({"PK": "WD#crm#evt_1", "SK": "DELIVERY"}, None),
        ({"PK": "S#abc", "SK": "U#opened"}, None),
        ({"PK": "C#c1", "SK": "PROFILE"}, "profile"),
        ({"PK": "C#c1", "SK": "META"}, None),
        ({}, None),
    ],
)
def test_stream_kind_names_what_an_item_is(image: dict[str, str], kind: str | None) -> None:
    assert store.stream_kind(image) == kind
