"""Text parts: derived ones leave out what is hidden, every link in them is tracked and points
at the link every client shows (never Outlook's VML copy)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.linkrewrite import Rewritten, rewrite_links, track_written_text
from tests.test_render import BASE, click_claims, make

FOOTER = '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
BUTTON = """<td>
<!--[if mso]><v:roundrect href="https://e.example/go" style="width:260px"><center>Go</center>
</v:roundrect><![endif]-->
<!--[if !mso]><!-- --><a class="button" href="https://e.example/go">Go</a><!--<![endif]-->
</td>"""


def test_derived_text_leaves_out_the_preheader_and_decorative_parts() -> None:
    source = (
        '<div style="display:none;max-height:0">Preview line&#8199;&#847;&#8199;&#847;</div>'
        "<style>.gone { display: none }</style>"
        '<table><tr><td aria-hidden="true">NURTURE</td></tr>'
        "<tr><td><p>Body text</p><p class=gone>Hidden by class</p>"
        '<p hidden>Hidden attribute <a href="https://e.example/h">h</a></p>'
        f"<img src=x hidden><br/></td></tr></table>{FOOTER}"
    )

    text = make(source).text

    assert text.startswith("Body text\n\nUnsubscribe (")
    for gone in ("Preview", "\u2007", "\u034f", "NURTURE", "Hidden", "e.example/h"):
        assert gone not in text, gone


def test_a_text_link_takes_the_index_of_the_link_every_client_shows() -> None:
    prepared = make(f"<table><tr>{BUTTON}</tr></table>{FOOTER}")

    [url] = re.findall(r"Go \((https://t[^)]+)\)", prepared.text)

    assert prepared.links == ("https://e.example/go", "https://e.example/go")
    assert click_claims(url).link == 1  # 0 is the VML copy inside the conditional comment
    html_urls = re.findall(rf'href="({re.escape(BASE)}/c/[^"]+)"', prepared.html)
    assert [click_claims(u.replace("&amp;", "&")).link for u in html_urls] == [0, 1]


def test_hand_written_text_links_are_tracked_like_their_html_twins() -> None:
    source = (
        f'<table><tr>{BUTTON}</tr></table><p><a href="https://e.example/privacy" '
        f"data-nurture-notrack>Privacy</a></p>{FOOTER}"
    )
    text = (
        "Go here: https://e.example/go.\n"
        "Or read (https://e.example/blog/a_(b)).\n"
        "Privacy: https://e.example/privacy\n"
        "Stop: {{ unsubscribe_url }}\n"
    )

    prepared = make(source, text=text)

    go, blog = re.findall(rf"{re.escape(BASE)}/c/[\w-]+\.[\w-]+", prepared.text)
    assert prepared.text.startswith(f"Go here: {go}.\nOr read ({blog}).\n")
    assert click_claims(go).link == 1 and click_claims(go).url == "https://e.example/go"
    assert click_claims(blog).link == 2 and click_claims(blog).url == "https://e.example/blog/a_(b)"
    assert prepared.links[2] == "https://e.example/blog/a_(b)"
    assert "Privacy: https://e.example/privacy\n" in prepared.text  # not tracked in HTML either
    assert f"Stop: {BASE}/u/" in prepared.text


URL_TAIL = st.text(alphabet="abcxyz019/-_~%=&?", max_size=20)
PUNCTUATION = st.text(alphabet=".,;:!?)'\"", max_size=3)
PROSE = st.text(alphabet=st.characters(blacklist_characters="h"), max_size=40)


@given(URL_TAIL, PUNCTUATION, PROSE, PROSE)
def test_a_written_url_is_swapped_whole_and_the_prose_around_it_kept(
    tail: str, punctuation: str, before: str, after: str
) -> None:
    url = f"https://e.example/{tail}".rstrip("?")
    rewritten = rewrite_links("", lambda i, d: d, ())
    text, extra = track_written_text(
        f"{before} {url}{punctuation} {after}", rewritten, lambda i, d: f"<{i}>", ()
    )
    assert text == f"{before} <0>{punctuation} {after}"
    assert extra == (url,)


@given(st.text(alphabet=st.characters(blacklist_characters="h"), max_size=200))
def test_text_without_urls_is_left_alone(text: str) -> None:
    assert track_written_text(text, Rewritten("", (), ()), lambda i, d: "X", ()) == (text, ())
