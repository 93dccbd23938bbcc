"""HTTP routes and event handlers: parse, call one function in `chalicelib`, shape the answer."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib import conversions, pages, parking, services, tracking, web
from chalicelib.config import settings
from chalicelib.errors import BadToken, NurtureError
from chalicelib.forms import is_one_click, parse_form

app = web.NurtureChalice(app_name="nurture")
app.api.binary_types = ["*/*"]
FORMS = ["application/x-www-form-urlencoded", "multipart/form-data"]


def _agent() -> str:
    return app.current_request.headers.get("user-agent", "")


@app.route("/o/{token}", methods=["GET"])
def open_pixel(token: str) -> Response:
    services.tracker().open(token, _agent())
    return web.gif()


@app.route("/c/{token}", methods=["GET", "HEAD"])
def click(token: str) -> Response:
    try:
        return web.redirect(services.tracker().click(token, app.current_request.method, _agent()))
    except BadToken:
        return web.html(pages.not_found(), 404)


@app.route("/u/{token}", methods=["GET", "HEAD"])
def preferences_page(token: str) -> Response:
    tracker = services.tracker()
    try:
        claims = tracker.unsubscribe_claims(token)
    except BadToken:
        return web.html(pages.not_found(), 404)
    profile = services.table().profile(claims.contact_id) or {}
    return web.html(_preferences(profile))


@app.route("/u/{token}", methods=["POST"], content_types=FORMS)
def preferences_post(token: str) -> Response:
    request = app.current_request
    tracker = services.tracker()
    try:
        claims = tracker.unsubscribe_claims(token)
    except BadToken:
        return web.html(pages.not_found(), 404)
    try:
        form = parse_form(request.headers.get("content-type", ""), request.raw_body or b"")
        if is_one_click(form):
            tracker.unsubscribe(claims, "one_click", _agent())
            return web.html(_done("unsubscribed"))
        return web.html(_done(tracker.apply_preferences(claims, form, _agent())))
    except NurtureError as exc:
        profile = services.table().profile(claims.contact_id) or {}
        return web.html(_preferences(profile, error=str(exc)), exc.status)


@app.route("/api/conversions", methods=["POST"], content_types=["application/json"])
def conversion() -> Response:
    request = app.current_request
    body = request.raw_body or b""
    tracker = services.tracker()
    try:
        conversions.check_signature(
            request.headers.get(conversions.SIGNATURE_HEADER, ""),
            body,
            services.api_secrets().conversion_secrets,
            tracker.clock(),
            settings().signature_tolerance_seconds,
        )
        found = conversions.parse(body, services.keyring())
    except NurtureError as exc:
        return _problem(exc)
    now = tracker.clock()
    fresh = conversions.record(
        services.table(), services.parking(), found, tracking.iso(now), tracker.expiry(now)
    )
    return web.json_bytes(
        json.dumps(
            {
                "conversion_id": found.conversion_id,
                "contact_id": found.contact_id,
                "send_id": found.send_id,
                "duplicate": not fresh,
            }
        ).encode()
    )


@app.lambda_function(name="replay_parked")
def replay_parked(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failed = parking.replay(services.table(), event.get("Records", []))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@app.lambda_function(name="on_ses_event")
def on_ses_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SES events from EventBridge (or SNS/SQS). Malformed records are logged and dropped;
    a DynamoDB error raises so EventBridge retries (SQS: only that message is retried)."""
    from chalicelib import feedback  # pydantic kept off the recipient routes' cold start

    failed = feedback.handle(services.table(), event, settings())
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _preferences(profile: dict[str, Any], error: str = "") -> str:
    return pages.render(
        "preferences.html",
        error=error,
        unsubscribed="unsubscribed_at" in profile,
        reasons=tracking.REASON_LABELS,
        topics=settings().topics,
        chosen=set(profile.get("topics", settings().topics)),
        pause_days=tracking.PAUSE_DAYS,
    )


def _done(outcome: str) -> str:
    if outcome == "unsubscribed":
        return pages.render(
            "done.html",
            heading="You are unsubscribed",
            message="You will not receive further emails from us.",
        )
    return pages.render(
        "done.html", heading="Preferences saved", message="We will only send you what you chose."
    )


def _problem(exc: NurtureError) -> Response:
    return web.json_bytes(json.dumps({"error": str(exc)}).encode(), exc.status)
