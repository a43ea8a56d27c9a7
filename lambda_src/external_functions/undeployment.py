"""``undeploy_model(model_name)``: take a model's endpoint down and delete what it ran on.

Deletes the endpoint ``<prefix>-<model>``, then every endpoint config and SageMaker model deploy_model made for
the model (named ``<prefix>-<model>-<12 hex>`` and tagged ``recommender:pipeline=<prefix>`` and
``recommender:model=<model>``), and records when and why (``deployment_records``) for ``pipeline_status``.

Refused, with nothing deleted: an endpoint, or the endpoint config or model it runs, without this pipeline's
tag; an endpoint that SageMaker is still creating or updating (DeleteEndpoint is refused then; call again
once it is InService). The configs and models go right after DeleteEndpoint: SageMaker asks not to delete
"an EndpointConfig in use by an endpoint that is live or while the UpdateEndpoint or CreateEndpoint
operations are being performed on the endpoint"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteEndpointConfig.html), and a
Deleting endpoint is neither. Every step is idempotent, so a retried batch (or a 503 that ran out of
time) continues where it stopped and answers 200; a model with nothing left answers ``absent``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from external_functions.aws import AWS_ERRORS, describe_or_none, translated, upstream_error
from external_functions.deployment_records import record_undeployed
from pipeline_shared import InputError, resources
from pipeline_shared.aws_errors import is_not_found
from pipeline_shared.pipeline_objects import named, owned, tags_of
from pipeline_shared.sagemaker_kinds import ENDPOINT_CONFIGS, MODELS, Kind

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass(frozen=True)
class Undeployed:
    """What an undeployment did."""

    model: str
    endpoint: str
    action: str  # "undeployed", or "absent" when nothing of the model was left
    status: str  # the endpoint's: "Deleting", or "NotDeployed"
    endpoint_configs: tuple[str, ...]
    models: tuple[str, ...]

    def answer(self) -> dict[str, Any]:
        message = (
            f"{self.endpoint} is being deleted with {len(self.endpoint_configs)} endpoint config(s) and "
            f"{len(self.models)} model(s); deploy_model('{self.model}', ...) deploys it again"
            if self.action == "undeployed"
            else f"nothing of model '{self.model}' is deployed"
        )
        return {
            "model": self.model,
            "endpoint_name": self.endpoint,
            "action": self.action,
            "status": self.status,
            "deleted_endpoint_configs": list(self.endpoint_configs),
            "deleted_models": list(self.models),
            "message": message,
        }


def undeploy(
    model: str, *, prefix: str, bucket: str, sagemaker: SageMakerClient, s3: S3Client, reason: str
) -> Undeployed:
    """Delete ``model``'s endpoint, endpoint configs and models (``model`` already validated, lower-case).

    Raises :class:`InputError` -- nothing deleted -- for an object without this pipeline's tag or a busy endpoint.
    """
    endpoint = resources.endpoint_name(prefix, model)
    current = describe_or_none(sagemaker.describe_endpoint, f"endpoint {endpoint}", EndpointName=endpoint)
    if current is not None:
        _check_endpoint(sagemaker, current, prefix, model)
    configs = [name for name, _ in _versions(sagemaker, ENDPOINT_CONFIGS, prefix, model)]
    models = [name for name, _ in _versions(sagemaker, MODELS, prefix, model)]
    if current is not None and current["EndpointStatus"] != "Deleting":
        _delete(sagemaker, "delete_endpoint", f"endpoint {endpoint}", EndpointName=endpoint)
    for name in configs:
        _delete(sagemaker, ENDPOINT_CONFIGS.delete_operation, f"endpoint config {name}", EndpointConfigName=name)
    for name in models:
        _delete(sagemaker, MODELS.delete_operation, f"model {name}", ModelName=name)
    if current is None and not configs and not models:
        return Undeployed(model, endpoint, "absent", "NotDeployed", (), ())
    record_undeployed(s3, bucket, prefix, model, endpoint=endpoint, reason=reason)
    return Undeployed(
        model,
        endpoint,
        "undeployed",
        "Deleting" if current is not None else "NotDeployed",
        tuple(configs),
        tuple(models),
    )


def _check_endpoint(sagemaker: SageMakerClient, endpoint: dict[str, Any], prefix: str, model: str) -> None:
    """Refuse another pipeline's endpoint, config or model, and an endpoint SageMaker is busy with."""
    name = endpoint["EndpointName"]
    if not _has_tags(sagemaker, endpoint["EndpointArn"], prefix):
        raise InputError(
            f"Endpoint {name} belongs to another pipeline (no {resources.PIPELINE_TAG}={prefix} tag) and is left "
            "alone: nothing was deleted."
        )
    if endpoint["EndpointStatus"] in resources.ENDPOINT_BUSY:
        raise InputError(
            f"Endpoint {name} is {endpoint['EndpointStatus']} and SageMaker cannot delete it yet: call "
            f"undeploy_model('{model}') again once pipeline_status('{model}') says InService."
        )
    # DescribeEndpoint may leave EndpointConfigName out (not required in SageMaker's API model): nothing to check then.
    config_name = endpoint.get("EndpointConfigName")
    if not config_name:
        return
    config = describe_or_none(
        sagemaker.describe_endpoint_config, f"endpoint config {config_name}", EndpointConfigName=config_name
    )
    if config is None:
        return
    if not _has_tags(sagemaker, config["EndpointConfigArn"], prefix):
        raise InputError(
            f"Endpoint config {config_name} of {name} belongs to another pipeline (no {resources.PIPELINE_TAG}="
            f"{prefix} tag): nothing was deleted; delete it by hand if it should go."
        )
    for variant in config.get("ProductionVariants", []):
        found = describe_or_none(
            sagemaker.describe_model, f"model {variant['ModelName']}", ModelName=variant["ModelName"]
        )
        if found is not None and not _has_tags(sagemaker, found["ModelArn"], prefix):
            raise InputError(
                f"Model {variant['ModelName']} behind {name} belongs to another pipeline (no "
                f"{resources.PIPELINE_TAG}={prefix} tag): nothing was deleted; delete it by hand if it should go."
            )


def _versions(sagemaker: SageMakerClient, kind: Kind, prefix: str, model: str) -> Iterator[tuple[str, str]]:
    """(name, ARN) of the model's configs or models: ``<prefix>-<model>-<12 hex>``, tagged with pipeline and model."""
    start = f"{resources.endpoint_name(prefix, model)}-"
    pattern = re.compile(rf"{re.escape(start)}[0-9a-f]{{{resources.VERSION_DIGITS}}}")
    listed = translated(named(sagemaker, kind, start, MaxResults=100), f"listing the {kind.noun}s of model {model}")
    for summary in listed:
        name, arn = summary[kind.name_key], summary[kind.arn_key]
        if pattern.fullmatch(name) and _has_tags(sagemaker, arn, prefix, model=model):
            yield name, arn


def _has_tags(sagemaker: SageMakerClient, arn: str, prefix: str, *, model: str | None = None) -> bool:
    """True when the object is tagged with this pipeline (and, if given, with ``model``); False if gone."""
    try:
        return owned(tags_of(sagemaker, arn), prefix, model=model)
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"reading the tags of {arn.rsplit('/', 1)[-1]}") from None


def _delete(sagemaker: SageMakerClient, operation: str, what: str, **name: str) -> None:
    """Delete one object; one already gone counts as deleted."""
    try:
        getattr(sagemaker, operation)(**name)
    except AWS_ERRORS as exc:
        if isinstance(exc, ClientError) and is_not_found(exc):
            return
        raise upstream_error(exc, f"deleting {what}") from None
