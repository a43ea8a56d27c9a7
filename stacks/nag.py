"""cdk-nag acknowledgements: every suppressed finding carries its reason next to the resource.

``acknowledge`` covers a whole rule for a construct. IAM wildcard findings (AwsSolutions-IAM5)
are reported one per wildcard (``AwsSolutions-IAM5[Resource::<Bucket.Arn>/prefix/*]``), so
``acknowledge_wildcards`` accepts exactly the wildcards that match a construct's allow-list --
any other wildcard still fails synth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Aspects, CfnResource, IAspect, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

WILDCARD_RULE = "AwsSolutions-IAM5"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag ``rule`` (e.g. ``AwsSolutions-L1``) for ``scope`` and everything below it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcards(scope: IConstruct, reason: str, *, allowed: Sequence[str]) -> None:
    """Acknowledge the IAM wildcard findings below ``scope`` that fully match one of ``allowed`` (regexes).

    Findings read like cdk-nag's: ``Action::s3:Get*`` or ``Resource::arn:<AWS::Partition>:...``
    with references flattened to ``<LogicalId.Attribute>``.
    """
    Aspects.of(scope).add(_WildcardAcknowledger(reason, tuple(re.compile(p) for p in allowed)))


@jsii.implements(IAspect)
class _WildcardAcknowledger:
    def __init__(self, reason: str, allowed: tuple[re.Pattern[str], ...]) -> None:
        self.reason, self.allowed = reason, allowed

    def visit(self, node: IConstruct) -> None:
        stack = Stack.of(node)
        if isinstance(node, iam.CfnPolicy):
            documents = [stack.resolve(node.policy_document)]
        elif isinstance(node, iam.CfnRole):
            documents = [stack.resolve(p).get("policyDocument", {}) for p in stack.resolve(node.policies) or []]
        else:
            return
        for document in documents:
            for finding in wildcard_findings(document):
                if any(pattern.fullmatch(finding) for pattern in self.allowed):
                    acknowledge(node, f"{WILDCARD_RULE}[{finding}]", self.reason)


def wildcard_findings(document: dict[str, Any]) -> Iterator[str]:
    """The wildcard findings cdk-nag reports for an IAM policy document."""
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if "*" in action:
                yield f"Action::{action}"
        for resource in _as_list(statement.get("Resource")):
            flat = flatten_reference(resource)
            if "*" in flat:
                yield f"Resource::{flat}"


def flatten_reference(node: Any) -> str:
    """A CloudFormation value as cdk-nag prints it: ``Fn::Join`` joined, ``Ref``/``GetAtt`` as ``<...>``."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    import json

    return json.dumps(node, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# The managed policy CDK gives every Lambda role: it only allows writing the function's own logs.
LAMBDA_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)


def acknowledge_checkov(
    scope: IConstruct,
    resource_type: str,
    checks: dict[str, str],
    *,
    where: Callable[[CfnResource], bool] | None = None,
) -> None:
    """Acknowledge checkov ``checks`` (id -> reason) on the ``resource_type`` resources below ``scope``.

    ``where`` narrows it to the resources it holds for. checkov reads ``Metadata.checkov.skip`` beside
    each resource in the template, so the reason travels with the resource a reviewer looks at, as
    cdk-nag's acknowledgements do.
    """
    Aspects.of(scope).add(_CheckovAcknowledger(resource_type, dict(checks), where))


@jsii.implements(IAspect)
class _CheckovAcknowledger:
    def __init__(self, resource_type: str, checks: dict[str, str], where: Callable[[CfnResource], bool] | None) -> None:
        self.resource_type, self.checks, self.where = resource_type, checks, where

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type != self.resource_type:
            return
        if self.where is not None and not self.where(node):
            return
        current = node.get_metadata("checkov") or {}
        skip = {entry["id"]: entry["comment"] for entry in current.get("skip", [])}
        for check, reason in self.checks.items():
            skip.setdefault(check, reason)
        node.add_metadata("checkov", {"skip": [{"id": k, "comment": v} for k, v in sorted(skip.items())]})


def unreserved_lambda(node: CfnResource) -> bool:
    """A Lambda function without reserved concurrency (CDK's own handlers are plain CfnResources: none)."""
    return not (isinstance(node, lambda_.CfnFunction) and node.reserved_concurrent_executions is not None)


# What checkov asks of every Lambda and log group here, and why the stack does otherwise.
UNRESERVED_LAMBDA_CHECKOV = {
    "CKV_AWS_115": "Invoked by API Gateway (throttled per stage) or CloudFormation. Reserved concurrency is opt-in "
    "(training.concurrentStarts): Lambda keeps 100 of an account's concurrency unreserved and new accounts have "
    "less, so a reservation can fail the deploy; job starts are bounded by maxJobsPerBatch and the running-job check.",
}
LAMBDA_CHECKOV = {
    "CKV_AWS_116": "Invoked synchronously (API Gateway, CloudFormation's provider); a DLQ only catches asynchronous "
    "invocations.",
    "CKV_AWS_117": "Calls AWS APIs and Snowflake over HTTPS; a VPC would add NAT gateways and no protection here.",
    "CKV_AWS_173": "The environment holds names and ARNs, never a secret; Lambda encrypts it at rest with its key.",
}
LOG_GROUP_CHECKOV = {
    "CKV_AWS_158": "Log lines carry ids and statuses, never credentials or rows; CloudWatch Logs encrypts them at "
    "rest by default, and a customer key would add cost without closing a gap.",
}
