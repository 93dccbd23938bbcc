"""The public function's environment exactly as the synthesized stack gives it, stood up on moto.

Each variable's value is resolved as CloudFormation would: a referenced table, queue or secret
is created first (the table with the template's keys and indexes, a generated secret holding
GENERATED, a secret built from another through a dynamic reference holding the resolved text),
and the variable gets its name, URL or ARN. A value this cannot stand in for fails the test, so
a new variable of the public function is never silently left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_cdk import assertions

Json = dict[str, Any]
PUBLIC_HANDLER = "app.public"
# What Secrets Manager generates for the stack's seeds: 64 alphanumerics (valid base64 too).
GENERATED = "GeneratedSeed0123456789" * 2 + "abcdefghijklmnopqr"
_DYNAMIC = re.compile(r"\{\{resolve:secretsmanager:(.+?):SecretString:::\}\}")
_INDEX_FIELDS = ("IndexName", "KeySchema", "Projection")


def public_function(template: assertions.Template) -> tuple[str, Json]:
    """The logical id and properties of the function serving the recipient routes."""
    ((logical, function),) = [
        (logical, function)
        for logical, function in template.find_resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == PUBLIC_HANDLER
    ]
    return logical, function["Properties"]


def public_variables(template: assertions.Template) -> Json:
    """The public function's environment variables as the template writes them."""
    variables: Json = public_function(template)[1]["Environment"]["Variables"]
    return variables


def stand_up(
    template: assertions.Template, client: Callable[[str], Any], region: str
) -> dict[str, str]:
    """Create what the public function's environment refers to; its variables, resolved."""
    resources: dict[str, Json] = template.to_json()["Resources"]
    made: dict[str, str] = {}

    def ref(logical: str) -> str:
        if logical not in made:
            made[logical] = create(logical, resources[logical])
        return made[logical]

    def create(logical: str, resource: Json) -> str:
        kind, properties = resource["Type"], resource["Properties"]
        if kind == "AWS::DynamoDB::Table":
            client("dynamodb").create_table(
                TableName=properties["TableName"],
                KeySchema=properties["KeySchema"],
                AttributeDefinitions=properties["AttributeDefinitions"],
                BillingMode=properties["BillingMode"],
                GlobalSecondaryIndexes=[
                    {field: index[field] for field in _INDEX_FIELDS}
                    for index in properties.get("GlobalSecondaryIndexes", [])
                ],
            )
            return str(properties["TableName"])
        if kind == "AWS::SQS::Queue":
            return str(client("sqs").create_queue(QueueName=logical)["QueueUrl"])
        if kind == "AWS::SecretsManager::Secret":
            if "GenerateSecretString" in properties:
                value = GENERATED
            else:
                value = _DYNAMIC.sub(secret_value, resolve(properties["SecretString"]))
            name = properties.get("Name", logical)
            return str(client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"])
        raise AssertionError(f"no stand-in for {kind} {logical} in the public environment")

    def secret_value(reference: re.Match[str]) -> str:
        answer = client("secretsmanager").get_secret_value(SecretId=reference[1])
        return str(answer["SecretString"])

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            return ref(argument)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(resolve(part) for part in parts)
        if function == "Fn::GetAtt" and argument[1] == "ApiEndpoint":
            assert resources[argument[0]]["Type"] == "AWS::ApiGatewayV2::Api", argument
            return f"https://{argument[0].lower()}.execute-api.{region}.amazonaws.com"
        raise AssertionError(f"no stand-in for {value} in the public environment")

    return {name: resolve(value) for name, value in public_variables(template).items()}


def secrets_named(template: assertions.Template) -> dict[str, str]:
    """Variable name → logical id of each secret the public environment names."""
    resources: dict[str, Json] = template.to_json()["Resources"]
    return {
        name: value["Ref"]
        for name, value in public_variables(template).items()
        if isinstance(value, dict)
        and "Ref" in value
        and resources[value["Ref"]]["Type"] == "AWS::SecretsManager::Secret"
    }
