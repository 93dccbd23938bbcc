"""HTTP API (payload format 2.0) events in the REST shape Chalice dispatches on, and Chalice's
answers in the shape an HTTP API returns.

Chalice routes on `requestContext.resourcePath` and `httpMethod` and reads
`multiValueQueryStringParameters`, `pathParameters`, `stageVariables`, `body` and
`isBase64Encoded`; a 2.0 event names its route in `routeKey` ("GET /o/{token}"), joins repeated
headers with commas, passes cookies apart and the query string raw. The answer's
`multiValueHeaders` (2.0 has none) are joined into `headers`, `Set-Cookie` into `cookies`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

Event = dict[str, Any]
NO_ROUTE = json.dumps({"error": "no such route"})
NO_ROUTE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}

__all__ = ["http_answer", "rest_event", "serve"]


def rest_event(event: Mapping[str, Any]) -> Event:
    """The REST (1.0) shape of a 2.0 event; `$default` or unknown routes get no resource path."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    method = str(http.get("method") or "").upper()
    _, _, route = str(event.get("routeKey") or "").partition(" ")
    headers = dict(event.get("headers") or {})
    cookies = event.get("cookies")
    if cookies:
        headers["cookie"] = "; ".join(cookies)
    raw_query = str(event.get("rawQueryString") or "")
    query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
    return {
        "resource": route or None,
        "path": event.get("rawPath"),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": event.get("pathParameters"),
        "stageVariables": event.get("stageVariables"),
        "body": event.get("body"),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
        "requestContext": {
            "resourcePath": route or None,
            "httpMethod": method,
            "path": http.get("path"),
            "stage": context.get("stage"),
            "requestId": context.get("requestId"),
            "identity": {"sourceIp": http.get("sourceIp"), "userAgent": http.get("userAgent")},
        },
    }


def http_answer(answer: Mapping[str, Any]) -> Event:
    """A REST-shaped Lambda answer as a 2.0 answer."""
    headers = dict(answer.get("headers") or {})
    cookies: list[str] = []
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        if name.lower() == "set-cookie":
            cookies += values
        else:
            headers[name] = ",".join(str(v) for v in values)
    shaped: Event = {
        "statusCode": answer["statusCode"],
        "headers": headers,
        "body": answer.get("body") or "",
        "isBase64Encoded": bool(answer.get("isBase64Encoded")),
    }
    if cookies:
        shaped["cookies"] = cookies
    return shaped


def serve(
    app: Callable[[Event, Any], Mapping[str, Any]], event: Mapping[str, Any], context: Any
) -> Event:
    """Dispatch a 2.0 event to a REST-shaped handler (the Chalice app) and shape its answer;
    an event of no route (`$default`) is a 404, never Chalice's 500."""
    rest = rest_event(event)
    if not rest["resource"]:
        return {"statusCode": 404, "headers": NO_ROUTE_HEADERS, "body": NO_ROUTE}
    return http_answer(app(rest, context))
