"""CloudWatch alarms, all notifying one SNS topic (optionally subscribed by email) that lets
CloudWatch publish to it, and the dashboard of what they watch."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# SES puts an account under review at 5 % bounces / 0.1 % complaints: alarm well before that.
BOUNCE_RATE_THRESHOLD = 0.04
COMPLAINT_RATE_THRESHOLD = 0.0008
PERIOD = Duration.minutes(5)
# A function running this close to its timeout is about to fail on a slow day.
NEAR_TIMEOUT = 0.8
STREAM_BEHIND = Duration.minutes(5)
PARKED_TOO_LONG = Duration.minutes(15)
PARKED_TOO_MANY = 100
SERVER_ERROR_PERCENT = 1.0


class Alarms(Construct):
    """Alarms fire on the first error, throttle or dead letter: each one means lost work."""

    def __init__(self, scope: Construct, construct_id: str, *, alarm_email: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="nurture alarms", enforce_ssl=True)
        # With a topic policy (enforce_ssl makes one) nothing may publish unless allowed: without
        # this, every alarm action fails ("no resource-based policy allows SNS:Publish"). The
        # topic is not encrypted: CloudWatch cannot use the AWS-managed SNS key, and alarm
        # notices carry no personal data.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

    def watch_function(self, name: str, function: lambda_.IFunction, timeout: Duration) -> None:
        """Errors, throttles, and runs that came near the timeout, of one function."""
        self.watch(f"{name}Errors", function.metric_errors(period=PERIOD, statistic="Sum"), 1)
        self.watch(f"{name}Throttles", function.metric_throttles(period=PERIOD, statistic="Sum"), 1)
        duration = function.metric_duration(period=PERIOD, statistic="Maximum")
        self.watch(f"{name}NearTimeout", duration, timeout.to_milliseconds() * NEAR_TIMEOUT)

    def watch_front_door(
        self,
        name: str,
        requests: cloudwatch.IMetric,
        server_errors: cloudwatch.IMetric,
        latency: cloudwatch.IMetric,
        p99_ms: float,
    ) -> None:
        """5XX answers as a share of requests (Chalice turns exceptions into 500s that no
        Lambda error counts), and the p99 latency sustained for 15 minutes (cold starts alone
        do not trip it)."""
        rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={
                "requests": _with(requests, "Sum"),
                "errors": _with(server_errors, "Sum"),
            },
            period=PERIOD,
            label=f"{name} 5XX %",
        )
        self.watch(f"{name}ServerErrorRate", rate, SERVER_ERROR_PERCENT)
        self.watch(f"{name}LatencyP99", _with(latency, "p99"), p99_ms, periods=3)

    def watch_stream(self, consumer: lambda_.IFunction) -> None:
        """The rules fall behind the table when the oldest record waits this long."""
        age = consumer.metric("IteratorAge", period=PERIOD, statistic="Maximum")
        self.watch("StreamIteratorAge", age, STREAM_BEHIND.to_milliseconds())

    def watch_park_queue(self, queue: sqs.IQueue) -> None:
        """Writes the hot path could not make wait here until the table takes them again."""
        age = queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum")
        self.watch("ParkQueueAge", age, PARKED_TOO_LONG.to_seconds())
        depth = queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        self.watch("ParkQueueDepth", depth, PARKED_TOO_MANY)

    def watch_scheduler(self, group: str) -> None:
        """Due minutes whose target failed or that Scheduler dropped."""
        for metric_name in ("TargetErrorCount", "InvocationDroppedCount"):
            metric = cloudwatch.Metric(
                namespace="AWS/Scheduler",
                metric_name=metric_name,
                dimensions_map={"ScheduleGroup": group},
                statistic="Sum",
                period=PERIOD,
            )
            self.watch(f"Scheduler{metric_name}", metric, 1)

    def watch_rule(self, name: str, rule: events.IRule) -> None:
        """EventBridge could not deliver an event to the rule's target."""
        metric = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="FailedInvocations",
            dimensions_map={"RuleName": rule.rule_name},
            statistic="Sum",
            period=PERIOD,
        )
        self.watch(f"{name}FailedInvocations", metric, 1)

    def watch_table(self, table: dynamodb.ITable) -> None:
        """Throttled requests: the on-demand ceiling (a flood) or a hot partition."""
        for metric_name in ("ReadThrottleEvents", "WriteThrottleEvents"):
            metric = table.metric(metric_name, period=PERIOD, statistic="Sum")
            self.watch(f"Table{metric_name}", metric, 1)

    def watch_dead_letters(self, name: str, queue: sqs.IQueue) -> None:
        """Any message in a dead-letter queue needs a human."""
        metric = queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        self.watch(f"{name}Depth", metric, 1)

    def watch_ses_reputation(self) -> None:
        """Account-level SES reputation metrics (published hourly-ish, hence the long period)."""
        for name, metric_name, threshold in (
            ("SesBounceRate", "Reputation.BounceRate", BOUNCE_RATE_THRESHOLD),
            ("SesComplaintRate", "Reputation.ComplaintRate", COMPLAINT_RATE_THRESHOLD),
        ):
            metric = cloudwatch.Metric(
                namespace="AWS/SES",
                metric_name=metric_name,
                statistic="Maximum",
                period=Duration.hours(1),
            )
            self.watch(name, metric, threshold)

    def watch(
        self, name: str, metric: cloudwatch.IMetric, threshold: float, periods: int = 1
    ) -> None:
        """Notify the topic when `metric` reaches `threshold` for `periods` periods in a row."""
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _with(metric: cloudwatch.IMetric, statistic: str) -> cloudwatch.Metric:
    assert isinstance(metric, cloudwatch.Metric)
    return metric.with_(statistic=statistic, period=PERIOD)
