"""One CloudWatch dashboard: every alarm's state, and the metrics behind them and the app's own
(sends, skips by reason, parked writes, bad tokens, verdicts: EMF, namespace `nurture`)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from nurture_infra.alarms import PERIOD

APP_NAMESPACE = "nurture"
SERVICE = {"service": "nurture"}
APP_METRICS = (
    ("Sends", ("Sent", "Skipped", "Uncertain")),
    (
        "Engagement (verdicts)",
        ("OpenedHuman", "OpenedMachine", "OpenedUnknown", "ClickedHuman", "ClickedScanner"),
    ),
    ("Recipient path faults", ("BadTokens", "ParkedWrites", "WritesLostToLogs")),
)


def app_metric(name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=APP_NAMESPACE,
        metric_name=name,
        dimensions_map=SERVICE,
        statistic="Sum",
        period=PERIOD,
    )


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        alarms: Sequence[cloudwatch.IAlarm],
        graphs: Sequence[tuple[str, Sequence[cloudwatch.IMetric]]],
    ) -> None:
        super().__init__(scope, construct_id)
        board = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=name, default_interval=Duration.hours(24)
        )
        board.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=6)
        )
        widgets = [
            cloudwatch.GraphWidget(title=title, left=list(metrics), width=8, height=6)
            for title, metrics in (
                *graphs,
                *((t, [app_metric(n) for n in names]) for t, names in APP_METRICS),
            )
        ]
        for start in range(0, len(widgets), 3):
            board.add_widgets(*widgets[start : start + 3])
