"""The console demo's simulated month (`local/month.py`): its totals are what the report
answers, per step, variant and day, with the holdout and a proposed winner; loading it again
changes nothing, and what the stream counts for the same sequence adds to it."""

from __future__ import annotations

import time

from chalicelib import services, store
from chalicelib.funnel import Funnel
from chalicelib.stamps import minute
from local import month


def test_the_report_answers_the_months_totals(table: store.Table) -> None:
    now = time.time()
    loaded = month.load(table, services.versions(), now)
    doc = services.report(month.SEQUENCE, None, None)
    totals = loaded.counted()
    for step in doc["steps"]:
        assert step == {**step, **{k: v for k, v in totals.step(step["step_id"]).items()}}
        for variant in step.get("variants") or ():
            assert variant["sent"] == totals.step(step["step_id"], variant["variant"])["sent"]
    announce = doc["steps"][0]
    assert {v["variant"] for v in announce["variants"]} == {"plain", "curious"}
    assert announce["sent"] > 1500 and 0 < announce["opened"] < announce["sent"]
    assert announce["opened_machine"] > 0 and set(announce["revenue"]) == {"EUR", "USD"}
    assert set(announce["unsubscribed_reasons"]) <= {
        "too_many",
        "not_relevant",
        "never_signed_up",
        "other",
    }
    assert len(doc["days"]) == month.DAYS
    holdout = doc["holdout"]
    assert holdout["held"] + holdout["treated"] == month.CONTACTS
    assert 0.07 < holdout["held"] / month.CONTACTS < 0.13
    assert doc["proposal"] is not None and doc["proposal"]["winner"] == "curious"
    assert month.load(table, services.versions(), now) is None  # a restored stack keeps it
    assert services.report(month.SEQUENCE, None, None) == doc


def test_the_stream_counts_beside_the_month(table: store.Table) -> None:
    month.load(table, services.versions(), time.time())
    before = Funnel(table).counted(month.SEQUENCE).step("announce")["sent"]
    cell = store.Cell("announce", "plain", "2026-01-01")
    written = minute(time.time())
    table.apply(store.count_once_write("s-1", "sent", month.SEQUENCE, cell, written=written))
    assert Funnel(table).counted(month.SEQUENCE).step("announce")["sent"] == before + 1
