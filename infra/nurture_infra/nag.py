"""cdk-nag AwsSolutions findings reviewed and accepted, each with the reason it does not apply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

if TYPE_CHECKING:
    from nurture_infra.stack import NurtureStack

RUNTIME = NagPackSuppression(
    id="AwsSolutions-L1",
    reason="Runtime pinned on purpose (bundling.LAMBDA_RUNTIME): dependencies are built and "
    "tested for it; move to the newest Python after the app's tests pass on it.",
)
UNSCOPABLE_ACTIONS = NagPackSuppression(
    id="AwsSolutions-IAM5",
    applies_to=["Resource::*"],
    reason="Only xray:PutTraceSegments/PutTelemetryRecords (Tracer) and, for the stream "
    "consumer, dynamodb:ListStreams: these actions support no resource-level permissions.",
)
SCHEDULES_IN_GROUP = NagPackSuppression(
    id="AwsSolutions-IAM5",
    applies_to=[
        RegexAppliesTo(regex=r"/^Resource::arn:.*:scheduler:.*:schedule\/nurture-.*\/\*$/")
    ],
    reason="Schedule names are chosen at run time (one per delivery instant); the wildcard is "
    "confined to nurture's own schedule group.",
)
API_GATEWAY_LOG_ROLE = NagPackSuppression(
    id="AwsSolutions-IAM4",
    applies_to=[
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs"
    ],
    reason="The AWS-documented role API Gateway needs to write access and execution logs.",
)
REQUEST_VALIDATION = NagPackSuppression(
    id="AwsSolutions-APIG2",
    reason="The app validates signed tokens and bodies itself; the pixel must answer 200 to any "
    "request and a bad click token gets the app's own 404 page, not a gateway 400.",
)
PUBLIC_ROUTES = [
    NagPackSuppression(
        id=rule,
        reason="Recipients' mail clients call these routes without credentials; the signed "
        "token in the path (or the HMAC of /api/conversions, checked by the app) is the auth.",
    )
    for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4")
]
IAM_NOT_COGNITO = NagPackSuppression(
    id="AwsSolutions-COG4",
    reason="The marketer API is authorized by IAM (SigV4): operators' AWS identities, no user "
    "directory of nurture's own.",
)
NO_PUBLIC_ACCESS_LOGS = NagPackSuppression(
    id="AwsSolutions-APIG1",
    reason="A log line per pixel would cost about $0.10 per million opens (5 % of the cost "
    "target); the API's request, 5XX and latency metrics are alarmed and on the dashboard, and "
    "the function logs every failure. The WAF switch moves these routes to a logged REST API.",
)
NO_AUTO_ROTATION = NagPackSuppression(
    id="AwsSolutions-SMG4",
    reason="Rotation is a manual key-ring change (README: rotate signing keys): replacing the "
    "value automatically would invalidate every link and API key already handed out.",
)
DEAD_LETTER_QUEUE = NagPackSuppression(
    id="AwsSolutions-SQS3",
    reason="This queue is itself a dead-letter queue (of the stream mapping, a Lambda async "
    "destination, Scheduler or an EventBridge target); cdk-nag only sees SQS redrive.",
)


IMPORT_PREFIXES = NagPackSuppression(
    id="AwsSolutions-IAM5",
    applies_to=[
        RegexAppliesTo(regex=r"/^Resource::<ImportsBucket[0-9A-F]+\.Arn>\/(uploads|reports)\/\*$/")
    ],
    reason="Object keys hold a job id chosen at run time; the wildcard is confined to the "
    "import bucket's uploads/ or reports/ prefix.",
)
IMPORT_BUCKET_LOGS = NagPackSuppression(
    id="AwsSolutions-S1",
    reason="Holds transient import files for 14 days, reached only through presigned URLs the "
    "IAM-authenticated marketer API signs (each job's id in the key); CloudTrail data events "
    "log object access where an account wants it, without a second bucket to keep.",
)


def suppress_reviewed_findings(stack: NurtureStack) -> None:
    """Attach each accepted finding to the narrowest construct it concerns."""
    add = NagSuppressions.add_resource_suppressions
    for fn in stack.app_functions:
        add(fn, [RUNTIME, UNSCOPABLE_ACTIONS], apply_to_children=True)
    for fn in (stack.api_fn, stack.stream_fn, stack.sender_fn, stack.deliver_fn):
        add(fn.role, [SCHEDULES_IN_GROUP], apply_to_children=True)
    add(stack.api.rest_api, [API_GATEWAY_LOG_ROLE, REQUEST_VALIDATION, IAM_NOT_COGNITO], True)
    add(stack.public, [NO_PUBLIC_ACCESS_LOGS, *PUBLIC_ROUTES], True)
    if stack.public.rest is not None:
        add(stack.public.rest.rest_api, [API_GATEWAY_LOG_ROLE, REQUEST_VALIDATION], True)
    for secret in stack.secrets:
        add(secret, [NO_AUTO_ROTATION])
    for fn in (stack.api_fn, stack.import_fn):
        add(fn.role, [IMPORT_PREFIXES], apply_to_children=True)
    add(stack.imports.bucket, [IMPORT_BUCKET_LOGS])
    for queue in (stack.stream_dlq, stack.schedule_dlq, stack.ses_event_dlq):
        add(queue, [DEAD_LETTER_QUEUE], apply_to_children=True)
