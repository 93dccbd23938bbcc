"""Outbound: the EventBridge bus (with an archive), the webhook delivery queue and its
dead-letter queue, the Scheduler group whose one-per-minute schedules fire due retries, the
delivery functions' permissions and the alarms on failed, dead-lettered and disabled webhooks.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from nurture_infra.alarms import Alarms
from nurture_infra.functions import DELIVER
from nurture_infra.queues import DLQ_RETENTION, dead_letter_queue
from nurture_infra.scheduling import Scheduling

DELIVERY_CONCURRENCY = 10
"""At most this many delivery functions run at once: bounded pressure on receivers."""
FAILED_ATTEMPTS_THRESHOLD = 50
"""Failed webhook attempts in 5 minutes that page someone (single failures retry quietly)."""
PERIOD = Duration.minutes(5)


class Outbound(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, archive_days: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"nurture-{stage}")
        self.archive = self.bus.archive(
            "Archive",
            archive_name=f"nurture-{stage}-events",
            description="Every nurture event, for replays into new rules",
            event_pattern=events.EventPattern(account=[Aws.ACCOUNT_ID]),
            retention=Duration.days(archive_days),
        )
        self.dead_letters = dead_letter_queue(self, "WebhookDlq")
        self.queue = sqs.Queue(
            self,
            "WebhookQueue",
            # Six times the consumer's timeout, as AWS recommends for Lambda consumers.
            visibility_timeout=Duration.seconds(DELIVER.timeout.to_seconds() * 6),
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=5),
        )
        self.retries = Scheduling(
            self,
            "Retries",
            stage=stage,
            dead_letter_queue=self.dead_letters,
            purpose="webhooks",
        )

    def environment(self, retry_arn: str) -> dict[str, str]:
        """What the app's functions need to publish, deliver and retry."""
        return {
            "NURTURE_EVENT_BUS": self.bus.event_bus_name,
            "NURTURE_WEBHOOK_QUEUE_URL": self.queue.queue_url,
            "NURTURE_WEBHOOK_DLQ_URL": self.dead_letters.queue_url,
            "NURTURE_WEBHOOK_SCHEDULE_GROUP": self.retries.group_name,
            "NURTURE_WEBHOOK_RETRY_TARGET_ARN": retry_arn,
            "NURTURE_WEBHOOK_SCHEDULER_ROLE_ARN": self.retries.role.role_arn,
            "NURTURE_WEBHOOK_SCHEDULE_DLQ_ARN": self.dead_letters.queue_arn,
        }

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """The stream consumer: events onto the bus, deliveries onto the queue."""
        self.bus.grant_put_events_to(grantee)
        self.queue.grant_send_messages(grantee)

    def grant_deliver(self, grantee: iam.IGrantable) -> None:
        """Attempts: retries back onto the queue, dead letters, retry schedules."""
        self.queue.grant_send_messages(grantee)
        self.dead_letters.grant_send_messages(grantee)
        # Only create (and look up) retry schedules: they delete themselves after firing.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["scheduler:CreateSchedule", "scheduler:GetSchedule"],
                resources=[self.retries.schedules_arn],
            )
        )
        self.retries.role.grant_pass_role(grantee)

    def grant_publish_retries(self, grantee: iam.IGrantable) -> None:
        """A due minute's retries go back onto the queue."""
        self.queue.grant_send_messages(grantee)

    def grant_admin(self, grantee: iam.IGrantable) -> None:
        """The marketer API: redrive reads the dead-letter queue and refills the queue."""
        self.queue.grant_send_messages(grantee)
        self.dead_letters.grant_consume_messages(grantee)
        self.dead_letters.grant(grantee, "sqs:ChangeMessageVisibility")

    def wire(self, deliver: lambda_.IFunction, retry: lambda_.IFunction) -> None:
        deliver.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                report_batch_item_failures=True,
                max_concurrency=DELIVERY_CONCURRENCY,
            )
        )
        self.retries.allow_target(retry)

    def alarm(self, alarms: Alarms) -> None:
        """Failed attempts piling up, any delivery dead-lettered, any endpoint disabled (the
        dead-letter queue's depth is watched with the other dead-letter queues)."""
        for name, threshold in (
            ("WebhookFailedAttempts", FAILED_ATTEMPTS_THRESHOLD),
            ("WebhookDeadLettered", 1),
            ("WebhookEndpointsDisabled", 1),
        ):
            metric = cloudwatch.Metric(
                namespace="nurture",
                metric_name=name,
                dimensions_map={"service": "nurture"},  # Powertools' default dimension
                statistic="Sum",
                period=PERIOD,
            )
            alarms.watch(name, metric, threshold)
