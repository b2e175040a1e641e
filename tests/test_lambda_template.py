"""The SAM template for the Lambda relay: valid CloudFormation YAML whose references all resolve."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "lambda" / "relay.yaml"
PSEUDO = {
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackName",
    "AWS::URLSuffix",
}


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads the short intrinsic-function tags (!Ref, !Sub, !GetAtt, !If, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader))


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every intrinsic function call in the template, as (function, argument)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" or key.startswith("Fn::"):
                yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_every_reference_resolves(template: dict[str, Any]) -> None:
    known = set(template["Parameters"]) | set(template["Resources"]) | PSEUDO
    for function, argument in walk(template):
        if function == "Ref":
            assert argument in known, f"!Ref {argument} names nothing"
        elif function == "Fn::GetAtt":
            assert argument[0] in template["Resources"], f"!GetAtt {argument} names no resource"
        elif function == "Fn::If":
            assert argument[0] in template["Conditions"], f"!If {argument[0]} names no condition"
        elif function == "Fn::Sub":
            for name in _sub_names(argument):
                assert name.split(".")[0] in known, f"!Sub ${{{name}}} names nothing"


def _sub_names(text: str) -> list[str]:
    return re.findall(r"\$\{([^}!]+)\}", text)


def test_the_function_runs_the_handler_on_a_schedule_inside_the_vpc(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    function = template["Resources"]["RelayFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    props = function["Properties"]
    module, name = props["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))
    assert props["VpcConfig"] == {
        "SubnetIds": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    assert props["Environment"]["Variables"]["DATABASE_URL_SECRET_ARN"] == {"Ref": "DatabaseUrlSecretArn"}
    (schedule,) = props["Events"].values()
    assert schedule["Type"] == "Schedule" and schedule["Properties"]["Schedule"] == {"Ref": "Schedule"}
    assert template["Parameters"]["Schedule"]["Default"] == "rate(1 minute)"
    assert props["Role"] == {"Fn::GetAtt": ["RelayRole", "Arn"]}


def test_permissions_are_scoped_to_the_secret_and_the_destinations(template: dict[str, Any]) -> None:
    role = template["Resources"]["RelayRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}
    ]
    statements = [_chosen(s) for s in role["Policies"][0]["PolicyDocument"]["Statement"]]
    by_action = {a: s["Resource"] for s in statements for a in _list(s["Action"])}
    assert by_action == {
        "secretsmanager:GetSecretValue": {"Ref": "DatabaseUrlSecretArn"},
        "sqs:SendMessage": {"Ref": "QueueArns"},
        "sqs:GetQueueAttributes": {"Ref": "QueueArns"},
        "sns:Publish": {"Ref": "TopicArns"},
        "sns:GetTopicAttributes": {"Ref": "TopicArns"},
        "kinesis:PutRecords": {"Ref": "StreamArns"},
        "kinesis:DescribeStreamSummary": {"Ref": "StreamArns"},
        "events:PutEvents": {"Ref": "EventBusArns"},
        "kms:Decrypt": {"Ref": "KmsKeyArns"},
        "kms:GenerateDataKey": {"Ref": "KmsKeyArns"},
    }
    assert all("*" not in str(resource) for resource in by_action.values())


def _chosen(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement an ``!If [cond, statement, !Ref AWS::NoValue]`` adds when its list is given."""
    if "Fn::If" in statement:
        _, chosen, otherwise = statement["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}
        return dict(chosen)
    return statement


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]
