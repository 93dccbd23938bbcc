"""HTTP routes and event handlers: parse, call one function in `chalicelib`, shape the answer."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import io
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import (
    auth,
    conversions,
    httpapi,
    jsondoc,
    observability,
    pages,
    parking,
    services,
    stamps,
    tracking,
    web,
)
from chalicelib.config import settings
from chalicelib.errors import (
    BadToken,
    ConfigError,
    ContactNotFound,
    FileInvalid,
    ImportInterrupted,
    ImportNotReady,
    InvalidInput,
    NotEnrolled,
    NurtureError,
    PushConflict,
    ReentryRefused,
    TooLarge,
    Unauthorized,
    UnknownImport,
    UnknownModel,
    UnknownStep,
    UnknownWebhook,
    Unreachable,
    UnsafeWebhook,
    UnsupportedMediaType,
    WriteRefused,
)
from chalicelib.forms import is_one_click, parse_form

if TYPE_CHECKING:
    from chalicelib.store import ModelVersion

app = web.NurtureChalice(app_name="nurture")
app.api.binary_types = ["*/*"]
FORMS = ["application/x-www-form-urlencoded", "multipart/form-data"]
YAML = ["application/yaml", "application/x-yaml", "text/yaml", "text/plain"]
CONTACT_IDS = 1000  # contact ids an import answers; larger files are posted in parts for all
PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="")
"""The authenticated principal of the marketer request being answered."""
CONTACT_FILES = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl"}

STATUS: dict[type[NurtureError], int] = {
    InvalidInput: 400,  # and BadTemplate
    Unauthorized: 401,
    BadToken: 404,  # TokenInvalid and TokenExpired alike: nothing leaks to the holder
    UnknownModel: 404,
    UnknownStep: 404,
    ContactNotFound: 404,
    NotEnrolled: 404,
    ReentryRefused: 409,
    Unreachable: 409,
    PushConflict: 409,
    TooLarge: 413,
    UnknownWebhook: 404,
    UnknownImport: 404,
    ImportNotReady: 409,
    UnsupportedMediaType: 415,
    FileInvalid: 422,
    WriteRefused: 422,
    ImportInterrupted: 503,
    UnsafeWebhook: 422,
    ConfigError: 500,
}
"""The HTTP answer of every domain error (a subclass answers as its nearest listed base)."""
MAX_JSON_BYTES = 64 * 1024
MAX_IMPORT_BYTES = 2 << 20
MAX_IMPORT_ROWS = 5000
IMPORT_WORKERS = 8
"""An upload is imported within API Gateway's 29 s: a bounded file, written 8 contacts at once."""
MAX_ID = 256
"""Characters of an id or address in a request (a key DynamoDB stores is at most 2 KB)."""


def _agent() -> str:
    return app.current_request.headers.get("user-agent", "")


@app.route("/o/{token}", methods=["GET", "HEAD"])
def open_pixel(token: str) -> Response:
    services.tracker().open(token, _agent(), app.current_request.method)
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
    return web.html(_preferences(tracker.choices(claims)))


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
            return web.html(_done(tracker.unsubscribe(claims, "one_click", _agent())))
        return web.html(_done(tracker.apply_preferences(claims, form, _agent())))
    except NurtureError as exc:
        return web.html(_preferences(tracker.choices(claims), str(exc)), status_of(exc))


@app.route("/api/conversions", methods=["POST"], content_types=["application/json"])
def conversion() -> Response:
    request = app.current_request
    body = request.raw_body or b""
    tracker = services.tracker()
    try:
        conversions.check_signature(
            request.headers.get(conversions.SIGNATURE_HEADER, ""),
            body,
            services.conversion_secrets(),
            tracker.clock(),
            settings().signature_tolerance_seconds,
        )
        found = conversions.parse(body, services.keyring())
        now = tracker.clock()
        recorded, fresh = conversions.record(
            services.table(), services.parking(), found, stamps.iso(now), tracker.expiry(now)
        )
    except NurtureError as exc:
        return _problem(exc)
    return web.json_doc(
        {
            "conversion_id": recorded.conversion_id,
            "contact_id": recorded.contact_id,
            "send_id": recorded.send_id,
            "duplicate": not fresh,
        }
    )


@app.route("/api/events", methods=["POST"], content_types=["application/json"])
def product_events() -> Response:
    """Product events from the company's servers: one `{event_id, contact, name, properties,
    at}` or a backfill `{"events": [...]}`; one write and no read for one event."""
    from chalicelib import productevents  # lean: json, re and the store, no pydantic

    request = app.current_request
    body = request.raw_body or b""
    now, config = time.time(), settings()
    try:
        auth.server(
            request.headers,
            (request.context or {}).get("identity"),
            config.api_auth,
            services.conversion_secrets(),
            body,
            now,
            config.signature_tolerance_seconds,
        )
        accepted = productevents.parse(body, now, config.event_retention_days)
    except NurtureError as exc:
        return _problem(exc)
    return web.json_doc(productevents.save(services.table(), services.parking(), accepted))


def marketer_api(view: Callable[..., Response]) -> Callable[..., Response]:
    """Marketer routes: authenticate first (the caller is known to the view as `_CALLER`);
    any domain error becomes its HTTP answer."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        request = app.current_request
        try:
            caller = auth.marketer(
                request.headers,
                (request.context or {}).get("identity"),
                settings().api_auth,
                services.api_secrets(),
            )
            _CALLER.set(caller)
            return view(*args, **kwargs)
        except NurtureError as exc:
            return _problem(exc)

    return guarded


@app.route("/api/sequences/validate", methods=["POST"], content_types=YAML)
@marketer_api
def validate_sequence() -> Response:
    from chalicelib import catalog  # pydantic and jinja2 stay off the recipient routes

    sequence = catalog.validate(_text_body(), "upload")
    return web.json_doc({"valid": True, "sequence_id": sequence.id, "steps": len(sequence.steps)})


@app.route("/api/sequences", methods=["POST"], content_types=YAML)
@marketer_api
def push_sequence() -> Response:
    from chalicelib import catalog

    sequence = catalog.validate(_text_body(), "upload")
    pushed = catalog.push(services.versions(), sequence, stamps.iso(time.time()))
    return web.json_doc(
        {"sequence_id": pushed.model_id, "version": pushed.version, "created": pushed.created},
        201 if pushed.created else 200,
    )


@app.route("/api/sequences", methods=["GET"])
@marketer_api
def list_sequences() -> Response:
    heads = services.versions().heads()
    return web.json_doc({"sequences": [_head(h) for h in heads]})


@app.route("/api/sequences/{sequence_id}", methods=["GET"])
@marketer_api
def show_sequence(sequence_id: str) -> Response:
    from chalicelib import catalog

    version = _positive_int(_query().get("version"), "version")
    sequence = catalog.load(services.versions(), _text_id(sequence_id, "sequence_id"), version)
    return web.json_doc({"sequence": json.loads(sequence.to_json()), "version": version})


@app.route("/api/sequences/{sequence_id}/versions", methods=["GET"])
@marketer_api
def sequence_versions(sequence_id: str) -> Response:
    found = services.versions().history(_text_id(sequence_id, "sequence_id"))
    if not found:
        raise UnknownModel(f"sequence_id: no sequence {sequence_id!r}")
    return web.json_doc({"sequence_id": sequence_id, "versions": [_head(v) for v in found]})


@app.route("/api/segments", methods=["POST"], content_types=YAML)
@marketer_api
def push_segment() -> Response:
    """A segment file; the stages and topics it names must exist."""
    from chalicelib import audience
    from chalicelib.segments import parse_segment

    catalogue = services.catalogue()
    segment = parse_segment(
        _text_body(), file="upload", stages=catalogue.stage_names, topics=catalogue.topics
    )
    at = stamps.iso(time.time())
    pushed = audience.push_segment(services.versions("segment"), segment, catalogue, at)
    return web.json_doc(
        {"segment_id": pushed.model_id, "version": pushed.version, "created": pushed.created},
        201 if pushed.created else 200,
    )


@app.route("/api/segments", methods=["GET"])
@marketer_api
def list_segments() -> Response:
    heads = services.versions("segment").heads()
    return web.json_doc(
        {
            "segments": [
                {"segment_id": h.model_id, "version": h.version, "name": h.name} for h in heads
            ]
        }
    )


@app.route("/api/stages", methods=["GET"])
@marketer_api
def show_stages() -> Response:
    """The newest lifecycle: its name and stages in order (none before one is pushed)."""
    _known_params(_query(), set())
    lifecycle = services.catalogue().stages
    return web.json_doc(
        {
            "name": lifecycle.name if lifecycle else None,
            "stages": list(lifecycle.stages) if lifecycle else [],
        }
    )


@app.route("/api/stages", methods=["POST"], content_types=YAML)
@marketer_api
def push_stages() -> Response:
    """The lifecycle stages file; the segments its rules name must be pushed first."""
    from chalicelib import audience
    from chalicelib.stages import parse_stages

    lifecycle = parse_stages(_text_body(), file="upload")
    at = stamps.iso(time.time())
    pushed = audience.push_stages(services.versions("stages"), lifecycle, services.catalogue(), at)
    return web.json_doc(
        {"version": pushed.version, "created": pushed.created}, 201 if pushed.created else 200
    )


@app.route("/api/scoring/validate", methods=["POST"], content_types=YAML)
@marketer_api
def validate_scoring() -> Response:
    """A scoring file checked (the stages it names against the pushed lifecycle), not stored."""
    from chalicelib.scoring.files import parse_scoring

    model = parse_scoring(_text_body(), file="upload", stages=services.catalogue().stage_names)
    return web.json_doc({"valid": True, "name": model.name})


@app.route("/api/scoring", methods=["POST"], content_types=YAML)
@marketer_api
def push_scoring() -> Response:
    """The scoring file as the next version; contacts are rescored on their next event, or
    all at once by `POST /api/scoring/rescore`."""
    from chalicelib.scoring.files import parse_scoring
    from chalicelib.scoring.service import push_scoring

    stages = services.catalogue().stage_names
    model = parse_scoring(_text_body(), file="upload", stages=stages)
    at = stamps.iso(time.time())
    pushed = push_scoring(services.versions("scoring"), model, at, stages)
    return web.json_doc(
        {"version": pushed.version, "created": pushed.created}, 201 if pushed.created else 200
    )


@app.route("/api/scoring", methods=["GET"])
@marketer_api
def show_scoring() -> Response:
    """The newest scoring version (or `?version=N`) as JSON."""
    from chalicelib import versioning
    from chalicelib.scoring.model import SCORING_ID, Scoring

    query = _query()
    _known_params(query, {"version"})
    version = _positive_int(query.get("version"), "version")
    found = versioning.stored(services.versions("scoring"), SCORING_ID, version)
    model = Scoring.from_json(found.body)
    return web.json_doc(
        {
            "version": found.version,
            "pushed_at": found.pushed_at,
            "scoring": json.loads(model.to_json()),
        }
    )


@app.route("/api/scoring/rescore", methods=["POST"], content_types=["application/json"])
@marketer_api
def rescore() -> Response:
    """Rescore contacts to the newest version for up to `{"pages": N}` pages of 100 (default
    20) from the last checkpoint; call again until `finished`."""
    doc = _json_object({"pages"})
    pages = doc.get("pages", 20)
    if isinstance(pages, bool) or not isinstance(pages, int) or not 1 <= pages <= 100:
        raise InvalidInput("pages", "must be a whole number from 1 to 100")
    report = services.scores().rescore(pages=pages)
    return web.json_doc(dataclasses.asdict(report))


@app.route("/api/scores/distribution", methods=["GET"])
@marketer_api
def score_distribution() -> Response:
    """Contacts by stage and band now."""
    _known_params(_query(), set())
    found = services.scores().distribution()
    return web.json_doc({"columns": list(found.columns), "stages": found.rows})


@app.route("/api/contacts/{contact_id}/score", methods=["GET"])
@marketer_api
def explain_score(contact_id: str) -> Response:
    """The receipt of the contact's score now: fit rules, engagement lines (adding up to the
    score) with the events behind them, the band and the alert's state."""
    _known_params(_query(), set())
    found = services.scores().explain(_path_id(contact_id, "contact_id"))
    return web.json_doc(found.doc())


@app.route("/api/contacts", methods=["POST"], content_types=list(CONTACT_FILES))
@marketer_api
def import_contacts() -> Response:
    """A CSV (with header) or JSON Lines body; rejected rows are listed by line, and the first
    rows' contact ids (created or matched) are answered."""
    from chalicelib import contactfiles, contacts

    request = app.current_request
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = request.raw_body or b""
    if len(body) > MAX_IMPORT_BYTES or body.count(b"\n") > MAX_IMPORT_ROWS:
        raise TooLarge(
            "body",
            f"an upload holds at most {MAX_IMPORT_ROWS:,} rows and {MAX_IMPORT_BYTES >> 20} MiB;"
            " import larger files as a job: POST /api/imports (an upload URL, then"
            " /api/imports/{id}/start), or `nurture contacts import FILE` (any size)",
        )
    if media not in CONTACT_FILES:  # Chalice lets `*/*` through
        raise UnsupportedMediaType("content-type", f"send {' or '.join(CONTACT_FILES)}")
    rows = contactfiles.READERS[CONTACT_FILES[media]](io.BytesIO(body))
    placed = contacts.FirstPlaced(CONTACT_IDS)
    report = contacts.import_contacts(
        services.table(),
        rows,
        now=stamps.iso(time.time()),
        new_id=contacts.new_contact_id,
        on_contact=placed.add,
        workers=IMPORT_WORKERS,
    )
    if report.rows == 0:
        raise InvalidInput("body", "holds no contact rows")
    counts: dict[str, Any] = {
        name: getattr(report, name) for name in ("imported", "updated", "unchanged", "suppressed")
    }
    counts["contacts"] = [dataclasses.asdict(p) for p in placed.first]
    if placed.more:
        counts["contacts_omitted"] = placed.more
        counts["hint"] = f"ids are answered for {CONTACT_IDS} rows: post larger files in parts"
    if report.ok:
        return web.json_doc(counts)
    rows = [dataclasses.asdict(row) for row in report.rejected]
    return web.problem(f"{len(rows)} rows rejected", 422, rows, **counts)


@app.route("/api/imports", methods=["POST"], content_types=["application/json"])
@marketer_api
def create_import() -> Response:
    """An import job for a file of any size: `{"format": "csv"|"jsonl", "size": bytes}`
    answers the job with a presigned URL that takes one PUT of exactly that many bytes."""
    doc = _json_object({"format", "size"})
    size = doc.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise InvalidInput("size", "must be the file's size in bytes (a whole number, at least 1)")
    file_format = doc.get("format")
    if not isinstance(file_format, str):
        raise InvalidInput("format", "is required: csv or jsonl")
    created = services.imports().create(file_format, size, _CALLER.get(), time.time())
    return web.json_doc(created.doc(), 201)


@app.route("/api/imports/{import_id}/start", methods=["POST"])
@marketer_api
def start_import(import_id: str) -> Response:
    """Queue an uploaded file for import (again, for a job whose run was dead-lettered: it
    resumes from its checkpoint)."""
    if app.current_request.raw_body:
        _json_object(set())
    started = services.imports().start(_path_id(import_id, "import_id"), time.time())
    return web.json_doc(started.doc(), 202)


@app.route("/api/imports/{import_id}", methods=["GET"])
@marketer_api
def import_status(import_id: str) -> Response:
    """State, rows read, accepted and rejected, and the error report's download URL."""
    _known_params(_query(), set())
    found = services.imports().status(_path_id(import_id, "import_id"), time.time())
    return web.json_doc(found.doc())


@app.route("/api/enrollments", methods=["POST"], content_types=["application/json"])
@marketer_api
def enroll() -> Response:
    doc = _json_object({"contact_id", "email", "sequence_id"})
    enrollment = services.journey().enroll(_contact(doc), _field(doc, "sequence_id"))
    return web.json_doc(dataclasses.asdict(enrollment), 201)


@app.route("/api/schedule/preview", methods=["GET"])
@marketer_api
def preview_schedule() -> Response:
    query = _query()
    rows = services.journey().preview(_contact(query), _field(query, "sequence_id"))
    return web.json_doc({"steps": [dataclasses.asdict(row) for row in rows]})


@app.route("/api/reports/{sequence_id}", methods=["GET"])
@marketer_api
def report(sequence_id: str) -> Response:
    """The sequence's funnel per step and A/B variant with reasons and revenue, its daily trend
    and experiments; `since`/`until` (UTC days of the send) narrow it; `Accept: text/csv`
    answers the rows as CSV. `segment` and `stage` keep sends to contacts who were in that
    segment and at that stage when sent. `by=stage|segment`: instead, its enrollments by the
    contacts' stage or segments now."""
    query = _query()
    _known_params(query, {"since", "until", "by", "segment", "stage"})
    by = query.get("by")
    if by is not None:
        return web.json_doc(services.report_by(_text_id(sequence_id, "sequence_id"), by))
    doc = services.report(
        _text_id(sequence_id, "sequence_id"),
        query.get("since"),
        query.get("until"),
        query.get("segment"),
        query.get("stage"),
    )
    if web.wants_csv(app.current_request.headers.get("accept", "")):
        from chalicelib.reporting import csv_lines

        return web.csv_doc(csv_lines(doc))
    return web.json_doc(doc)


@app.route("/api/contacts", methods=["GET"])
@marketer_api
def find_contacts() -> Response:
    """`?email=`: the contact holding that address, as a list of none or one."""
    email = _field(_query(), "email")
    return web.json_doc({"contacts": services.contact_view().find(email)})


@app.route("/api/contacts/{contact_id}", methods=["GET"])
@marketer_api
def show_contact(contact_id: str) -> Response:
    return web.json_doc(services.contact_view().profile(_path_id(contact_id, "contact_id")))


@app.route("/api/contacts/{contact_id}/timeline", methods=["GET"])
@marketer_api
def contact_timeline(contact_id: str) -> Response:
    """Events, sends and skips, newest first: `since`/`until` (dates or UTC times), `limit`,
    `cursor` (the last page's `next_cursor`); `Accept: text/csv` answers the page as CSV with
    the next cursor in `X-Next-Cursor`."""
    from chalicelib.people.view import MAX_PAGE, TIMELINE_COLUMNS, span

    query = _query()
    _known_params(query, {"since", "until", "limit", "cursor"})
    limit = _positive_int(query.get("limit"), "limit") or 50
    if limit > MAX_PAGE:
        raise InvalidInput("limit", f"must be from 1 to {MAX_PAGE}")
    page = services.contact_view().timeline(
        _path_id(contact_id, "contact_id"),
        span(query.get("since"), query.get("until")),
        query.get("cursor"),
        limit,
    )
    if web.wants_csv(app.current_request.headers.get("accept", "")):
        from chalicelib.contactfiles import export_csv

        extra = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
        return web.csv_doc(export_csv(page.entries, TIMELINE_COLUMNS), extra)
    return web.json_doc({"entries": page.entries, "next_cursor": page.next_cursor})


@app.route("/api/contacts/{contact_id}/export", methods=["GET"])
@marketer_api
def export_contact(contact_id: str) -> Response:
    """Everything stored about the contact (GDPR access request)."""
    return web.json_doc(services.gdpr().export(_path_id(contact_id, "contact_id")))


@app.route("/api/contacts/{contact_id}", methods=["DELETE"])
@marketer_api
def erase_contact(contact_id: str) -> Response:
    """GDPR erasure: the contact's data goes, a hashed suppression and an audit record stay."""
    erased = services.gdpr().erase(_path_id(contact_id, "contact_id"), _CALLER.get())
    return web.json_doc(erased)


@app.route("/api/contacts/{contact_id}/pause", methods=["POST"], content_types=["application/json"])
@marketer_api
def pause_contact(contact_id: str) -> Response:
    """`{"days": N}` holds the contact's sends for N days; 0 resumes now."""
    from chalicelib.people import actions

    doc = _json_object({"days"})
    until = actions.pause(
        services.table(), _path_id(contact_id, "contact_id"), doc.get("days"), time.time()
    )
    return web.json_doc({"contact_id": contact_id, "paused_until": until})


@app.route("/api/contacts/{contact_id}/enrollments/{sequence_id}", methods=["DELETE"])
@marketer_api
def unenroll_contact(contact_id: str, sequence_id: str) -> Response:
    from chalicelib.people import actions

    ended = actions.unenroll(
        services.table(),
        _path_id(contact_id, "contact_id"),
        _path_id(sequence_id, "sequence_id"),
        time.time(),
    )
    return web.json_doc(ended)


@app.route("/api/send-test", methods=["POST"], content_types=["application/json"])
@marketer_api
def send_test() -> Response:
    doc = _json_object({"contact_id", "email", "sequence_id", "step_id"})
    step = doc.get("step_id")
    if step is not None and not isinstance(step, str):
        raise InvalidInput("step_id", "must be a string")
    outcome = services.journey().send_test(_contact(doc), _field(doc, "sequence_id"), step)
    if outcome.status != "sent":
        return web.problem(f"not sent: {outcome.reason}", 422, **dataclasses.asdict(outcome))
    return web.json_doc(dataclasses.asdict(outcome))


@app.route("/api/webhooks/validate", methods=["POST"], content_types=YAML)
@marketer_api
def validate_webhooks() -> Response:
    parsed = services.webhook_admin().validate(_text_body(), "upload")
    return web.json_doc({"valid": True, "webhooks": [hook.id for hook in parsed.webhooks]})


@app.route("/api/webhooks", methods=["POST"], content_types=YAML)
@marketer_api
def push_webhooks() -> Response:
    admin = services.webhook_admin()
    pushed = admin.push(admin.validate(_text_body(), "upload"))
    return web.json_doc(dataclasses.asdict(pushed), 201 if pushed.created else 200)


@app.route("/api/webhooks", methods=["GET"])
@marketer_api
def list_webhooks() -> Response:
    days = _positive_int(_query().get("days"), "days") or 7
    views = services.webhook_admin().views(min(days, 400))
    return web.json_doc({"webhooks": [dataclasses.asdict(view) for view in views]})


@app.route("/api/webhooks/{webhook_id}/deliveries", methods=["GET"])
@marketer_api
def webhook_deliveries(webhook_id: str) -> Response:
    from chalicelib.outbound import delivery_summary

    limit = _positive_int(_query().get("limit"), "limit") or 50
    if limit > 500:
        raise InvalidInput("limit", "must be at most 500")
    found = services.webhook_admin().recent(webhook_id, limit)
    return web.json_doc({"deliveries": [delivery_summary(d) for d in found]})


@app.route("/api/webhooks/{webhook_id}/secrets", methods=["GET"])
@marketer_api
def webhook_secrets(webhook_id: str) -> Response:
    listed = services.webhook_admin().secrets(webhook_id)
    return web.json_doc({"secrets": [dataclasses.asdict(s) for s in listed]})


@app.route("/api/webhooks/{webhook_id}/secrets", methods=["POST"])
@marketer_api
def rotate_webhook_secret(webhook_id: str) -> Response:
    return web.json_doc(dataclasses.asdict(services.webhook_admin().rotate(webhook_id)), 201)


@app.route("/api/webhooks/{webhook_id}/secrets/retire", methods=["POST"])
@marketer_api
def retire_webhook_secrets(webhook_id: str) -> Response:
    return web.json_doc({"retired": services.webhook_admin().retire(webhook_id)})


@app.route("/api/webhooks/{webhook_id}/enable", methods=["POST"])
@marketer_api
def enable_webhook(webhook_id: str) -> Response:
    return web.json_doc(
        {"enabled": True, "was_disabled": services.webhook_admin().enable(webhook_id)}
    )


@app.route("/api/webhooks/test", methods=["POST"], content_types=["application/json"])
@marketer_api
def test_webhook() -> Response:
    from chalicelib.outbound import checked_secret

    doc = _json_object({"url", "secret"})
    secret = checked_secret(doc.get("secret"))
    headers, body, answer = services.webhook_admin().test(_field(doc, "url"), secret)
    return web.json_doc(
        {
            "request": {"headers": headers, "body": json.loads(body)},
            "status": answer.status,
            "ok": answer.ok,
            "error": answer.error,
            "answer": answer.body,
            "seconds": round(answer.seconds, 3),
        }
    )


@app.route("/api/webhooks/redrive", methods=["POST"], content_types=["application/json"])
@marketer_api
def redrive_webhooks() -> Response:
    doc = _json_object({"limit", "dry_run"})
    limit = doc.get("limit", 1000)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InvalidInput("limit", "must be a whole number from 1 to 10000")
    dry_run = doc.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidInput("dry_run", "must be true or false")
    report = services.webhook_admin().redrive(limit, dry_run)
    return web.json_doc({"dry_run": dry_run, **dataclasses.asdict(report)})


@app.lambda_function(name="replay_parked")
@observability.handler
def replay_parked(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return parking.replay(services.table(), event)


@app.lambda_function(name="import_contacts")
@observability.handler
def import_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The import queue: each message runs a contact import job from its checkpoint until it
    is done or the invocation's time is nearly up (then the next run is queued)."""
    from chalicelib import imports

    worker, queue = services.import_worker(), services.import_queue()
    return imports.drive(event, worker, queue, _time_left(context))


@app.lambda_function(name="on_schedule")
@observability.handler
def on_schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge Scheduler fires a due minute: enrollments' timers, then scores' band
    crossings by decay and contacts' inactivity checks. Failed timers stay in the bucket (done
    ones are gone) and the minute is fired again later by a schedule of its own, for as long as
    an outage may last (`retrying`); only then does the invocation fail, and after Lambda's own
    retries the minute waits in ScheduleDlq for `nurture dlq redrive`."""
    from chalicelib import retrying

    minute = str(event.get("minute", ""))
    failed = services.journey().fire(minute, _time_left(context))
    failed += services.scores().fire(minute)
    failed += services.inactivity().fire(minute)
    if not failed:
        return {"minute": minute}
    again = retrying.retry(services.scheduler(), minute, time.time())
    if again is None:
        raise RuntimeError(f"{failed} timers of {minute} still fail; giving up to the DLQ")
    return {"minute": minute, "failed": failed, "again_at": again}


@app.lambda_function(name="roll_up")
@observability.handler
def roll_up(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every minute (an EventBridge rule): the funnel's closed minutes and hours rolled up into
    totals, so a report reads totals instead of every mark. A failed or overlapping run is
    harmless: the next one goes on from the stored progress."""
    progress = services.rollup().run(time.time())
    return {"minute": progress.minute, "hour": progress.hour}


@app.lambda_function(name="on_stream")
@observability.handler
def on_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The table's stream: events drive the rules, the funnel and outbound; a failing record
    is reported alone (partial batch response) and the rest of the batch proceeds."""
    from chalicelib import streams

    return streams.handle(event, services.stream_consumers())


@app.lambda_function(name="deliver_webhooks")
@observability.handler
def deliver_webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The webhook delivery queue: one signed POST per message; a message whose attempt
    crashed before its outcome was recorded is retried by the queue."""
    failed = services.deliverer().handle(event.get("Records", []))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@app.lambda_function(name="retry_webhooks")
@observability.handler
def retry_webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A due minute of webhook retries (EventBridge Scheduler): back onto the delivery queue."""
    minute = str(event.get("minute", ""))
    return {"minute": minute, "queued": services.deliverer().fire_retries(minute)}


@app.lambda_function(name="on_ses_event")
@observability.handler
def on_ses_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SES events from EventBridge (or SNS/SQS). Malformed records are logged and dropped;
    a DynamoDB error raises so EventBridge retries (SQS: only that message is retried)."""
    from chalicelib import feedback  # pydantic kept off the recipient routes' cold start

    return feedback.answer(services.table(), event, settings())


@observability.handler
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The marketer function: every route above through Chalice, from the REST API (IAM)."""
    return app(event, context)


def public(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The public function: the recipient routes above, from the HTTP API (payload format
    2.0) or, with the WAF switch on, from a REST API (the shape Chalice reads natively). A
    request its route takes goes straight to the view (`web.NurtureChalice.direct`); the rest
    (an unknown method, a content type to refuse) through Chalice. Powertools'
    context injection stays off this path (cold import and CPU: benchmarks/hot_path.py); its
    failures log and count through `observability` all the same."""
    if event.get("version") == "2.0":
        return httpapi.serve(_public_routes, event, context)
    return _public_routes(event, context)


def _public_routes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.direct(event, context) or app(event, context)


def _head(head: ModelVersion) -> dict[str, Any]:
    return {
        "sequence_id": head.model_id,
        "version": head.version,
        "name": head.name,
        "pushed_at": head.pushed_at,
    }


def _time_left(context: Any) -> Callable[[], float]:
    """Seconds this Lambda invocation has left (no limit outside Lambda)."""
    if context is None:
        return lambda: math.inf
    return lambda: float(context.get_remaining_time_in_millis()) / 1000


def _preferences(choices: tracking.Choices, error: str = "") -> str:
    return pages.render(
        "preferences.html",
        error=error,
        known=choices.known,
        unsubscribed_at=choices.unsubscribed_at,
        reasons=tracking.REASON_LABELS,
        topics=settings().topics,
        chosen=set(choices.topics),
        pause_days=tracking.PAUSE_DAYS,
    )


def _done(done: tracking.Done) -> str:
    if done.outcome == "unsubscribed":
        return pages.render("unsubscribed.html", unsubscribed_at=done.at)
    return pages.render(
        "done.html", heading="Preferences saved", message="We will only send you what you chose."
    )


def _text_body() -> str:
    try:
        return (app.current_request.raw_body or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body", "is not UTF-8") from None


def _query() -> Mapping[str, str]:
    return app.current_request.query_params or {}


def _json_object(fields: set[str]) -> dict[str, Any]:
    """The body as a JSON object holding only `fields`: a misspelt field is refused, never
    silently taken as absent."""
    body = app.current_request.raw_body or b""
    if len(body) > MAX_JSON_BYTES:
        raise TooLarge("body", f"is larger than {MAX_JSON_BYTES // 1024} KiB")
    doc = jsondoc.parse(body)
    if not isinstance(doc, dict):
        raise InvalidInput("body", "must be a JSON object")
    for name in doc:
        if name not in fields:
            raise InvalidInput(name, f"unknown field; expected {', '.join(sorted(fields))}")
    return doc


def _contact(doc: Mapping[str, Any]) -> str:
    """The contact a request names: by `contact_id`, or by `email` (exactly one of them)."""
    from chalicelib import contactnames

    if ("email" in doc) == ("contact_id" in doc):
        raise InvalidInput("contact_id", "give contact_id or email (exactly one)")
    if "email" in doc:
        return contactnames.by_email(services.table(), _field(doc, "email"))
    return _field(doc, "contact_id")


def _field(doc: Mapping[str, Any], name: str) -> str:
    return _text_id(doc.get(name), name)


def _text_id(value: object, name: str) -> str:
    """An id or address from a request: the text, or `InvalidInput` naming `name`."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(name, "is required and must be a non-empty string")
    if len(value) > MAX_ID or not value.isprintable():
        raise InvalidInput(name, f"must be at most {MAX_ID} printable characters")
    return value


def _known_params(query: Mapping[str, str], names: set[str]) -> None:
    for name in query:
        if name not in names:
            raise InvalidInput(name, f"unknown parameter; expected {', '.join(sorted(names))}")


def _path_id(value: str, name: str) -> str:
    """An id from the URL path: what ids are made of, never a key separator or a space."""
    if not PATH_ID.fullmatch(value):
        raise InvalidInput(
            name, "must be 1-128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)"
        )
    return value


def _positive_int(raw: str | None, field: str) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
        raise InvalidInput(field, "must be a positive whole number (ASCII digits)")
    return int(raw)


def status_of(exc: NurtureError) -> int:
    return next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), 500)


def _problem(exc: NurtureError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
    if isinstance(exc, FileInvalid):
        errors = [dataclasses.asdict(e) for e in exc.errors]
        return web.problem(exc.summary(), status_of(exc), errors, headers)
    return web.problem(str(exc), status_of(exc), headers=headers)
