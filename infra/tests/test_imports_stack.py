"""Contact import jobs in the stack: a private, SSL-only, encrypted bucket whose files expire,
a queue with a dead-letter queue (alarmed) driving the worker one job run at a time, and a
worker that may do only what a job run does."""

from __future__ import annotations

from typing import Any

from aws_cdk import assertions
from test_stack import as_list, function_id

Json = dict[str, Any]


def _statements_of(template: assertions.Template, handler: str) -> list[Json]:
    function = template.find_resources("AWS::Lambda::Function")[function_id(template, handler)]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _bucket(template: assertions.Template) -> tuple[str, Json]:
    ((logical_id, bucket),) = template.find_resources("AWS::S3::Bucket").items()
    return logical_id, bucket


def test_the_bucket_is_private_encrypted_ssl_only_and_forgets(
    template: assertions.Template,
) -> None:
    logical_id, bucket = _bucket(template)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["Uploads"]["Prefix"] == "uploads/" and rules["Uploads"]["ExpirationInDays"] == 14
    assert rules["Reports"]["Prefix"] == "reports/" and rules["Reports"]["ExpirationInDays"] == 14
    assert rules["UnfinishedParts"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "CorsConfiguration" not in props
    (policy,) = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_worker_runs_one_job_message_at_a_time_with_partial_failures(
    template: assertions.Template,
) -> None:
    worker = function_id(template, "app.import_worker")
    (mapping,) = [
        m["Properties"]
        for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": worker}
    ]
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queues = template.find_resources("AWS::SQS::Queue")
    queue = queues[mapping["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    function = template.find_resources("AWS::Lambda::Function")[worker]["Properties"]
    assert queue["VisibilityTimeout"] == 6 * function["Timeout"]
    dlq = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    alarmed = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions", [{}])[0].get("Value")
        == {"Fn::GetAtt": [dlq, "QueueName"]}
    ]
    assert [a["MetricName"] for a in alarmed] == ["ApproximateNumberOfMessagesVisible"]


def test_the_worker_may_do_only_what_a_job_run_does(template: assertions.Template) -> None:
    found = _statements_of(template, "app.import_worker")
    actions = {a for st in found for a in as_list(st["Action"]) if not a.startswith("logs:")}
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
    }
    (table_id,) = template.find_resources("AWS::DynamoDB::Table")
    (table,) = [st for st in found if "dynamodb:PutItem" in as_list(st["Action"])]
    assert table["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}  # no index
    bucket_id, _ = _bucket(template)
    writes = [st for st in found if "s3:PutObject" in as_list(st["Action"])]
    assert [st["Resource"]["Fn::Join"][1] for st in writes] == [
        [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/reports/*"]
    ]
    (listing,) = [st for st in found if "s3:ListBucket" in as_list(st["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["reports/*"]}}


def test_the_marketer_api_signs_uploads_and_reports_only(template: assertions.Template) -> None:
    found = _statements_of(template, "app.api")
    s3 = [st for st in found if any(a.startswith("s3:") for a in as_list(st["Action"]))]
    granted = {
        (action, st["Resource"]["Fn::Join"][1][1]) for st in s3 for action in as_list(st["Action"])
    }
    assert granted == {
        ("s3:PutObject", "/uploads/*"),
        ("s3:GetObject", "/uploads/*"),
        ("s3:GetObject", "/reports/*"),
    }


def test_outputs_and_settings_name_the_bucket_and_queue(template: assertions.Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert {"ImportBucketName", "ImportQueueUrl", "ImportDlqUrl"} <= set(outputs)
    api = template.find_resources("AWS::Lambda::Function")[function_id(template, "app.api")]
    variables = api["Properties"]["Environment"]["Variables"]
    assert {"NURTURE_IMPORT_BUCKET", "NURTURE_IMPORT_QUEUE_URL"} <= set(variables)
