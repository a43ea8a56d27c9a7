"""``pipeline_status(name)``: a training job or endpoint of this pipeline, described for SQL users.

``name`` is a training job name (``<prefix>-train-...``), a model name as given to
``deploy_model``, or a full endpoint name. The answer is an OBJECT with the status, the
failure reason, metrics and the model artifact, so nobody needs the SageMaker console. A
recommendations table names the job that wrote it in its MODEL_VERSION column; that job's status
says which ``algorithm`` (rating model) and ``ranking`` (ranker) produced the lists. The
failure reason is SageMaker's text, which may name ARNs, account ids and roles: SQL callers get it
redacted (``aws_errors.redact``); the operator CLI, run with AWS credentials, gets it whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from external_functions.aws import AWS_ERRORS, upstream_error
from external_functions.deployment import describe_endpoint
from external_functions.errors import CallerError
from external_functions.pipeline_jobs import describe as describe_training_job
from pipeline_shared import resources
from pipeline_shared.aws_errors import is_not_found, redact

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_sagemaker import SageMakerClient


Undeployed = Callable[[str], dict[str, Any] | None]  # a model's undeployment record (deployment_records), or None


def name_request(row: int, name: Any) -> str | None:
    """One call's name, checked (None for NULL: SQL's answer is then NULL too)."""
    if name is not None and (not isinstance(name, str) or not resources.is_sagemaker_name(name)):
        raise CallerError(row=row, message="name must be a training job, model or endpoint name.")
    return name


def statuses(
    names: Sequence[tuple[int, str | None]],
    prefix: str,
    sagemaker: SageMakerClient,
    *,
    undeployed: Undeployed = lambda model: None,
) -> list[dict[str, Any] | None]:
    """One status OBJECT per (row, name) (None for None), as SQL callers may see it: AWS's texts redacted."""
    results: list[dict[str, Any] | None] = []
    for row, name in names:
        if name is None:
            results.append(None)
            continue
        found = describe(name, prefix, sagemaker, row=row, undeployed=undeployed)
        if "failure_reason" in found:
            found["failure_reason"] = redact(found["failure_reason"])
        results.append(found)
    return results


def describe(
    name: str, prefix: str, sagemaker: SageMakerClient, *, row: int, undeployed: Undeployed = lambda model: None
) -> dict[str, Any]:
    """A training job, endpoint or model of this pipeline; a model taken down says when and why (``undeployed``)."""
    if name.startswith(resources.training_job_prefix(prefix)):
        job = describe_training_job(sagemaker, name)
        if job is not None:
            return training_job_status(job)
    found = None
    # A model name first (deploy_model's name), then a full endpoint name of this pipeline.
    for endpoint in (resources.endpoint_name(prefix, name.lower()), name.lower()):
        if endpoint.startswith(f"{prefix}-") and resources.is_sagemaker_name(endpoint):
            found = describe_endpoint(sagemaker, endpoint)
            if found is not None:
                break
    if found is None:
        record = undeployed(name.lower()) if resources.is_sagemaker_name(name) else None
        if record is not None:
            return not_deployed(name.lower(), record)
        raise CallerError(row=row, message=f"this pipeline has no training job or deployed model named '{name}'.")
    return endpoint_status(found, sagemaker)


def not_deployed(model: str, record: dict[str, Any]) -> dict[str, Any]:
    """A model whose endpoint was taken down: when, and why (undeploy_model, the CLI, or the idle sweep)."""
    return _clean(
        {
            "kind": "model",
            "name": model,
            "status": "NotDeployed",
            "endpoint_name": record.get("endpoint"),
            "undeployed_at": record.get("undeployed_at"),
            "reason": record.get("reason"),
            "message": f"model '{model}' is not deployed: deploy_model('{model}', 'latest') deploys it again",
        }
    )


def training_job_status(job: Mapping[str, Any]) -> dict[str, Any]:
    hyperparameters = job.get("HyperParameters", {})
    return _clean(
        {
            "kind": "training_job",
            "name": job["TrainingJobName"],
            "status": job["TrainingJobStatus"],
            "secondary_status": job.get("SecondaryStatus"),
            "failure_reason": job.get("FailureReason"),
            "metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
            "model_artifact": job.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
            "input_table": hyperparameters.get("input_table"),
            "output_table": hyperparameters.get("output_table"),
            "algorithm": hyperparameters.get("algorithm"),  # the rating model (absent: a job before it was recorded)
            "ranking": hyperparameters.get("ranking"),  # how its lists were ranked
            "created": job.get("CreationTime"),
            "ended": job.get("TrainingEndTime"),
        }
    )


def endpoint_status(endpoint: dict[str, Any], sagemaker: SageMakerClient) -> dict[str, Any]:
    # DescribeEndpoint may leave EndpointConfigName out (not required in SageMaker's API model): no model to name then.
    config_name = endpoint.get("EndpointConfigName")
    model_data = None
    try:
        if config_name:
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            model_name = config["ProductionVariants"][0]["ModelName"]
            model_data = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"].get("ModelDataUrl")
    except AWS_ERRORS as exc:
        if not (isinstance(exc, ClientError) and is_not_found(exc)):
            raise upstream_error(exc, f"describing endpoint {endpoint['EndpointName']}") from None
    return _clean(
        {
            "kind": "endpoint",
            "name": endpoint["EndpointName"],
            "status": endpoint["EndpointStatus"],
            "failure_reason": endpoint.get("FailureReason"),
            "endpoint_config": config_name,
            "model_data": model_data,
            "created": endpoint.get("CreationTime"),
            "modified": endpoint.get("LastModifiedTime"),
        }
    )


def _clean(document: dict[str, Any]) -> dict[str, Any]:
    """Drop empty fields and render datetimes as ISO 8601 text."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in document.items()
        if value is not None
    }
