"""The console's pages: each reads the marketer API and renders a template; the forms call the
API's own actions (pause, unenroll, erase). Nothing here touches AWS directly."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.console import charts
from chalicelib.console.api import Api, ApiError
from chalicelib.console.server import Reply, Request

__all__ = ["Pages"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
ID = r"(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]{0,127})"
TIMELINE_PAGE = 50
COLUMNS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("opened", "Human opens"),
    ("clicked", "Human clicks"),
    ("converted", "Conversions"),
    ("revenue", "Revenue"),
    ("unsubscribed", "Unsubscribes"),
    ("bounced", "Bounces"),
    ("complained", "Complaints"),
    ("skipped", "Skipped"),
    ("opened_machine", "Machine opens"),
)
RATED = frozenset(("delivered", "opened", "clicked", "converted", "unsubscribed", "bounced"))
METRIC_LABELS = {"clicked": "human clicks", "converted": "conversions"}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SLUG = r"[a-z0-9][a-z0-9_-]{0,63}"
_DETAIL_SKIPPED = frozenset(
    ("at", "type", "send_id", "sequence_id", "step_id", "variant", "verdict", "run", "version")
)

Route = Callable[[Request, str, "re.Match[str]"], Reply]


class Pages:
    """Routes a console request to its page."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("GET", re.compile(r"/"), self.index),
            ("GET", re.compile(rf"/sequences/{ID}"), self.sequence),
            ("GET", re.compile(rf"/sequences/{ID}/report\.csv"), self.report_csv),
            ("GET", re.compile(r"/experiments"), self.experiments),
            ("GET", re.compile(r"/contacts"), self.contacts),
            ("GET", re.compile(rf"/contacts/{ID}"), self.contact),
            ("GET", re.compile(rf"/contacts/{ID}/export\.json"), self.export),
            ("GET", re.compile(rf"/contacts/{ID}/erase"), self.confirm_erase),
            ("POST", re.compile(rf"/contacts/{ID}/pause"), self.pause),
            ("POST", re.compile(rf"/contacts/{ID}/unenroll"), self.unenroll),
            ("POST", re.compile(rf"/contacts/{ID}/erase"), self.erase),
        ]

    def __call__(self, request: Request, csrf: str) -> Reply:
        path = urllib.parse.unquote(request.path)
        for method, pattern, route in self.routes:
            found = pattern.fullmatch(path)
            if found and method == request.method:
                try:
                    return route(request, csrf, found)
                except ApiError as error:
                    return self._api_problem(error)
        return self._page("message.html", 404, title="Not found", message="No such page.")

    # --- sequences -------------------------------------------------------------------------

    def index(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        listed = self.api.get("/api/sequences")["sequences"]
        return self._page("index.html", title="Sequences", section="/", sequences=listed)

    def sequence(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        sequence_id = found["id"]
        filters = _report_filters(request.query)
        shown = self.api.get(
            f"/api/sequences/{_q(sequence_id)}", {"version": request.query.get("version")}
        )
        versions = self.api.get(f"/api/sequences/{_q(sequence_id)}/versions")["versions"]
        report = self.api.get(f"/api/reports/{_q(sequence_id)}", filters)
        model = shown["sequence"]
        version = shown.get("version") or max((v["version"] for v in versions), default=1)
        rows = _rows(report)
        totals = _totals(report)
        days = list(report.get("days") or [])
        return self._page(
            "sequence.html",
            title=model.get("name", sequence_id),
            section="/",
            sequence=model,
            sequence_id=sequence_id,
            version=version,
            versions=sorted(versions, key=lambda v: -int(v["version"])),
            filters=filters,
            filter_query=_query_string(filters),
            segments=[s["segment_id"] for s in self.api.get("/api/segments")["segments"]],
            stages=self.api.get("/api/stages")["stages"],
            report=report,
            rows=rows,
            totals=totals,
            columns=COLUMNS,
            rated=RATED,
            has_variants=any(r["variant"] for r in rows),
            reasons=_reasons(report),
            days=days,
            funnel_svg=charts.safe(_funnel_chart(totals)),
            trend_svg=charts.safe(_trend_chart(days)),
            graph_svg=charts.safe(charts.step_graph(model, "graph")),
            **_experiments([report]),
        )

    def report_csv(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        answer = self.api.call(
            "GET",
            f"/api/reports/{_q(found['id'])}",
            _report_filters(request.query),
            headers={"Accept": "text/csv"},
        )
        name = f"{found['id']}-report.csv"
        return Reply(
            200,
            answer.body,
            "text/csv; charset=utf-8",
            {"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def experiments(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        reports = [
            self.api.get(f"/api/reports/{_q(s['sequence_id'])}")
            for s in self.api.get("/api/sequences")["sequences"]
        ]
        return self._page(
            "experiments.html", title="Experiments", section="/experiments", **_experiments(reports)
        )

    # --- contacts --------------------------------------------------------------------------

    def contacts(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        q = request.query.get("q", "").strip()
        matches: list[dict[str, Any]] = []
        if "@" in q:
            matches = self.api.get("/api/contacts", {"email": q})["contacts"]
        elif q:
            try:
                matches = [self.api.get(f"/api/contacts/{_q(q)}")]
            except ApiError as error:
                if error.status not in (400, 404):
                    raise
        if len(matches) == 1 and q:
            return _redirect(f"/contacts/{_q(matches[0]['contact_id'])}")
        return self._page(
            "contacts.html", title="Contacts", section="/contacts", q=q, found=matches
        )

    def contact(self, request: Request, csrf: str, found: re.Match[str], flash: str = "") -> Reply:
        contact_id = found["id"]
        filters = _dates(request.query)
        shown = self.api.get(f"/api/contacts/{_q(contact_id)}")
        page = self.api.get(
            f"/api/contacts/{_q(contact_id)}/timeline",
            {**filters, "cursor": request.query.get("cursor"), "limit": str(TIMELINE_PAGE)},
        )
        score, score_missing = self._score(contact_id)
        done = {"paused": "Mail paused.", "resumed": "Mail resumed.", "unenrolled": "Unenrolled."}
        return self._page(
            "contact.html",
            title=shown.get("email") or contact_id,
            section="/contacts",
            c=shown,
            score=score,
            score_missing=score_missing,
            csrf=csrf,
            entries=page["entries"],
            next_cursor=page.get("next_cursor"),
            filters=filters,
            filter_query_amp=_query_string(filters).replace("?", "&", 1),
            flash=done.get(request.query.get("done", ""), flash),
        )

    def _score(self, contact_id: str) -> tuple[dict[str, Any] | None, str]:
        """The contact's score receipt, or None and why not (no scoring model is pushed)."""
        try:
            return self.api.get(f"/api/contacts/{_q(contact_id)}/score"), ""
        except ApiError as error:
            if error.status != 404:
                raise
            return None, error.message.removeprefix("scoring: ").capitalize()

    def export(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        answer = self.api.call("GET", f"/api/contacts/{_q(found['id'])}/export")
        return Reply(
            200,
            answer.body,
            "application/json",
            {"Content-Disposition": f'attachment; filename="{found["id"]}.json"'},
        )

    def confirm_erase(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        shown = self.api.get(f"/api/contacts/{_q(found['id'])}")
        return self._page(
            "erase.html", title="Erase a contact", section="/contacts", c=shown, csrf=csrf
        )

    def pause(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        days = request.form.get("days", "")
        if not days.isdigit():
            return self._page(
                "message.html", 400, title="Not paused", message="days: choose a number of days"
            )
        self.api.post(f"/api/contacts/{_q(found['id'])}/pause", {"days": int(days)})
        outcome = "resumed" if int(days) == 0 else "paused"
        return _redirect(f"/contacts/{_q(found['id'])}?done={outcome}")

    def unenroll(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        sequence_id = request.form.get("sequence_id", "")
        if not re.fullmatch(ID, sequence_id):
            return self._page(
                "message.html", 400, title="Not unenrolled", message="sequence_id: missing"
            )
        self.api.delete(f"/api/contacts/{_q(found['id'])}/enrollments/{_q(sequence_id)}")
        return _redirect(f"/contacts/{_q(found['id'])}?done=unenrolled")

    def erase(self, request: Request, csrf: str, found: re.Match[str]) -> Reply:
        if request.form.get("confirm", "").strip() != found["id"]:
            shown = self.api.get(f"/api/contacts/{_q(found['id'])}")
            return self._page(
                "erase.html",
                400,
                title="Erase a contact",
                section="/contacts",
                c=shown,
                csrf=csrf,
                flash="The id you typed does not match: nothing was erased.",
            )
        erased = self.api.delete(f"/api/contacts/{_q(found['id'])}")
        message = (
            f"Contact {found['id']} was erased: {erased['items_removed']} items removed, "
            f"{erased['sends_stripped']} send records stripped; the address stays suppressed."
        )
        return self._page("message.html", title="Erased", section="/contacts", message=message)

    # --- rendering -------------------------------------------------------------------------

    def _page(self, template: str, status: int = 200, /, **context: Any) -> Reply:
        context.setdefault("section", "")
        html = _environment().get_template(template).render(api_url=self.api.base_url, **context)
        return Reply(status, html.encode("utf-8"))

    def _api_problem(self, error: ApiError) -> Reply:
        if error.status == 404:
            return self._page("message.html", 404, title="Not found", message=error.message)
        if error.status in (401, 403):
            message = f"The API refused the console's credentials: {error.message}"
            return self._page("message.html", 502, title="Not allowed", message=message)
        if error.status == 400:
            return self._page("message.html", 400, title="Not accepted", message=error.message)
        return self._page("message.html", 502, title="The API failed", message=error.message)


@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    # Fields the API leaves out (an optional profile field) render as nothing.
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        auto_reload=False,
    )
    environment.filters.update(
        num=_num,
        pct=_pct,
        pct_points=_pct_points,
        when=_when,
        detail=_detail,
        decay=_decay,
        money=_money,
    )
    return environment


def _rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The funnel table: each step, then its variants under it."""
    rows = []
    for step in report.get("steps") or []:
        rows.append(_row(step, str(step["step_id"]), None))
        for variant in step.get("variants") or []:
            rows.append(_row(variant, str(step["step_id"]), str(variant["variant"])))
    return rows


def _row(counts: Mapping[str, Any], step_id: str, variant: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {key: int(counts.get(key) or 0) for key, _ in COLUMNS if key != "revenue"}
    row.update(step_id=step_id, variant=variant, revenue_text=_money(counts.get("revenue")))
    return row


def _totals(report: Mapping[str, Any]) -> dict[str, Any]:
    """Sequence totals: sends and their outcomes summed over steps (each send is one step's)."""
    steps = list(report.get("steps") or [])
    totals: dict[str, Any] = {
        key: sum(int(s.get(key) or 0) for s in steps) for key, _ in COLUMNS if key != "revenue"
    }
    revenue: dict[str, Decimal] = {}
    for step in steps:
        for currency, amount in (step.get("revenue") or {}).items():
            revenue[currency] = revenue.get(currency, Decimal(0)) + _decimal(amount)
    totals["revenue_text"] = _money(revenue)
    return totals


def _reasons(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for step in report.get("steps") or []:
        for what in ("unsubscribed", "skipped"):
            key = f"{what}_reasons"
            for reason, count in sorted((step.get(key) or {}).items()):
                found.append(
                    {"step_id": step["step_id"], "what": what, "reason": reason, "count": count}
                )
    return found


def _experiments(reports: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    experiments, holdouts, proposals = [], [], []
    for report in reports:
        sequence_id = report.get("sequence_id", "")
        for experiment in report.get("experiments") or []:
            items = [
                charts.Interval(
                    f"{v['variant']} clicks", v["clicked_rate"], v["clicked_low"], v["clicked_high"]
                )
                for v in experiment["variants"]
            ]
            ident = f"exp-{sequence_id}-{experiment['step_id']}"
            experiments.append(
                {
                    **experiment,
                    "sequence_id": sequence_id,
                    "metric_label": "human clicks and conversions",
                    "svg": charts.safe(
                        charts.intervals("Human click rate by variant", items, ident)
                    ),
                }
            )
        if report.get("holdout"):
            holdouts.append({**report["holdout"], "sequence_id": sequence_id})
        if report.get("proposal"):
            proposals.append({**report["proposal"], "sequence_id": sequence_id})
    return {"experiments": experiments, "holdouts": holdouts, "proposals": proposals}


def _funnel_chart(totals: Mapping[str, Any]) -> str:
    items = [
        charts.Bar("Sent", totals["sent"], "sent"),
        charts.Bar("Delivered", totals["delivered"], "sent"),
        charts.Bar("Human opens", totals["opened"], "human"),
        charts.Bar("Human clicks", totals["clicked"], "click"),
        charts.Bar("Conversions", totals["converted"], "convert"),
        charts.Bar("Machine opens (apart)", totals["opened_machine"], "machine"),
    ]
    return charts.bars("Funnel of the whole sequence", items, "funnel")


def _trend_chart(days: Sequence[Mapping[str, Any]]) -> str:
    series = [
        charts.Series(label, kind, [float(d.get(key) or 0) for d in days])
        for label, kind, key in (
            ("Sent", "sent", "sent"),
            ("Human opens", "human", "opened"),
            ("Human clicks", "click", "clicked"),
            ("Conversions", "convert", "converted"),
        )
    ]
    return charts.trend("Daily trend by send day", [str(d["day"]) for d in days], series, "trend")


def _dates(query: Mapping[str, str]) -> dict[str, str]:
    """The date filters that are dates; anything else is dropped rather than sent on."""
    return {k: query[k] for k in ("since", "until") if DAY.fullmatch(query.get(k, ""))}


def _report_filters(query: Mapping[str, str]) -> dict[str, str]:
    """A report's date filters, and its segment and stage when chosen (the API checks that
    they exist and answers which one does not)."""
    chosen = {k: query[k] for k in ("segment", "stage") if re.fullmatch(SLUG, query.get(k, ""))}
    return {**_dates(query), **chosen}


def _query_string(filters: Mapping[str, str]) -> str:
    return "?" + urllib.parse.urlencode(filters) if filters else ""


def _redirect(location: str) -> Reply:
    return Reply(303, b"", "text/plain", {"Location": location})


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _money(revenue: Any) -> str:
    if not revenue:
        return "-"
    return ", ".join(
        f"{currency} {_decimal(amount):,.2f}" for currency, amount in sorted(revenue.items())
    )


def _num(value: Any) -> str:
    return f"{int(value or 0):,}"


def _pct(value: Any) -> str:
    return f"{float(value or 0):.1%}"


def _pct_points(value: Any) -> str:
    return f"{float(value or 0) * 100:+.1f} pts"


def _decay(factor: Any) -> str:
    """A decay factor (`"0.812345..."`) to four places."""
    return f"{_decimal(factor):.4f}"


def _when(stamp: Any) -> str:
    """`2026-03-01T12:00:00.000Z` as `2026-03-01 12:00`."""
    text = str(stamp or "")
    return text[:16].replace("T", " ") if text else "-"


def _detail(entry: Mapping[str, Any]) -> str:
    parts = []
    for key, value in entry.items():
        if key in _DETAIL_SKIPPED or value in (None, ""):
            continue
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)
