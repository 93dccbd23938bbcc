"""HTTP shapes shared by the routes: the Chalice app class, the GIF, HTML and redirects.

API Gateway is configured with binary media type `*/*`, so it decodes every base64 body
whatever the client's Accept header; Chalice then needs every body as bytes.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Chalice, Response

# A valid 1x1 transparent GIF89a.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"
_SECURITY_HEADERS = {
    "Cache-Control": NO_STORE,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_HEADERS: dict[str, str | list[str]] = {
    **_SECURITY_HEADERS,
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class NurtureChalice(Chalice):
    """Chalice, answering requests without an Accept header as RFC 9110 says: as `*/*`.

    Stock Chalice rejects binary responses (the pixel) to such requests with a 400.
    """

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        headers = event.get("headers") or {}
        if not any(name.lower() == "accept" for name in headers):
            event["headers"] = {**headers, "accept": "*/*"}
            multi = event.get("multiValueHeaders")
            if multi is not None:
                event["multiValueHeaders"] = {**multi, "accept": ["*/*"]}
        return super().__call__(event, context)


def gif() -> Response:
    return Response(
        body=PIXEL, status_code=200, headers={**_SECURITY_HEADERS, "Content-Type": "image/gif"}
    )


def redirect(url: str) -> Response:
    """An empty 302; its content type is explicit, or API Gateway would call it JSON."""
    headers: dict[str, str | list[str]] = {
        **_SECURITY_HEADERS,
        "Content-Type": "text/plain; charset=utf-8",
        "Location": url,
    }
    return Response(body=b"", status_code=302, headers=headers)


def html(page: str, status: int = 200) -> Response:
    return Response(body=page.encode("utf-8"), status_code=status, headers=_PAGE_HEADERS)


def json_doc(doc: object, status: int = 200, extra: dict[str, str] | None = None) -> Response:
    headers: dict[str, str | list[str]] = {
        **_SECURITY_HEADERS,
        "Content-Type": "application/json",
        **(extra or {}),
    }
    return Response(body=json.dumps(doc).encode(), status_code=status, headers=headers)
