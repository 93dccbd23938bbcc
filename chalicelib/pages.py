"""Recipient-facing HTML pages: our own templates in `templates/pages`, autoescaped."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

PAGES = Path(__file__).resolve().parent.parent / "templates" / "pages"
BRAND = "nurture"


@cache
def _environment() -> Environment:
    """Built on first use: jinja2 stays off the import path of the pixel and click Lambdas."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(PAGES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        auto_reload=False,
    )
    env.filters["long_date"] = long_date
    return env


def long_date(stamp: str) -> str:
    """`2026-11-20T12:30:00.000Z` as `20 November 2026` (the UTC date), for people to read."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return f"{moment.day} {moment:%B %Y}"


def render(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(brand=BRAND, **context)


def not_found() -> str:
    return render("not_found.html")
