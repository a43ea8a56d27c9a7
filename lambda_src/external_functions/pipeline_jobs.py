"""This pipeline's training jobs as deploy_model needs them -- the newest Completed one (of a table), the one an
endpoint serves -- and stopping one (``recommender stop``).

A job is this pipeline's when it is named ``<prefix>-train-...`` or ``<prefix>-tune-...`` and tagged
``recommender:pipeline=<prefix>``. The table a job wrote is its ``output_table`` hyperparameter (the train
function records it in Snowflake's resolved form, ``TableName.sql``). Its figures are SageMaker's record:
DescribeTrainingJob's ``FinalMetricDataList``, "a list of final metric values that are set when the training
job completes. Used only if the training job was configured to use metrics"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html) -- the train
function declares the image's ``validation:...`` lines as the job's MetricDefinitions.

Which job an endpoint serves is read from SageMaker too: its endpoint config's model, that model's
``ModelDataUrl``, and the job whose ``ModelArtifacts.S3ModelArtifacts`` is exactly that URL. The job's name is
taken from the URL (jobs write ``<S3OutputPath><job>/output/model.tar.gz``) and then checked against the job's
own record, so a model copied by hand under ``<prefix>/models/`` is never mistaken for a job's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from external_functions.aws import AWS_ERRORS, describe_or_none, tagged_as_ours, translated, upstream_error
from external_functions.settings import models_uri
from pipeline_shared import InputError, pipeline_objects, resources
from pipeline_shared.sagemaker_kinds import TRAINING_JOBS, TUNING_JOBS
from pipeline_shared.training_options import NDCG_AT_10

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_sagemaker import SageMakerClient


MAX_SCANNED = 50  # Completed jobs described, newest first, when looking for the newest one of a table
PAGE = 100  # ListTrainingJobs' largest page


def describe(sagemaker: SageMakerClient, job: str) -> dict[str, Any] | None:
    """DescribeTrainingJob's answer, or None when there is no such job."""
    return describe_or_none(sagemaker.describe_training_job, f"training job {job}", TrainingJobName=job)


def output_table(job: dict[str, Any]) -> str | None:
    """The table the job wrote (its ``output_table`` hyperparameter), as Snowflake resolves it."""
    return job.get("HyperParameters", {}).get("output_table")


def metric(job: dict[str, Any], name: str = NDCG_AT_10) -> float | None:
    """The final value SageMaker recorded for ``name``, or None when the job reported none."""
    for data in job.get("FinalMetricDataList") or []:
        if data.get("MetricName") == name:
            return float(data["Value"])
    return None


def completed_newest_first(sagemaker: SageMakerClient, prefix: str) -> Iterator[dict[str, Any]]:
    """Summaries of the Completed training jobs named like this pipeline's, newest first (tags not yet checked)."""
    listed = pipeline_objects.named(
        sagemaker, TRAINING_JOBS, resources.training_job_prefix(prefix),
        StatusEquals="Completed", SortBy="CreationTime", SortOrder="Descending", MaxResults=PAGE,
    )  # fmt: skip
    return translated(listed, "listing training jobs")


@dataclass(frozen=True)
class Search:
    """The newest Completed job of this pipeline (that wrote ``table``), or None, and how many jobs were read."""

    job: dict[str, Any] | None
    scanned: int
    exhausted: bool  # every Completed job was read (False: stopped after MAX_SCANNED)


def newest_completed(sagemaker: SageMakerClient, prefix: str, *, table: str | None = None) -> Search:
    """The newest Completed training job of this pipeline, or the newest that wrote ``table`` (Snowflake's form).

    Reads at most :data:`MAX_SCANNED` jobs' descriptions: a batch has API Gateway's 29 s.
    """
    scanned = 0
    for summary in completed_newest_first(sagemaker, prefix):
        if scanned == MAX_SCANNED:
            return Search(None, scanned, exhausted=False)
        name = summary["TrainingJobName"]
        scanned += 1
        job = describe(sagemaker, name)
        if job is None or (table is not None and output_table(job) != table):
            continue
        if tagged_as_ours(sagemaker, job["TrainingJobArn"], prefix, f"training job {name}"):
            return Search(job, scanned, exhausted=True)
    return Search(None, scanned, exhausted=True)


@dataclass(frozen=True)
class Served:
    """What an endpoint of this pipeline serves now."""

    model_data: str | None  # the model.tar.gz its config's model loads (None: config or model gone)
    job: dict[str, Any] | None  # the Completed training job of this pipeline that wrote it, when one did


def served(sagemaker: SageMakerClient, endpoint: dict[str, Any], *, bucket: str, prefix: str) -> Served:
    """What ``endpoint`` (DescribeEndpoint's answer) serves, and which of this pipeline's jobs trained it."""
    config = describe_or_none(
        sagemaker.describe_endpoint_config,
        f"endpoint config {endpoint['EndpointConfigName']}",
        EndpointConfigName=endpoint["EndpointConfigName"],
    )
    variants = (config or {}).get("ProductionVariants") or [{}]
    model_name = variants[0].get("ModelName")
    model = (
        describe_or_none(sagemaker.describe_model, f"model {model_name}", ModelName=model_name) if model_name else None
    )
    model_data = (model or {}).get("PrimaryContainer", {}).get("ModelDataUrl")
    return Served(model_data, _job_of(sagemaker, model_data, bucket=bucket, prefix=prefix))


def _job_of(sagemaker: SageMakerClient, model_data: str | None, *, bucket: str, prefix: str) -> dict[str, Any] | None:
    where = models_uri(bucket, prefix)
    if not model_data or not model_data.startswith(where):
        return None
    name = model_data.removeprefix(where).split("/", 1)[0]
    ours = name.startswith((resources.training_job_prefix(prefix), resources.tuning_job_prefix(prefix)))
    if not (ours and resources.is_sagemaker_name(name)):
        return None
    job = describe(sagemaker, name)
    if job is None or job.get("ModelArtifacts", {}).get("S3ModelArtifacts") != model_data:
        return None
    if not tagged_as_ours(sagemaker, job["TrainingJobArn"], prefix, f"training job {name}"):
        return None
    return job


def stop(sagemaker: SageMakerClient, prefix: str, name: str) -> dict[str, Any]:
    """Stop a running training or tuning job of this pipeline (a tuning job stops the training jobs it started).

    Raises :class:`InputError` for a name that is not this pipeline's job, a job of another pipeline, or one
    that is no longer running; a job already stopping is answered as it is.
    """
    if name.startswith(resources.tuning_job_prefix(prefix)):
        kind = TUNING_JOBS
    elif name.startswith(resources.training_job_prefix(prefix)):
        kind = TRAINING_JOBS
    else:
        raise InputError(
            f"'{name}' is not a training or tuning job of this pipeline (they start with "
            f"{resources.training_job_prefix(prefix)} or {resources.tuning_job_prefix(prefix)}): nothing was stopped."
        )
    job = None
    if resources.is_sagemaker_name(name):
        describe_job = getattr(sagemaker, kind.describe_operation)
        job = describe_or_none(describe_job, f"{kind.what} {name}", **{kind.name_key: name})
    if job is None:
        raise InputError(f"This pipeline has no {kind.what} named '{name}'.")
    if not tagged_as_ours(sagemaker, job[kind.arn_key], prefix, f"{kind.what} {name}"):
        raise InputError(
            f"{kind.what.capitalize()} {name} belongs to another pipeline (no {resources.PIPELINE_TAG}={prefix} tag) "
            "and is left alone."
        )
    state = job[kind.status_key]
    if state == "Stopping":
        return {"job": name, "kind": kind.what, "action": "already stopping", "status": state}
    if state != "InProgress":
        raise InputError(f"{kind.what.capitalize()} {name} is {state}: there is nothing to stop.")
    try:
        getattr(sagemaker, kind.stop_operation)(**{kind.name_key: name})
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"stopping {kind.what} {name}") from None
    return {"job": name, "kind": kind.what, "action": "stopping", "status": "Stopping"}
