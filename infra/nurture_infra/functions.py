"""The Chalice app's Lambda functions, each with its own role and log group (least privilege)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from nurture_infra.bundling import FULL, LAMBDA_RUNTIME, Asset


@dataclass(frozen=True)
class FunctionSpec:
    """One entry point of app.py; `handler` is the Lambda handler string."""

    name: str
    handler: str
    description: str
    timeout: Duration
    memory_mb: int = 512


_S = Duration.seconds
# Scheduler and EventBridge rules invoke asynchronously: Lambda retries a failed event twice
# within its maximum age, then hands it to the on-failure destination (a DLQ that `nurture dlq
# redrive` replays). Long outages are retried by the app itself (chalicelib/retrying.py).
ASYNC_RETRIES = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)
# The recipient routes: arm64, 512 MB (benchmarks/package.py: the memory buys CPU for the cold
# start; a warm request costs cents per million at any size).
PUBLIC = FunctionSpec("public", "app.public", "Recipient routes and callbacks (HTTP API)", _S(5))
API = FunctionSpec("api", "app.api", "Marketer REST API (IAM)", _S(29))
REPLAY = FunctionSpec("replay-parked", "app.replay_parked", "Replays parked tracking", _S(30))
STREAM = FunctionSpec("on-stream", "app.on_stream", "Rules engine on the table stream", _S(60))
FEEDBACK = FunctionSpec("on-ses-event", "app.on_ses_event", "SES delivery feedback", _S(30))
SENDER = FunctionSpec("on-schedule", "app.on_schedule", "Scheduled sender (SES)", _S(120))
DELIVER = FunctionSpec("deliver-webhooks", "app.deliver_webhooks", "Signed webhooks", _S(120))
RETRY = FunctionSpec("retry-webhooks", "app.retry_webhooks", "Due webhook retries", _S(60))
# A run imports chunks while more than 30 s are left, then queues the next run.
IMPORT = FunctionSpec("import-contacts", "app.import_worker", "Contact import jobs", _S(180), 1024)
# Every minute the funnel's closed minutes and days become totals (chalicelib/rollup.py).
ROLLUP = FunctionSpec("roll-up", "app.roll_up", "Funnel totals every minute", _S(120))
ALL_SPECS = (PUBLIC, API, REPLAY, STREAM, FEEDBACK, SENDER, DELIVER, RETRY, IMPORT, ROLLUP)


def function_name(stage: str, spec: FunctionSpec) -> str:
    """Names are fixed so ARNs can be referenced before the functions exist (no cycles)."""
    return f"nurture-{stage}-{spec.name}"


def function_arn(stack: Stack, stage: str, spec: FunctionSpec) -> str:
    """ARN built from the fixed name, e.g. for a function that must know its own ARN."""
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name(stage, spec),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class AppFunction(Construct):
    """A function of the shared app asset whose role can only write its own logs until granted."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        stage: str,
        code: lambda_.Code,
        asset: Asset = FULL,
        environment: dict[str, str],
        on_failure: lambda_.IDestination | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name(stage, spec)}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name(stage, spec),
            description=spec.description,
            runtime=LAMBDA_RUNTIME,
            architecture=asset.architecture,
            handler=spec.handler,
            code=code,
            role=self.role,
            log_group=self.log_group,
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            # X-Ray off: at the default sampling it would cost about a third of an open.
            tracing=lambda_.Tracing.DISABLED,
            # JSON logs; the platform's START/END/REPORT lines (INFO) are not ingested.
            logging_format=lambda_.LoggingFormat.JSON,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            environment=environment,
            on_failure=on_failure,
            retry_attempts=ASYNC_RETRIES if on_failure else None,
            max_event_age=ASYNC_MAX_EVENT_AGE if on_failure else None,
            reserved_concurrent_executions=reserved_concurrency,
        )
