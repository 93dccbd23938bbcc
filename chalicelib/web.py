"""HTTP shapes shared by the routes: the Chalice app class, the GIF, HTML, redirects and the
error document.

API Gateway is configured with binary media type `*/*`, so it decodes every base64 body
whatever the client's Accept header; Chalice then needs every body as bytes.

Every error answer is one JSON shape, `{"error": "<field>: <problem>"}`, with `errors` (at most
`MAX_LISTED_ERRORS` of them) and `more_errors` (how many were left out) when there is a list:
ours, and Chalice's own (415 for a content type a route does not take, 405, 500).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chalice.app import Chalice, Request, Response

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

    Stock Chalice rejects binary responses (the pixel) to such requests with a 400. Chalice's
    own error answers are rewritten into the project's error shape.
    """

    def __init__(self, app_name: str) -> None:
        super().__init__(app_name=app_name)
        self.register_middleware(self._own_error_shape, "http")

    def _own_error_shape(self, request: Request, get_response: Callable[..., Any]) -> Response:
        response: Response = get_response(request)
        body = response.body
        if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
            message = self._chalice_error_message(request, str(body["Code"]))
            extra = {k: str(v) for k, v in response.headers.items() if k.lower() == "allow"}
            return problem(message, response.status_code, headers=extra)
        return response

    def _chalice_error_message(self, request: Request, code: str) -> str:
        method = request.method
        route = self.routes.get(request.context.get("resourcePath", ""), {}).get(method)
        if code == "UnsupportedMediaType" and route is not None:
            sent = request.headers.get("content-type") or "(none)"
            accepted = " or ".join(route.content_types)
            return f"content-type: {sent!r} is not accepted here; send {accepted}"
        if code == "MethodNotAllowedError":
            return f"method: {method} is not allowed here"
        if code == "InternalServerError":
            return "internal error"
        return f"request: {code}"

    def direct(self, event: Mapping[str, Any], context: Any) -> dict[str, Any] | None:
        """A request (REST shape) answered by its route's view directly, without Chalice's
        per-request handler and middleware, which are most of a recipient route's CPU
        (benchmarks/hot_path.py): a GET or HEAD, or a request whose content type is one its
        route takes. None for every other request (an unknown route or method, a content type
        to refuse): `self(event, context)` answers those in the project's error shape.

        Nothing else Chalice does applies here: no route has CORS, every response is valid for
        any Accept (binary type `*/*`), and views set no header with a line break."""
        request_context = event.get("requestContext") or {}
        method = request_context.get("httpMethod") or ""
        entry = self.routes.get(request_context.get("resourcePath") or "", {}).get(method)
        if entry is None:
            return None
        if method not in ("GET", "HEAD") and not _takes(entry.content_types, event):
            return None
        self.lambda_context = context
        self.current_request = Request(dict(event), context)
        parameters = event.get("pathParameters") or {}
        try:
            response: Response = entry.view_function(**{n: parameters[n] for n in entry.view_args})
        except Exception:  # what Chalice does with an unexpected error: logged, one 500 shape
            from chalicelib.observability import logger

            route = {"route": entry.uri_pattern, "method": method}
            logger.exception("unhandled error", extra=route)
            response = problem("internal error", 500)
        return lambda_answer(response, self.api.binary_types)

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        headers = event.get("headers") or {}
        if not any(name.lower() == "accept" for name in headers):
            event["headers"] = {**headers, "accept": "*/*"}
            multi = event.get("multiValueHeaders")
            if multi is not None:
                event["multiValueHeaders"] = {**multi, "accept": ["*/*"]}
        return super().__call__(event, context)


def lambda_answer(response: Response, binary_types: list[str]) -> dict[str, Any]:
    """`response.to_dict(binary_types)`, the short way for the bodies the views make (bytes)
    when every type is binary (`*/*`): headers split as Chalice splits them, the body in
    base64. Chalice's general conversion (a case-insensitive copy of the headers and two media
    type matches) costs about five times as much, on every recipient route."""
    body = response.body
    if type(body) is not bytes or "*/*" not in binary_types:
        return response.to_dict(binary_types)
    single: dict[str, Any] = {}
    multi: dict[str, list[Any]] = {}
    for name, value in response.headers.items():
        if isinstance(value, list):
            multi[name] = value
        else:
            single[name] = value
    return {
        "headers": single,
        "multiValueHeaders": multi,
        "statusCode": response.status_code,
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


def _takes(content_types: Sequence[str], event: Mapping[str, Any]) -> bool:
    """Whether the request's media type (parameters aside) is one of `content_types`: a
    narrower test than Chalice's, so a request it passes is one Chalice would take too."""
    headers = event.get("headers") or {}
    sent = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if sent is None:
        return False
    return sent.partition(";")[0].strip().lower() in content_types


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


def csv_doc(lines: Iterable[str], extra: dict[str, str] | None = None) -> Response:
    headers: dict[str, str | list[str]] = {
        **_SECURITY_HEADERS,
        "Content-Type": "text/csv; charset=utf-8",
        **(extra or {}),
    }
    return Response(body="".join(lines).encode("utf-8"), status_code=200, headers=headers)


def wants_csv(accept: str) -> bool:
    """Whether an Accept header asks for CSV before JSON (`text/csv` listed, JSON not first)."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "text/csv" in kinds and kinds.index("text/csv") < next(
        (i for i, kind in enumerate(kinds) if kind == "application/json"), len(kinds)
    )


MAX_LISTED_ERRORS = 100
MAX_MESSAGE = 1000
"""Characters of one message in an error answer (messages may quote what was sent)."""


def problem(
    message: str,
    status: int,
    errors: Sequence[Mapping[str, Any]] = (),
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Response:
    """The error answer: `error`, and the first `MAX_LISTED_ERRORS` of `errors` with the count
    of the rest, so a file with 20,000 problems still gets a small reply."""
    doc: dict[str, Any] = {"error": _clip(message), **fields}
    if errors:
        doc["errors"] = [
            {k: _clip(v) if isinstance(v, str) else v for k, v in error.items()}
            for error in errors[:MAX_LISTED_ERRORS]
        ]
        if len(errors) > MAX_LISTED_ERRORS:
            doc["more_errors"] = len(errors) - MAX_LISTED_ERRORS
    return json_doc(doc, status, headers)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
