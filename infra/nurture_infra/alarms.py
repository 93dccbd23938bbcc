"""CloudWatch alarms, all notifying one SNS topic (optionally subscribed by email)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# SES puts an account under review at 5 % bounces / 0.1 % complaints: alarm well before that.
BOUNCE_RATE_THRESHOLD = 0.04
COMPLAINT_RATE_THRESHOLD = 0.0008
PERIOD = Duration.minutes(5)


class Alarms(Construct):
    """Alarms fire on the first error, throttle or dead letter: each one means lost work."""

    def __init__(self, scope: Construct, construct_id: str, *, alarm_email: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="nurture alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

    def watch_function(self, name: str, function: lambda_.IFunction) -> None:
        """Errors and throttles of one function."""
        self.watch(f"{name}Errors", function.metric_errors(period=PERIOD, statistic="Sum"), 1)
        self.watch(f"{name}Throttles", function.metric_throttles(period=PERIOD, statistic="Sum"), 1)

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

    def watch(self, name: str, metric: cloudwatch.IMetric, threshold: float) -> None:
        """Notify the topic when `metric` reaches `threshold` in one period."""
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
