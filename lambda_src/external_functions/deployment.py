"""``deploy_model(model_name, model_ref[, options])``: put a trained model behind a SageMaker endpoint.

``model_ref`` is one of:

- ``'latest'``: the newest Completed training job of this pipeline **that wrote the same output table as the
  job the endpoint serves now** -- an experiment written to another table never replaces it. For a model
  not deployed yet, the newest Completed job of any table (the answer's ``output_table`` names it). An
  endpoint serving a model no job of this pipeline recorded (an s3:// URI) has no table to follow, and
  plain ``'latest'`` is refused: name the table.
- ``'latest:DB.SCHEMA.TABLE'``: the newest Completed job that wrote that table (the pipeline's identifier
  rules, compared as Snowflake resolves the name).
- a training job or tuning job (its best training job) of this pipeline, or an
  ``s3://<pipeline bucket>/<prefix>/models/...model.tar.gz`` URI.

``options`` ``{'min_ndcg_gain': g}`` turns the quality guard on: a model whose validation NDCG@10 is below the
served model's plus ``g`` is not deployed, and the row answers ``action: 'refused'`` with both figures in
its ``message`` (an answer, not an error: a scheduled redeploy keeps running and logs each refusal). The
figures are SageMaker's record of each job (``pipeline_jobs``); a model without one is refused under the
guard, and so is any model while the served one has none. Nothing served yet: a model with a figure passes.

Each deployment creates a versioned
SageMaker Model and EndpointConfig, then creates the endpoint or -- if it exists -- switches it
with ``UpdateEndpoint``, which keeps serving the old version until the new one is ready.
A version is named after what it serves (model, artifact, image, hosting settings): deploying
the same thing again -- a Snowflake retry, or a scheduled ``deploy_model(m, 'latest')`` with no
newer job -- converges to ``unchanged`` instead of rolling the endpoint.

An endpoint SageMaker could not bring up is never ``unchanged`` (DescribeEndpoint's EndpointStatus,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html):

- ``Failed``: "DeleteEndpoint is the only operation that can be performed on a failed endpoint", so it
  is deleted and the row answers ``recreating`` with the (redacted) FailureReason; the next call, once
  the endpoint is gone, creates it anew.
- ``UpdateRollbackFailed``: "Both the rolling deployment and auto-rollback failed. Your endpoint is in
  service with a mix of the old and new endpoint configurations", the remedy being on the Rolling
  Deployments page (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-rolling.html).
  Unlike a Failed endpoint it is in service and accepts ``UpdateEndpoint``, so the wanted config is
  deployed again, whatever config the endpoint names -- the one deployment that ends the mix.

The batch has a budget (``deadline``, before API Gateway's 29 s): no SageMaker or CloudWatch Logs call
starts unless it can end in time (see ``aws.Budgeted``), and the waits for a new endpoint config never
sleep past it. Out of time, the answer is 503; Snowflake retries and, versions being named after what
they serve, the retry continues where this call stopped.

An s3:// ``model_ref`` must lie under ``s3://<bucket>/<prefix>/models/``: the hosting role may only
``s3:GetObject`` there (the stack's ``models_prefix``), so SageMaker could not load anything else.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast

from botocore.exceptions import ClientError

from external_functions import aws, log_retention, pipeline_jobs
from external_functions.aws import AWS_ERRORS, Budgeted, describe_or_none, tagged_as_ours, upstream_error
from external_functions.errors import CallerError, UnavailableError
from external_functions.pipeline_jobs import describe as describe_training_job
from external_functions.settings import HostingSettings, models_uri
from pipeline_shared import resources
from pipeline_shared.aws_errors import error_message, is_not_found, redact
from pipeline_shared.catalogue import BY_PATH
from pipeline_shared.identifiers import InvalidIdentifierError, TableName

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ProductionVariantInstanceTypeType
    from mypy_boto3_sagemaker.type_defs import ProductionVariantTypeDef


FUNCTION = BY_PATH["deploy"].label
VARIANT = resources.ENDPOINT_VARIANT


@dataclass(frozen=True)
class Deployment:
    """One model to put live; ``row`` numbers it in errors (the SQL row, or 0 for the CLI's one request)."""

    row: int
    model: str
    reference: str
    min_ndcg_gain: float | None = None  # the quality guard (None: off)


@dataclass(frozen=True)
class ModelSource:
    model_data: str
    source: str  # what the reference resolved to, for the caller
    job: dict[str, Any] | None = None  # the training job that wrote it (None: an s3:// URI)


LATEST = "latest"
GUARD_OPTION = "min_ndcg_gain"
MAX_GAIN = 1.0  # NDCG@10 lies in [0, 1]
FIGURE_NOISE = 1e-9  # 0.305 >= 0.3 + 0.005 holds, whatever binary floats make of the sum


def parse_request(row: int, prefix: str, model: Any, reference: Any, options: Any = None) -> Deployment:
    """Validate one call's arguments: the model name, the model reference and the options."""
    name = resources.model_name(model, prefix, row=row)
    if not isinstance(reference, str) or not reference.strip():
        raise CallerError(
            row=row,
            message="model_ref must be 'latest', 'latest:DB.SCHEMA.TABLE', a training or tuning job name "
            "or an s3:// model.tar.gz URI.",
        )
    return Deployment(row, name, reference.strip(), _min_ndcg_gain(options, row))


def _min_ndcg_gain(options: Any, row: int) -> float | None:
    """The ``{'min_ndcg_gain': x}`` option (None: no guard); any other key or value is refused."""
    if options is None:
        return None
    if isinstance(options, str):  # an OBJECT can arrive as its JSON text
        try:
            options = json.loads(options)
        except json.JSONDecodeError:
            options = None
    if not isinstance(options, dict) or set(options) - {GUARD_OPTION}:
        raise CallerError(
            row=row,
            message=f"deploy_model's options must be an OBJECT with only '{GUARD_OPTION}', "
            f"e.g. {{'{GUARD_OPTION}': 0.0}}.",
        )
    gain = options.get(GUARD_OPTION)
    if gain is None:
        return None
    if isinstance(gain, bool) or not isinstance(gain, int | float) or not -MAX_GAIN <= gain <= MAX_GAIN:
        raise CallerError(
            row=row,
            message=f"option '{GUARD_OPTION}' must be a number from {-MAX_GAIN} to {MAX_GAIN} "
            "(the NDCG@10 a new model must add to the served one's).",
        )
    return float(gain)


def deploy(
    deployments: Sequence[Deployment],
    settings: HostingSettings,
    sagemaker: SageMakerClient,
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """Deploy each model in turn, within ``deadline`` (``time.monotonic()``; None: no budget).

    The requests are validated (:func:`parse_request`) before anything is created.
    """
    sagemaker, logs = Budgeted.around(sagemaker, deadline, FUNCTION), Budgeted.around(aws.logs(), deadline, FUNCTION)
    return [_deploy_one(d, settings, sagemaker, logs, deadline) for d in deployments]


def resolve(
    reference: str,
    settings: HostingSettings,
    sagemaker: SageMakerClient,
    *,
    row: int,
    model: str = "",
    served: pipeline_jobs.Served | None = None,
) -> ModelSource:
    """Turn a model reference into the S3 URI of its model.tar.gz.

    ``served``: what ``model``'s endpoint serves now (None: not deployed) -- plain ``'latest'`` follows the
    table its job wrote.
    """
    if reference.startswith("s3://"):
        where = models_uri(settings.bucket, settings.prefix)
        if not re.fullmatch(rf"{re.escape(where)}[\w!\-.*'()/=+]+\.tar\.gz", reference):
            raise CallerError(
                row=row,
                message=f"model_ref must be a model.tar.gz under {where} (the only place the pipeline's "
                "SageMaker hosting role may read): copy the model there or deploy its training job by name.",
            )
        return ModelSource(reference, reference)
    job: dict[str, Any] | None
    if reference.lower() == LATEST or reference.lower().startswith(f"{LATEST}:"):
        job = _latest(reference, settings, sagemaker, row=row, model=model, served=served)
        return _source(job)  # listed Completed and checked for this pipeline's tag already
    if resources.is_sagemaker_name(reference) and reference.startswith(resources.tuning_job_prefix(settings.prefix)):
        job = best_training_job(reference, sagemaker, row=row)
    else:
        if not resources.is_sagemaker_name(reference) or not reference.startswith(
            resources.training_job_prefix(settings.prefix)
        ):
            raise CallerError(
                row=row,
                message=f"model_ref is neither 'latest', 'latest:DB.SCHEMA.TABLE', an s3:// URI, a training job "
                f"({resources.training_job_prefix(settings.prefix)}...) nor a tuning job "
                f"({resources.tuning_job_prefix(settings.prefix)}...) of this pipeline.",
            )
        job = describe_training_job(sagemaker, reference)
        if job is None:
            raise CallerError(row=row, message=f"there is no training job named {reference}.")
    if not tagged_as_ours(sagemaker, job["TrainingJobArn"], settings.prefix, f"training job {job['TrainingJobName']}"):
        raise CallerError(
            row=row,
            message=f"training job {job['TrainingJobName']} belongs to another pipeline "
            f"(no {resources.PIPELINE_TAG}={settings.prefix} tag): deploy a job this environment trained.",
        )
    if job["TrainingJobStatus"] != "Completed":
        raise CallerError(
            row=row,
            message=f"training job {job['TrainingJobName']} is {job['TrainingJobStatus']}, not Completed: "
            "check pipeline_status for it.",
        )
    return _source(job)


def _source(job: dict[str, Any]) -> ModelSource:
    return ModelSource(job["ModelArtifacts"]["S3ModelArtifacts"], job["TrainingJobName"], job)


def _latest(
    reference: str,
    settings: HostingSettings,
    sagemaker: SageMakerClient,
    *,
    row: int,
    model: str,
    served: pipeline_jobs.Served | None,
) -> dict[str, Any]:
    """``'latest:T'``: the newest Completed job that wrote T. ``'latest'``: the newest that wrote the table of the
    job ``model`` serves now; for a model not deployed yet, the newest of any table."""
    _, colon, named = reference.partition(":")
    if colon:
        try:
            table: str | None = TableName.parse(named, what="table after 'latest:'").sql
        except InvalidIdentifierError as exc:
            raise CallerError(row=row, message=exc.message) from None
    elif served is None:
        table = None
    elif served.job is None or pipeline_jobs.output_table(served.job) is None:
        raise CallerError(
            row=row,
            message=f"model '{model}' serves a model no training job of this pipeline recorded a table for "
            f"({served.model_data or 'its model is gone'}), so 'latest' has no table to follow: "
            "deploy 'latest:DB.SCHEMA.TABLE' or a training job by name.",
        )
    else:
        table = pipeline_jobs.output_table(served.job)
    found = pipeline_jobs.newest_completed(sagemaker, settings.prefix, table=table)
    if found.job is not None:
        return found.job
    if table is None:
        raise CallerError(
            row=row,
            message="this pipeline has no completed training job yet: run "
            "train_and_get_recommendations first, or pass an s3:// model URI.",
        )
    among = "" if found.exhausted else f" among its {found.scanned} newest completed jobs"
    raise CallerError(
        row=row,
        message=f"no completed training job of this pipeline wrote {table}{among}: train one with "
        f"train_and_get_recommendations(..., '{table}') or deploy a training job by name.",
    )


def best_training_job(tuning_job: str, sagemaker: SageMakerClient, *, row: int) -> dict[str, Any]:
    """The training job a tuning job found best (DescribeHyperParameterTuningJob's BestTrainingJob)."""
    tuning = describe_or_none(
        sagemaker.describe_hyper_parameter_tuning_job,
        f"tuning job {tuning_job}",
        HyperParameterTuningJobName=tuning_job,
    )
    if tuning is None:
        raise CallerError(row=row, message=f"there is no tuning job named {tuning_job}.")
    best = tuning.get("BestTrainingJob")
    if not best:
        raise CallerError(
            row=row,
            message=f"tuning job {tuning_job} is {tuning['HyperParameterTuningJobStatus']} and has no best "
            "training job yet: deploy it once one of its training jobs has completed.",
        )
    job = describe_training_job(sagemaker, best["TrainingJobName"])
    if job is None:
        raise CallerError(row=row, message=f"the best training job of {tuning_job} no longer exists.")
    return job


def _deploy_one(
    deployment: Deployment,
    settings: HostingSettings,
    sagemaker: SageMakerClient,
    logs: CloudWatchLogsClient,
    deadline: float | None,
) -> dict[str, Any]:
    row = deployment.row
    endpoint = resources.endpoint_name(settings.prefix, deployment.model)
    current = _our_endpoint(sagemaker, endpoint, settings.prefix, row=row)
    plain_latest = deployment.reference.lower() == LATEST
    served = None
    if current is not None and (plain_latest or deployment.min_ndcg_gain is not None):
        served = pipeline_jobs.served(sagemaker, current, bucket=settings.bucket, prefix=settings.prefix)
    source = resolve(deployment.reference, settings, sagemaker, row=row, model=deployment.model, served=served)
    version = _version(deployment.model, source.model_data, settings)
    switching = current is None or current["EndpointConfigName"] != version
    if deployment.min_ndcg_gain is not None and switching:
        refusal = quality_refusal(source, served, deployment.min_ndcg_gain, endpoint=endpoint)
        if refusal is not None:
            return {**_described(endpoint, source), "action": "refused", "message": refusal}
    tags = resources.tags(settings.prefix, **{resources.MODEL_TAG: deployment.model})
    _ensure_model(version, source.model_data, settings, sagemaker, tags)
    _ensure_endpoint_config(version, settings, sagemaker, tags)
    action = _switch(sagemaker, endpoint, version, current, settings, tags, deadline, model=deployment.model, row=row)
    if action != "recreating":  # "unchanged" too: a retry after running out of time sets what it could not
        log_retention.keep_endpoint_logs(logs, endpoint, settings.log_retention_days)
    status = describe_endpoint(sagemaker, endpoint) or {}
    if action == "recreating" and current is not None:  # only an existing endpoint is deleted
        return _recreating(deployment.model, endpoint, current, status.get("EndpointStatus", "Deleting"))
    return {
        **_described(endpoint, source),
        "endpoint_config_name": version,
        "model_name": version,
        "action": action,
        "status": status.get("EndpointStatus", "Creating"),
        "previous_endpoint_config_name": None if current is None else current["EndpointConfigName"],
    }


def _described(endpoint: str, source: ModelSource) -> dict[str, Any]:
    """What every answer says of the model: the endpoint, the artifact, its job, the table and figure it has."""
    described: dict[str, Any] = {"endpoint_name": endpoint, "model_data": source.model_data, "source": source.source}
    if source.job is not None:
        described["output_table"] = pipeline_jobs.output_table(source.job)
        described["validation_ndcg_at_10"] = pipeline_jobs.metric(source.job)
    return {key: value for key, value in described.items() if value is not None}


def _version(model: str, model_data: str, settings: HostingSettings) -> str:
    """The Model and EndpointConfig name: derived from what they serve, so a retry converges."""
    hosting = (
        ("serverless", settings.memory_mb, settings.max_concurrency)
        if settings.serverless
        else ("realtime", settings.instance_type, settings.instance_count)
    )
    token = resources.idempotency_token(model, model_data, settings.image_uri, *hosting)
    return resources.versioned_name(settings.prefix, model, token)


def _our_endpoint(sagemaker: SageMakerClient, endpoint: str, prefix: str, *, row: int) -> dict[str, Any] | None:
    """DescribeEndpoint's answer (None: no such endpoint); another pipeline's endpoint is refused."""
    current = describe_endpoint(sagemaker, endpoint)
    if current is not None and not tagged_as_ours(sagemaker, current["EndpointArn"], prefix, endpoint):
        raise CallerError(
            row=row,
            message=f"endpoint {endpoint} belongs to another pipeline (no "
            f"{resources.PIPELINE_TAG}={prefix} tag) and is left alone: choose another model name.",
        )
    return current


def quality_refusal(
    source: ModelSource, served: pipeline_jobs.Served | None, gain: float, *, endpoint: str
) -> str | None:
    """Why the guard refuses ``source`` (one sentence), or None when its NDCG@10 is at least the served one's + gain."""
    what = f"training job {source.source}" if source.job is not None else source.source
    candidate = pipeline_jobs.metric(source.job) if source.job is not None else None
    if candidate is None:
        return (
            f"Refused by the quality guard: {what} has no recorded validation NDCG@10 (SageMaker's final metrics), "
            f"so it cannot be compared; {endpoint} is left as it is."
        )
    if served is None:
        return None  # nothing served yet: any model with a figure may go live
    if served.job is None or (baseline := pipeline_jobs.metric(served.job)) is None:
        return (
            f"Refused by the quality guard: {endpoint} serves a model without a recorded validation NDCG@10 "
            f"({served.model_data or 'unknown'}), so {what} (NDCG@10 {candidate:.4f}) cannot be compared; deploy it "
            "once without the guard."
        )
    if candidate < baseline + gain - FIGURE_NOISE:
        return (
            f"Refused by the quality guard: {what} has validation NDCG@10 {candidate:.4f}, below the served "
            f"model's {baseline:.4f} (training job {served.job['TrainingJobName']}) plus min_ndcg_gain {gain:g}; "
            f"{endpoint} keeps serving it."
        )
    return None


Step = Literal["create", "update", "recreate", "unchanged"]


def next_step(
    current: Mapping[str, Any] | None,
    version: str,
    *,
    serverless: bool,
    serves_serverless: Callable[[str], bool | None],
    endpoint: str,
    model: str,
    row: int,
) -> Step:
    """What the endpoint needs to serve config ``version``: ``create``, ``update``, ``recreate`` (delete, then a
    later deploy_model creates it) or ``unchanged``; raises :class:`CallerError` while SageMaker is busy with it.

    ``current``: DescribeEndpoint's answer (None: no endpoint); ``serverless``: the wanted endpoint type;
    ``serves_serverless(config)``: the type a config serves (None: config gone). The states SageMaker could not
    settle come first: their config may already be the wanted one.
    """
    if current is None:
        return "create"
    state = current["EndpointStatus"]
    if state == "Failed":
        return "recreate"  # DeleteEndpoint is the only operation a failed endpoint accepts
    if state == "Deleting":
        raise CallerError(
            row=row,
            message=f"endpoint {endpoint} is being deleted (undeployed, its endpoint type changed, or it had "
            f"failed); call deploy_model again once pipeline_status('{model}') says it is not deployed.",
        )
    if state == "UpdateRollbackFailed":
        return "update"  # in service with mixed configs: this restores it
    if current["EndpointConfigName"] == version:
        return "unchanged"  # a retry of a deployment that already went through
    if state in resources.ENDPOINT_BUSY:
        raise CallerError(
            row=row,
            message=f"endpoint {endpoint} is {state} from an earlier deployment; call deploy_model again "
            f"once pipeline_status('{model}') says InService.",
        )
    if serves_serverless(current["EndpointConfigName"]) not in (None, serverless):
        return "recreate"  # UpdateEndpoint cannot switch between instances and serverless
    return "update"


def _switch(
    sagemaker: SageMakerClient,
    endpoint: str,
    version: str,
    current: dict[str, Any] | None,
    settings: HostingSettings,
    tags: list[resources.Tag],
    deadline: float | None,
    *,
    model: str,
    row: int,
) -> str:
    """Take :func:`next_step` to point ``endpoint`` at config ``version``; returns the action taken."""
    step = next_step(
        current,
        version,
        serverless=settings.serverless,
        serves_serverless=lambda config: _is_serverless(sagemaker, config),
        endpoint=endpoint,
        model=model,
        row=row,
    )
    try:
        if step == "create":
            create = partial(sagemaker.create_endpoint, EndpointName=endpoint, EndpointConfigName=version, Tags=tags)
            when_config_visible(create, version, deadline)
            return "created"
        if step == "recreate":
            sagemaker.delete_endpoint(EndpointName=endpoint)
            return "recreating"
        if step == "update":
            update = partial(sagemaker.update_endpoint, EndpointName=endpoint, EndpointConfigName=version)
            when_config_visible(update, version, deadline)
            return "updated"
        return step  # unchanged
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"deploying endpoint {endpoint}") from None


def _recreating(model: str, endpoint: str, previous: dict[str, Any], status: str) -> dict[str, Any]:
    """The row for an endpoint being deleted so that the next deploy_model creates it anew."""
    again = (
        f"call deploy_model('{model}', ...) again once pipeline_status('{model}') no longer finds it, "
        "and it is created anew"
    )
    answer = {
        "endpoint_name": endpoint,
        "action": "recreating",
        "status": status,
        "previous_endpoint_config_name": previous["EndpointConfigName"],
    }
    if previous["EndpointStatus"] == "Failed":
        reason = redact(previous.get("FailureReason") or "SageMaker gave no reason")
        return {
            **answer,
            "failure_reason": reason,
            "message": f"endpoint {endpoint} had failed and a failed endpoint can only be deleted, so it is being "
            f"deleted; {again}",
        }
    return {
        **answer,
        "message": f"endpoint.type changed: {endpoint} cannot switch between real-time and serverless in place, so "
        f"it is being deleted; {again}",
    }


CONFIG_VISIBLE_WAITS_S = (0.5, 1.0, 2.0)  # within the Lambda's 28 s, far below it


def when_config_visible(
    call: Callable[[], object],
    config: str,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """``call`` (CreateEndpoint/UpdateEndpoint), retried while SageMaker cannot see ``config`` yet.

    SageMaker reads endpoint configs eventually consistently and recommends retrying; a wait is only
    taken if one more call still fits before ``deadline`` after it (``clock``'s time). If the config
    stays invisible, Snowflake retries the batch (503) and the deployment, named after what it
    serves, converges.
    """
    for wait in (*CONFIG_VISIBLE_WAITS_S, None):
        try:
            call()
            return
        except ClientError as exc:
            if not (is_not_found(exc) and "endpoint config" in error_message(exc).lower()):
                raise
            if wait is None or (deadline is not None and clock() + wait + aws.CALL_BOUND_S > deadline):
                raise UnavailableError(f"SageMaker does not see endpoint config {config} yet") from None
            sleep(wait)


def _is_serverless(sagemaker: SageMakerClient, config: str) -> bool | None:
    found = describe_or_none(sagemaker.describe_endpoint_config, f"endpoint config {config}", EndpointConfigName=config)
    return None if found is None else any(v.get("ServerlessConfig") for v in found.get("ProductionVariants", []))


def _ensure_model(
    name: str, model_data: str, settings: HostingSettings, sagemaker: SageMakerClient, tags: list[resources.Tag]
) -> None:
    if describe_or_none(sagemaker.describe_model, f"model {name}", ModelName=name) is not None:
        return
    try:
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"Image": settings.image_uri, "ModelDataUrl": model_data},
            ExecutionRoleArn=settings.role_arn,
            Tags=tags,
        )
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"creating model {name}") from None


def _ensure_endpoint_config(
    name: str, settings: HostingSettings, sagemaker: SageMakerClient, tags: list[resources.Tag]
) -> None:
    if describe_or_none(sagemaker.describe_endpoint_config, f"endpoint config {name}", EndpointConfigName=name):
        return
    variant: ProductionVariantTypeDef = {"VariantName": VARIANT, "ModelName": name}
    if settings.serverless:
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": settings.memory_mb,
            "MaxConcurrency": settings.max_concurrency,
        }
    else:
        # checked by the instance-type rule (pipeline_shared.settings); a type newer than the stubs still passes
        variant["InstanceType"] = cast("ProductionVariantInstanceTypeType", settings.instance_type)
        variant["InitialInstanceCount"] = settings.instance_count
        variant["InitialVariantWeight"] = 1.0
    try:
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], Tags=tags)
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"creating endpoint config {name}") from None


def describe_endpoint(sagemaker: SageMakerClient, endpoint: str) -> dict[str, Any] | None:
    return describe_or_none(sagemaker.describe_endpoint, f"endpoint {endpoint}", EndpointName=endpoint)
