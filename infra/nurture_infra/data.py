"""The single DynamoDB table: the only durable state, so it outlives the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

GSI_NAME = "GSI1"
TTL_ATTRIBUTE = "ttl"


def create_table(scope: Construct, stage: str) -> dynamodb.Table:
    """On-demand table with PITR, TTL and a NEW_AND_OLD_IMAGES stream for the rules engine."""
    string = dynamodb.AttributeType.STRING
    table = dynamodb.Table(
        scope,
        "Table",
        table_name=f"nurture-{stage}",
        partition_key=dynamodb.Attribute(name="PK", type=string),
        sort_key=dynamodb.Attribute(name="SK", type=string),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=TTL_ATTRIBUTE,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    table.add_global_secondary_index(
        index_name=GSI_NAME,
        partition_key=dynamodb.Attribute(name="GSI1PK", type=string),
        sort_key=dynamodb.Attribute(name="GSI1SK", type=string),
    )
    return table


def grant_table_access(table: dynamodb.Table, grantee: iam.IGrantable, *, write: bool) -> None:
    """Item-level actions on the table and its one index, named one by one (no wildcards)."""
    actions = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
    if write:
        actions += [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
        ]
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=actions,
            resources=[table.table_arn, f"{table.table_arn}/index/{GSI_NAME}"],
        )
    )
