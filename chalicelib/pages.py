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

    return Environment(
        loader=FileSystemLoader(PAGES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        auto_reload=False,
    )


def render(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(brand=BRAND, **context)


def not_found() -> str:
    return render("not_found.html")
