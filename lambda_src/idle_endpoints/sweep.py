"""Which of this pipeline's endpoints sat idle for the window, and taking them down.

An endpoint is idle when CloudWatch has no ``Invocations`` for any of its production variants in the last
``idle_hours`` (``AWS/SageMaker``, dimensions ``EndpointName`` and ``VariantName``, published by real-time and
serverless endpoints alike: https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html). SageMaker documents no
zeros for a quiet period, so "no datapoint" and "a sum of 0" both mean idle. An endpoint created less than
``idle_hours`` ago is kept (it has not had the window yet), and so is one SageMaker is busy with.
Idle endpoints are undeployed exactly as ``undeploy_model`` does (``external_functions.undeployment``): endpoint,
endpoint configs and models deleted, and the record that ``pipeline_status`` shows says when and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from external_functions.aws import AWS_ERRORS, describe_or_none, translated, upstream_error
from external_functions.errors import PipelineError
from external_functions.undeployment import undeploy
from pipeline_shared import InputError, resources
from pipeline_shared.pipeline_objects import named, owned, tags_of
from pipeline_shared.sagemaker_kinds import ENDPOINTS

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient


HOUR_S = 3600  # GetMetricStatistics period: hourly sums, kept by CloudWatch for 455 days


@dataclass(frozen=True)
class Verdict:
    endpoint: str
    model: str
    invocations: float | None  # in the window (None: not counted -- young or busy)
    action: str  # "swept", "kept: invoked", "kept: younger than the window", "kept: <status>", "failed: <why>"


def reason(idle_hours: int) -> str:
    """What the record says of a swept model."""
    return f"idle endpoint sweep: no invocations for {idle_hours} h"


def sweep(
    *,
    sagemaker: SageMakerClient,
    cloudwatch: CloudWatchClient,
    s3: S3Client,
    prefix: str,
    bucket: str,
    idle_hours: int,
    now: datetime,
) -> list[Verdict]:
    """Judge every endpoint of this pipeline and undeploy the idle ones; ``now`` is the window's end (UTC)."""
    start = now - timedelta(hours=idle_hours)
    verdicts = []
    for summary, model in _endpoints(sagemaker, prefix):
        name = summary["EndpointName"]
        try:
            verdict = _judge(summary, model, sagemaker, cloudwatch, start, now)
            if verdict.action == "swept":
                undeploy(model, prefix=prefix, bucket=bucket, sagemaker=sagemaker, s3=s3, reason=reason(idle_hours))
        except (PipelineError, InputError) as exc:  # one endpoint's trouble: the others are still judged
            verdict = Verdict(name, model, None, f"failed: {exc.message}")
        verdicts.append(verdict)
    return verdicts


def _judge(
    summary: dict[str, Any],
    model: str,
    sagemaker: SageMakerClient,
    cloudwatch: CloudWatchClient,
    start: datetime,
    now: datetime,
) -> Verdict:
    name = summary["EndpointName"]
    if summary["CreationTime"] > start:
        return Verdict(name, model, None, "kept: younger than the window")
    if summary["EndpointStatus"] != "InService":
        return Verdict(name, model, None, f"kept: {summary['EndpointStatus']}")
    total = _invocations(sagemaker, cloudwatch, name, start, now)
    return Verdict(name, model, total, "kept: invoked" if total > 0 else "swept")


def _endpoints(sagemaker: SageMakerClient, prefix: str) -> Iterator[tuple[dict[str, Any], str]]:
    """(summary, model name) of the endpoints named ``<prefix>-...`` and tagged with ``prefix``; one ListTags each.

    The model name is the one deploy_model was given: the endpoint's ``recommender:model`` tag, else its name's tail.
    """
    start = f"{prefix}-"
    for summary in translated(named(sagemaker, ENDPOINTS, start, MaxResults=100), "listing endpoints"):
        name = summary["EndpointName"]
        try:
            tags = tags_of(sagemaker, summary["EndpointArn"])
        except AWS_ERRORS as exc:
            raise upstream_error(exc, f"reading the tags of endpoint {name}") from None
        if owned(tags, prefix):
            yield summary, (tags or {}).get(resources.MODEL_TAG) or name.removeprefix(start)


def _invocations(
    sagemaker: SageMakerClient, cloudwatch: CloudWatchClient, endpoint: str, start: datetime, end: datetime
) -> float:
    """The endpoint's invocations over [start, end), every production variant summed."""
    described = describe_or_none(sagemaker.describe_endpoint, f"endpoint {endpoint}", EndpointName=endpoint) or {}
    variants = [v["VariantName"] for v in described.get("ProductionVariants", [])] or [resources.ENDPOINT_VARIANT]
    total = 0.0
    for variant in variants:
        try:
            answer = cloudwatch.get_metric_statistics(
                Namespace="AWS/SageMaker",
                MetricName="Invocations",
                Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
                StartTime=start,
                EndTime=end,
                Period=HOUR_S,
                Statistics=["Sum"],
            )
        except AWS_ERRORS as exc:
            raise upstream_error(exc, f"reading the invocations of endpoint {endpoint}", service="CloudWatch") from None
        total += sum(point["Sum"] for point in answer["Datapoints"])
    return total
