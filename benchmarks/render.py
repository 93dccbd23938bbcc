"""Prepare a ~60 KB newsletter and a short plain message N times; report per-core throughput.

Run: python benchmarks/render.py [N]  (target: >= 500 newsletters/s per core, <= 2 ms each;
malformed tags scanned in linear time: about 4x the time for 4x the junk)
The ratio compares `prepare` (render, link signing, pixel, derived text) with a bare jinja2
render of the same source; compilation and CSS inlining happen once, before timing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.render import Prepared, TemplateSet, prepare, validate_template
from chalicelib.tokens import Claims, Keyring, Purpose, sign

KEYRING = Keyring(active="k1", keys={"k1": b"benchmark-key-0123456789"})
CONTACT = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "email": "ada@example.com",
    "locale": "en",
    "plan": "pro",
}
STYLE = """<style>
body { margin: 0; padding: 0; background: #f4f4f4; font-family: Arial, sans-serif; }
.wrapper { width: 100%; background: #f4f4f4; }
.container { width: 600px; background: #ffffff; margin: 0 auto; }
.headline { font-size: 22px; line-height: 28px; color: #111111; font-weight: bold; }
.lead { font-size: 16px; line-height: 24px; color: #333333; }
.muted { font-size: 12px; color: #888888; }
.button a { background: #0057ff; color: #ffffff; padding: 12px 24px; text-decoration: none; }
td.article { padding: 16px 24px; border-bottom: 1px solid #eeeeee; }
@media (max-width: 620px) { .container { width: 100% !important; } .lead { font-size: 15px; } }
</style>"""
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation "
    "ullamco laboris nisi ut aliquip ex ea commodo consequat &amp; more. Duis aute irure dolor "
    "in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. "
)
ARTICLE = (
    """<tr><td class="article" style="padding:16px 24px">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>
<td width="160" valign="top" style="padding-right:16px">
<a href="https://shop.example.com/p/{n}?utm_source=newsletter&amp;utm_medium=email">
<img src="https://cdn.example.com/img/{n}.jpg" width="160" height="120" alt="Product {n}"
 style="display:block;border:0"></a></td>
<td valign="top"><p class="headline">Article {n}: what's new this spring for
{{{{ contact.company | default("your team") }}}}</p>
<p class="lead">LOREM</p><p class="lead" style="margin:0 0 12px 0">LOREM LOREM</p>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%"><tr>
<td class="muted" style="padding:8px 0;border-top:1px solid #eeeeee">LOREM</td></tr></table>
<p class="lead">LOREM LOREM</p>
<p class="button"><a style="font-weight:bold"
 href="https://blog.example.com/articles/{n}?ref=nl&amp;id={{{{ contact.plan | default('x') }}}}"
 >Read more</a></p>
</td></tr></table></td></tr>
"""
).replace("LOREM", LOREM)
VML_BUTTON = """<tr><td align="center" style="padding:24px">
<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml"
 href="https://shop.example.com/sale" style="height:44px;v-text-anchor:middle;width:220px;"
 arcsize="10%" fillcolor="#0057ff" stroke="f"><w:anchorlock/>
<center style="color:#ffffff;font-family:Arial;font-size:16px;">Shop the sale</center>
</v:roundrect><![endif]-->
<!--[if !mso]><!--><a href="https://shop.example.com/sale" style="background:#0057ff;
color:#ffffff;display:inline-block;padding:12px 24px;text-decoration:none">Shop the sale</a>
<!--<![endif]--></td></tr>"""
FOOTER = """<tr><td class="muted" style="padding:24px" id="bottom">
<p class="muted">Questions? <a href="mailto:help@example.com">help@example.com</a> or
<a href="mailto:sales@example.com?subject=Hello">sales</a>. <a href="#top">Back to top</a></p>
<p class="muted">Follow us: <a href="https://twitter.example.com/acme">Twitter</a></p>
<p class="muted">{{ contact.company | default("") }} &middot; 1 Main St &middot; Springfield.
<a href="{{ preferences_url }}">Preferences</a> &middot;
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</td></tr>"""


def newsletter() -> str:
    """~60 KB, 40 links: 17 articles (2 each), VML button + fallback, 1 social, 2 mailto, 1 anchor.

    Plus the untracked preferences and unsubscribe links.
    """
    articles = "".join(ARTICLE.format(n=n) for n in range(17))
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Spring news</title>{STYLE}'
        '</head><body><a name="top"></a><table class="wrapper" role="presentation" width="100%">'
        '<tr><td><table class="container" role="presentation" width="600" align="center">'
        '<tr><td style="padding:24px"><p class="headline">Hi {{ contact.first_name | '
        'default("there") }},</p><p class="lead">Here is your spring update.</p></td></tr>'
        f"{articles}{VML_BUTTON}{FOOTER}</table></td></tr></table></body></html>"
    )


SHORT = (
    "<p>Hi {{ contact.first_name | default('there') }},</p><p>Your trial ends soon. "
    '<a href="https://app.example.com/billing">Upgrade</a> to keep your data.</p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def timed(n: int, work: Callable[[], object]) -> float:
    """Seconds per call, best of three runs of `n` calls (on one core)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            work()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def report(name: str, html: str, n: int) -> None:
    templates = TemplateSet(subject="News for {{ contact.first_name }}", html=html)
    validate_template(templates.html, "html")
    prepared = prepared_from(templates)
    bare_template = Environment(autoescape=True).from_string(html)
    bare = timed(n, lambda: bare_template.render(contact=CONTACT, unsubscribe_url="u"))
    each = timed(n, lambda: prepared_from(templates))
    signing = timed(
        n,
        lambda: [
            sign(Claims(Purpose.CLICK, "c-1", "s-1", 1_800_000_000, i, url), KEYRING)
            for i, url in enumerate(prepared.links)
        ],
    )
    print(
        f"{name}: source {len(html) / 1024:.1f} KB, html out {len(prepared.html) / 1024:.1f} KB, "
        f"text {len(prepared.text) / 1024:.1f} KB, {len(prepared.links)} tracked links\n"
        f"  prepare: {1 / each:,.0f} messages/s per core, {each * 1000:.3f} ms each; "
        f"bare jinja2 render: {bare * 1000:.3f} ms; ratio {each / bare:.1f}x\n"
        f"  of which signing the {len(prepared.links)} click tokens: {signing * 1000:.3f} ms"
    )


def malformed_tags() -> None:
    """Unclosed tags and attributes are scanned in linear time: 4x the junk, ~4x the time."""
    for junk in ('<a "', "<a '", "<a x", '<a x="'):
        small, large = (
            timed(1, lambda html=f"<p>{junk * size}</p>": prepared_from(TemplateSet("s", html)))
            for size in (20_000, 80_000)
        )
        print(
            f"malformed {junk!r} x20,000: {small * 1000:.1f} ms; x80,000: {large * 1000:.1f} ms;"
            f" ratio {large / small:.1f}x (linear = 4x, quadratic = 16x)"
        )


def prepared_from(templates: TemplateSet) -> Prepared:
    return prepare(
        templates,
        CONTACT,
        contact_id="c-1",
        send_id="s-1",
        issued_at=1_800_000_000,
        keyring=KEYRING,
        base_url="https://t.example.com",
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    report("newsletter", newsletter(), n)
    report("short", SHORT, n * 4)
    malformed_tags()


if __name__ == "__main__":
    main()
