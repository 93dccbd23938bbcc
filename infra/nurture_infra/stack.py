"""The whole nurture deployment in one stack: its parts reference each other tightly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from nurture_infra import bundling, functions
from nurture_infra.alarms import Alarms
from nurture_infra.api import MARKETER_ROUTES, RestApi
from nurture_infra.bundling import app_code
from nurture_infra.config import StackConfig
from nurture_infra.dashboard import Dashboard
from nurture_infra.data import (
    create_table,
    grant_import_writes,
    grant_recipient_writes,
    grant_table_access,
)
from nurture_infra.frontdoor import PublicApi
from nurture_infra.functions import AppFunction, FunctionSpec
from nurture_infra.imports import ContactImports
from nurture_infra.keys import api_keys_secret, conversion_secrets_secret, signing_keys_secret
from nurture_infra.mailing import Email
from nurture_infra.outbound import Outbound
from nurture_infra.queues import dead_letter_queue, park_queue
from nurture_infra.scheduling import Scheduling
from nurture_infra.streamfilter import stream_filter_patterns

# The stream consumer gathers records this long (or until a batch of 100) before it runs: a
# busy hour costs a few invocations a minute per shard instead of one per open.
STREAM_BATCH_WINDOW = Duration.seconds(10)


class NurtureStack(Stack):
    """Table, API, event handlers, scheduler, SES wiring, secrets and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        source_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        stage = config.stage
        self.config = config
        self.table = create_table(self, stage, config)
        signing = signing_keys_secret(self, stage)
        conversion = conversion_secrets_secret(self, stage)
        self.api_keys = api_keys_secret(self, stage)
        self.signing_keys, self.conversion_secrets = signing[0], conversion[0]
        self.secrets = (*signing, *conversion, self.api_keys)
        self.park, self.park_dlq = park_queue(self, functions.REPLAY.timeout)
        self.stream_dlq = dead_letter_queue(self, "StreamDlq")
        self.schedule_dlq = dead_letter_queue(self, "ScheduleDlq")
        self.ses_event_dlq = dead_letter_queue(self, "SesEventDlq")
        self.scheduling = Scheduling(
            self, "Scheduling", stage=stage, dead_letter_queue=self.schedule_dlq
        )
        self.email = Email(self, "Email", config=config)
        self.public = PublicApi(self, "Public", config=config)
        self.api = RestApi(
            self,
            "Api",
            config=config,
            name=f"nurture-{stage}",
            routes=MARKETER_ROUTES,
            authorization=apigw.AuthorizationType.IAM,
        )
        self.outbound = Outbound(
            self, "Outbound", stage=stage, archive_days=config.event_archive_days
        )
        self.imports = ContactImports(self, "Imports", worker_timeout=functions.IMPORT.timeout)

        # What the recipient routes need, and nothing of sending, scheduling or marketers.
        recipient = {
            "NURTURE_TABLE": self.table.table_name,
            "NURTURE_BASE_URL": self.public.base_url,
            "NURTURE_SIGNING_KEYS_SECRET": self.signing_keys.secret_arn,
            "NURTURE_CONVERSION_SECRETS_SECRET": self.conversion_secrets.secret_arn,
            "NURTURE_PARK_QUEUE_URL": self.park.queue_url,
            "NURTURE_EVENT_RETENTION_DAYS": str(config.event_retention_days),
            "POWERTOOLS_SERVICE_NAME": "nurture",
            "POWERTOOLS_METRICS_NAMESPACE": "nurture",
        }
        environment = {
            **recipient,
            "NURTURE_API_KEYS_SECRET": self.api_keys.secret_arn,
            "NURTURE_SES_CONFIGURATION_SET": self.email.name,
            "NURTURE_SENDER": config.from_address,
            "NURTURE_SES_MAX_SEND_RATE": str(config.ses_max_send_rate),
            "NURTURE_SCHEDULE_GROUP": self.scheduling.group_name,
            "NURTURE_SCHEDULER_ROLE_ARN": self.scheduling.role.role_arn,
            "NURTURE_SCHEDULE_TARGET_ARN": functions.function_arn(self, stage, functions.SENDER),
            "NURTURE_SCHEDULE_DLQ_ARN": self.schedule_dlq.queue_arn,
            "NURTURE_API_AUTH": "iam",
            # zoneinfo reads only the bundled tzdata package: send times never depend on the
            # zone files of the Lambda image.
            "PYTHONTZPATH": "",
            **self.outbound.environment(functions.function_arn(self, stage, functions.RETRY)),
            **self.imports.environment,
        }
        code = app_code(self, source_dir)

        def function(
            spec: FunctionSpec, on_failure: lambda_.IDestination | None = None
        ) -> AppFunction:
            return AppFunction(
                self,
                spec.name,
                spec=spec,
                stage=stage,
                code=code,
                environment=environment,
                on_failure=on_failure,
            )

        self.public_fn = AppFunction(
            self,
            functions.PUBLIC.name,
            spec=functions.PUBLIC,
            stage=stage,
            code=app_code(self, source_dir, bundling.PUBLIC),
            asset=bundling.PUBLIC,
            environment=recipient,
            reserved_concurrency=config.public_concurrency,
        )
        self.api_fn = function(functions.API)
        self.replay_fn = function(functions.REPLAY)
        self.stream_fn = function(functions.STREAM)
        self.feedback_fn = function(
            functions.FEEDBACK, destinations.SqsDestination(self.ses_event_dlq)
        )
        self.sender_fn = function(functions.SENDER, destinations.SqsDestination(self.schedule_dlq))
        self.deliver_fn = function(functions.DELIVER)
        # A retry bucket whose function failed is dead-lettered; `nurture webhooks redrive`
        # fires it again.
        self.retry_fn = function(
            functions.RETRY, destinations.SqsDestination(self.outbound.dead_letters)
        )
        self.import_fn = function(functions.IMPORT)
        # No dead-letter queue: a failed run is simply the next minute's to finish.
        self.rollup_fn = function(functions.ROLLUP)
        self.rollup_rule = events.Rule(
            self,
            "RollUpEveryMinute",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(self.rollup_fn.function)],
        )
        self._grant()
        self._wire()
        self._alarm(config.alarm_email)
        CfnOutput(self, "BaseUrl", value=self.public.base_url)
        CfnOutput(self, "ApiUrl", value=self.api.base_url)
        CfnOutput(self, "TableName", value=self.table.table_name)
        CfnOutput(self, "SigningKeysSecret", value=self.signing_keys.secret_name)
        # `nurture config from-stack` reads the marketer function's settings.
        CfnOutput(self, "ApiFunctionName", value=self.api_fn.function.function_name)
        # What `nurture dlq redrive` replays (NURTURE_<QUEUE>_DLQ_URL).
        for name, queue in (
            ("ParkDlqUrl", self.park_dlq),
            ("ScheduleDlqUrl", self.schedule_dlq),
            ("SesEventDlqUrl", self.ses_event_dlq),
            ("StreamDlqUrl", self.stream_dlq),
            ("ImportDlqUrl", self.imports.dead_letters),
        ):
            CfnOutput(self, name, value=queue.queue_url)
        # Import jobs (also in the marketer function's settings, which the CLI reads).
        CfnOutput(self, "ImportBucketName", value=self.imports.bucket.bucket_name)
        CfnOutput(self, "ImportQueueUrl", value=self.imports.queue.queue_url)

    @property
    def app_functions(self) -> tuple[AppFunction, ...]:
        return (
            self.public_fn,
            self.api_fn,
            self.replay_fn,
            self.stream_fn,
            self.feedback_fn,
            self.sender_fn,
            self.deliver_fn,
            self.retry_fn,
            self.import_fn,
            self.rollup_fn,
        )

    def _grant(self) -> None:
        """Each function gets exactly what its handler touches."""
        grant_recipient_writes(self.table, self.public_fn.role)
        self.signing_keys.grant_read(self.public_fn.role)
        self.conversion_secrets.grant_read(self.public_fn.role)
        self.park.grant_send_messages(self.public_fn.role)

        grant_table_access(self.table, self.api_fn.role, write=True)
        self.signing_keys.grant_read(self.api_fn.role)
        self.api_keys.grant_read(self.api_fn.role)
        self.park.grant_send_messages(self.api_fn.role)
        self.scheduling.grant_manage_schedules(self.api_fn.role)  # enrollments plan sends

        grant_table_access(self.table, self.replay_fn.role, write=True)

        grant_table_access(self.table, self.stream_fn.role, write=True)
        self.scheduling.grant_manage_schedules(self.stream_fn.role)

        grant_table_access(self.table, self.feedback_fn.role, write=True)

        grant_table_access(self.table, self.sender_fn.role, write=True)
        self.signing_keys.grant_read(self.sender_fn.role)
        self.email.grant_send(self.sender_fn.role)
        self.scheduling.grant_manage_schedules(self.sender_fn.role)
        self.scheduling.allow_target(self.sender_fn.function)

        self.outbound.grant_publish(self.stream_fn.role)
        self.outbound.grant_admin(self.api_fn.role)
        grant_table_access(self.table, self.deliver_fn.role, write=True)
        self.outbound.grant_deliver(self.deliver_fn.role)
        grant_table_access(self.table, self.retry_fn.role, write=True)
        self.outbound.grant_publish_retries(self.retry_fn.role)

        self.imports.grant_jobs(self.api_fn.role)
        grant_import_writes(self.table, self.import_fn.role)
        self.imports.grant_worker(self.import_fn.role)

        grant_table_access(self.table, self.rollup_fn.role, write=True)

    def _wire(self) -> None:
        """Event sources: the two APIs, park queue, table stream, SES events."""
        self.public.route_to(self.public_fn.function)
        self.api.route_to(self.api_fn.function)
        self.replay_fn.function.add_event_source(
            sources.SqsEventSource(self.park, batch_size=10, report_batch_item_failures=True)
        )
        self.stream_fn.function.add_event_source(
            sources.DynamoEventSource(
                self.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                bisect_batch_on_error=True,
                retry_attempts=5,
                max_record_age=Duration.days(1),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.stream_dlq),
                # Woken only for the changes its consumers act on (chalicelib/store/changes.py).
                filters=[lambda_.FilterCriteria.filter(p) for p in stream_filter_patterns()],
                max_batching_window=STREAM_BATCH_WINDOW,
            )
        )
        # One job run per invocation: a run takes the invocation's time, not a batch's.
        self.import_fn.function.add_event_source(
            sources.SqsEventSource(
                self.imports.queue, batch_size=1, report_batch_item_failures=True
            )
        )
        self.email.route_feedback(self.feedback_fn.function, self.ses_event_dlq)
        self.outbound.wire(self.deliver_fn.function, self.retry_fn.function)

    def _alarm(self, alarm_email: str) -> None:
        alarms = Alarms(self, "Alarms", alarm_email=alarm_email)
        for fn in self.app_functions:
            alarms.watch_function(fn.node.id, fn.function, fn.spec.timeout)
        for name, queue in (
            ("ParkDlq", self.park_dlq),
            ("StreamDlq", self.stream_dlq),
            ("ScheduleDlq", self.schedule_dlq),
            ("SesEventDlq", self.ses_event_dlq),
            ("WebhookDlq", self.outbound.dead_letters),
            ("ImportDlq", self.imports.dead_letters),
        ):
            alarms.watch_dead_letters(name, queue)
        self.outbound.alarm(alarms)
        public = self.public.metrics()
        rest = self.api.rest_api
        marketer = (rest.metric_count(), rest.metric_server_error(), rest.metric_latency())
        alarms.watch_front_door("Public", *public, p99_ms=2000)
        alarms.watch_front_door("MarketerApi", *marketer, p99_ms=20000)
        alarms.watch_stream(self.stream_fn.function)
        alarms.watch_park_queue(self.park)
        alarms.watch_scheduler(self.scheduling.group_name)
        alarms.watch_rule("SesFeedbackRule", self.email.feedback_rule)
        alarms.watch_rule("RollUpRule", self.rollup_rule)
        alarms.watch_table(self.table)
        alarms.watch_ses_reputation()
        Dashboard(
            self,
            "Dashboard",
            name=f"nurture-{self.config.stage}",
            alarms=alarms.alarms,
            graphs=[
                ("Public front door: requests, 5XX", public[:2]),
                ("Public front door: latency p99", [public[2]]),
                ("Marketer API: requests, 5XX", marketer[:2]),
                ("Function errors", [fn.function.metric_errors() for fn in self.app_functions]),
                (
                    "Function duration (max)",
                    [fn.function.metric_duration(statistic="Maximum") for fn in self.app_functions],
                ),
                ("Stream iterator age", [self.stream_fn.function.metric("IteratorAge")]),
                (
                    "Park queue",
                    [
                        self.park.metric_approximate_number_of_messages_visible(),
                        self.park.metric_approximate_age_of_oldest_message(),
                    ],
                ),
                (
                    "Table capacity",
                    [
                        self.table.metric_consumed_write_capacity_units(),
                        self.table.metric_consumed_read_capacity_units(),
                    ],
                ),
            ],
        )
