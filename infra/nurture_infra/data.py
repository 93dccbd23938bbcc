"""The single DynamoDB table: the only durable state, so it outlives the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from nurture_infra.config import StackConfig

GSI_NAME = "GSI1"
TTL_ATTRIBUTE = "ttl"


def create_table(scope: Construct, stage: str, config: StackConfig) -> dynamodb.Table:
    """On-demand table with PITR, TTL and a NEW_AND_OLD_IMAGES stream for the rules engine,
    capped in request units per second so a flood cannot run up an unbounded bill."""
    string = dynamodb.AttributeType.STRING
    table = dynamodb.Table(
        scope,
        "Table",
        table_name=f"nurture-{stage}",
        partition_key=dynamodb.Attribute(name="PK", type=string),
        sort_key=dynamodb.Attribute(name="SK", type=string),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        max_write_request_units=config.table_max_write_units,
        max_read_request_units=config.table_max_read_units,
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
        max_write_request_units=config.table_max_write_units,
        max_read_request_units=config.table_max_read_units,
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


# The only items the recipient routes read or write: contacts' partitions (profile, events),
# conversion guards and product events named by email address awaiting their contact.
# Updates only for unsubscribes and preferences; batch writes for product event backfills.
# infra/tests/test_public_grants.py drives every route and checks each call against these.
RECIPIENT_KEYS = ["C#*", "V#*", "M#*"]


def grant_recipient_writes(table: dynamodb.Table, grantee: iam.IGrantable) -> None:
    """Get, put, update, batch writes and condition checks on those items, no index."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:BatchWriteItem",
            ],
            resources=[table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": RECIPIENT_KEYS}},
        )
    )


def grant_import_writes(table: dynamodb.Table, grantee: iam.IGrantable) -> None:
    """The import worker: read and write items by key (contacts, the job, the addresses it
    placed, 25 to a batch); no query, scan, delete or index."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
            ],
            resources=[table.table_arn],
        )
    )
