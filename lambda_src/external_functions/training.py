"""``train_and_get_recommendations(input_table, output_table[, options])``: start a training job.

Idempotent: the job name derives from Snowflake's batch id and the row number, so a retried
batch returns the job it already started instead of launching another.

One writer per output table: while a job of this pipeline that writes the same table is
running, the call answers with that job (``"note"`` says so) instead of starting a second one;
rows of one batch naming one table share one job. Two calls racing within the same second can
still both start a job: their writes then run one after the other (Snowflake's table lock on
the swap), and the table holds the later job's lists whole.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from external_functions import aws, log_retention, spark
from external_functions.aws import AWS_ERRORS, upstream_error
from external_functions.errors import CallerError
from external_functions.pipeline_jobs import describe
from external_functions.settings import TrainingSettings, models_uri
from external_functions.spark import SparkSettings
from pipeline_shared import pipeline_objects, resources
from pipeline_shared.aws_errors import error_code
from pipeline_shared.catalogue import BY_PATH
from pipeline_shared.identifiers import InvalidIdentifierError, TableName
from pipeline_shared.logs import count
from pipeline_shared.sagemaker_kinds import TRAINING_JOBS
from pipeline_shared.training_options import (
    BY_NAME,
    METRIC_NAMES,
    OPTION_NAMES,
    OptionError,
    as_hyperparameter,
    check_together,
    parse_option,
)

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_sagemaker import SageMakerClient


FUNCTION = BY_PATH["train"].label
RECORDED = ("algorithm", "ranking")  # the rating model and the ranker: always in a job's hyperparameters
METRICS = [{"Name": name, "Regex": rf"{name}=([0-9.eE+-]+)"} for name in METRIC_NAMES]


@dataclass(frozen=True)
class TrainingRequest:
    """One training to start; ``row`` numbers it in errors (the SQL row, or 0 for the CLI's one request)."""

    row: int
    input_table: TableName
    output_table: TableName
    options: dict[str, str]


def parse_request(row: int, input_table: Any, output_table: Any, options: Any = None) -> TrainingRequest:
    """Validate one call's arguments; identifiers are checked, options restricted to model settings."""
    tables = []
    for value, what in ((input_table, "input table"), (output_table, "output table")):
        try:
            tables.append(TableName.parse(value, what=what))
        except InvalidIdentifierError as exc:
            raise CallerError(row=row, message=exc.message) from None
    return TrainingRequest(row, tables[0], tables[1], _options(options, row))


def _options(value: Any, row: int) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):  # an OBJECT can arrive as its JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, dict):
        raise CallerError(row=row, message="options must be an OBJECT such as {'n_epochs': 30, 'top_k': 20}.")
    unknown = sorted(str(k) for k in value if k not in OPTION_NAMES)
    if unknown:
        # name the key only when it looks like one: never echo arbitrary caller text
        named = f" '{unknown[0]}'" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,39}", unknown[0]) else ""
        raise CallerError(row=row, message=f"unknown option{named}; allowed are {', '.join(OPTION_NAMES)}.")
    parsed = {}
    for key, raw in value.items():
        try:
            parsed[key] = parse_option(key, raw)
        except OptionError as exc:  # the image's own rule: a value it would refuse never starts a job
            raise CallerError(row=row, message=f"option '{key}' {exc}.") from None
    try:
        check_together(parsed)
    except OptionError as exc:
        raise CallerError(row=row, message=f"{exc}.") from None
    return {key: as_hyperparameter(option) for key, option in parsed.items()}


def start(
    requests: Sequence[TrainingRequest],
    settings: TrainingSettings,
    sagemaker: SageMakerClient,
    spark_settings: SparkSettings | None = None,
    emr_serverless: Callable[[], Any] = aws.emr_serverless,
    *,
    retry_key: str | None,
) -> list[dict[str, Any]]:
    """Start (or find, on a retry) one training job per request; every request is checked first.

    ``retry_key`` names the call across retries (Snowflake's batch id): a request repeated with the same key
    gets the job it started. None: every call starts new jobs (the operator CLI).
    Requests with ``engine=spark`` start an EMR Serverless job run instead (:mod:`external_functions.spark`),
    refused where the stack has no Spark application (``spark_settings`` None: cdk.json's spark switch off).
    """
    if len(requests) > settings.max_jobs_per_batch:
        # Each row starts a billed job: a statement over a whole table must not start thousands.
        raise CallerError(
            f"{FUNCTION} starts a billed training job per row and takes at most {settings.max_jobs_per_batch} "
            f"rows per call, got {len(requests)}: call it once per training, e.g. "
            "select train_and_get_recommendations('DB.SCHEMA.RATINGS', 'DB.SCHEMA.RECS')."
        )
    for request in requests:  # every row checked before any job starts
        if request.options.get("engine") == "spark" and spark_settings is None:
            raise CallerError(row=request.row, message=spark.SWITCHED_OFF)
    key = retry_key or uuid.uuid4().hex
    # One writer per output table: rows naming a table already started in this batch get that job.
    started: dict[str, dict[str, Any]] = {}
    running: dict[str, dict[str, Any]] | None = None  # listed once per batch, when first needed
    answers = []
    for request in requests:
        table = request.output_table.sql
        if table not in started:
            job = resources.training_job_name(settings.prefix, resources.idempotency_token(key, request.row))
            existing = describe(sagemaker, job)  # a retried batch gets the job it started
            if existing is not None:
                started[table] = _summary(existing)
            else:
                running = running if running is not None else running_jobs_by_table(sagemaker, settings.prefix)
                if table in running:
                    started[table] = {
                        **running[table],
                        "note": f"a job writing {table} is already running; "
                        "this call returned it instead of starting another",
                    }
                elif request.options.get("engine") == "spark":
                    assert spark_settings is not None  # checked above
                    started[table] = spark.start(job, request, settings, spark_settings, emr_serverless())
                else:
                    started[table] = _start_one(job, request, settings, sagemaker)
        answers.append(started[table])
    return answers


def running_jobs_by_table(sagemaker: SageMakerClient, prefix: str) -> dict[str, dict[str, Any]]:
    """This pipeline's InProgress training jobs by the output table they write (the newest for each table)."""
    found: dict[str, dict[str, Any]] = {}
    start = resources.training_job_prefix(prefix)
    listed = pipeline_objects.named(sagemaker, TRAINING_JOBS, start, StatusEquals="InProgress", SortBy="CreationTime")
    for summary in aws.translated(listed, "listing running training jobs"):
        job = describe(sagemaker, summary["TrainingJobName"])
        if job is not None and job["TrainingJobStatus"] == "InProgress":
            table = job.get("HyperParameters", {}).get("output_table")
            if table:
                found[table] = _summary(job)
    return found


def training_job_request(job: str, request: TrainingRequest, settings: TrainingSettings) -> dict[str, Any]:
    """The CreateTrainingJob request for one validated row: the one builder the Lambda and the operator CLI share."""
    hyperparameters = {
        **settings.snowflake,
        "input_table": request.input_table.sql,
        "output_table": request.output_table.sql,
        # Named even when defaulted: pipeline_status reports what produced a table, whatever the defaults become.
        **{name: as_hyperparameter(BY_NAME[name].default) for name in RECORDED},
        **{key: value for key, value in request.options.items() if key != "engine"},  # the image is the engine
    }
    return {
        "TrainingJobName": job,
        "AlgorithmSpecification": {
            "TrainingImage": settings.image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "RoleArn": settings.role_arn,
        "HyperParameters": hyperparameters,
        "OutputDataConfig": {"S3OutputPath": models_uri(settings.bucket, settings.prefix)},
        "ResourceConfig": {
            "InstanceType": settings.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": settings.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_s},
        "Tags": resources.tags(settings.prefix),
    }


def _start_one(
    job: str, request: TrainingRequest, settings: TrainingSettings, sagemaker: SageMakerClient
) -> dict[str, Any]:
    try:
        response = sagemaker.create_training_job(**training_job_request(job, request, settings))
    except AWS_ERRORS as exc:
        if isinstance(exc, ClientError) and error_code(exc) == "ResourceInUse":  # a concurrent retry won the race
            found = describe(sagemaker, job)
            if found is not None:
                return _summary(found)
        raise upstream_error(exc, f"starting training job {job}") from None
    _keep_training_logs(settings.log_retention_days)
    count(settings.prefix, FUNCTION, **{resources.JOBS_STARTED: 1})
    return {"training_job_name": job, "training_job_arn": response["TrainingJobArn"], "status": "InProgress"}


@cache
def _keep_training_logs(days: int) -> None:
    """Once per Lambda container: the shared training log group rarely appears, never between two jobs."""
    log_retention.keep_training_logs(aws.logs(), days)


def _summary(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "training_job_name": job["TrainingJobName"],
        "training_job_arn": job["TrainingJobArn"],
        "status": job["TrainingJobStatus"],
    }
