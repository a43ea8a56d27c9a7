"""``engine=spark``: the train function starts an EMR Serverless job run of the PySpark ALS job.

EMR Serverless StartJobRun (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html)
takes a ``clientToken`` -- "the client idempotency token of the job run to start" -- so a retried
batch sends the same token (the run's name, derived from Snowflake's batch id and the row as a training
job's is) and gets the same run, with no look-up first (local mode's moto honours the token likewise).
The job's entry point is ``spark_training/als_job.py``,
uploaded by the stack (``stacks/spark_training.py``); its ``--packages`` bring the Snowflake Spark
connector (https://docs.snowflake.com/en/user-guide/spark-connector-install). The job reads the key from
the Snowflake secret itself: arguments name the secret, never a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from external_functions.aws import AWS_ERRORS, upstream_error
from external_functions.settings import Environment, TrainingSettings
from pipeline_shared import InputError, resources, settings
from pipeline_shared.aws_errors import is_not_found
from pipeline_shared.training_options import BY_NAME, SPARK_DEFAULTS, as_hyperparameter

if TYPE_CHECKING:
    from external_functions.training import TrainingRequest

SWITCHED_OFF = (
    "option engine 'spark' needs the stack's Spark engine, which is off: set spark.enabled to true for this "
    "environment in cdk.json and redeploy (see docs/scaling.md)."
)
# job argument <- option (the job's own defaults are ALS's: SPARK_DEFAULTS)
ARGUMENTS = {
    "--top-k": "top_k",
    "--rank": "n_factors",
    "--max-iter": "n_epochs",
    "--reg-param": "reg_all",
    "--seed": "random_state",
    "--validation-fraction": "validation_fraction",
    "--rating-min": "rating_min",
    "--rating-max": "rating_max",
}


@dataclass(frozen=True)
class SparkSettings:
    """The stack's EMR Serverless application, job role, job script and connector packages."""

    application_id: str
    role_arn: str
    entry_point: str
    packages: str
    max_runtime_minutes: int

    @classmethod
    def from_env(cls, env: Environment) -> SparkSettings | None:
        """None where the stack has no Spark application (cdk.json ``spark.enabled`` false)."""
        application = env.get(settings.SPARK_APPLICATION_ID)
        if application is None:
            return None
        return cls(
            application_id=application,
            role_arn=env.required(settings.SPARK_JOB_ROLE_ARN),
            entry_point=env.required(settings.SPARK_ENTRY_POINT),
            packages=env.required(settings.SPARK_PACKAGES),
            max_runtime_minutes=env.get(settings.SPARK_MAX_RUNTIME_MINUTES),
        )


def job_run_request(
    name: str, request: TrainingRequest, training: TrainingSettings, spark: SparkSettings
) -> dict[str, Any]:
    """The StartJobRun request for one validated row (``engine=spark``)."""
    options = {**{key: as_hyperparameter(value) for key, value in SPARK_DEFAULTS.items()}, **request.options}
    arguments = ["--input-table", request.input_table.sql, "--output-table", request.output_table.sql]
    for flag, option in ARGUMENTS.items():
        arguments += [flag, options.get(option, as_hyperparameter(BY_NAME[option].default))]
    arguments += ["--model-version", name]
    snowflake = training.snowflake
    for key in ("account", "user", "role", "warehouse", "database", "schema", "secret_arn"):
        value = snowflake.get(f"snowflake_{key}")
        if value:
            arguments += [f"--snowflake-{key.replace('_', '-')}", value]
    if snowflake.get("aws_region"):
        arguments += ["--snowflake-region", snowflake["aws_region"]]
    return {
        "applicationId": spark.application_id,
        "clientToken": name,
        "executionRoleArn": spark.role_arn,
        "name": name,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": spark.entry_point,
                "entryPointArguments": arguments,
                "sparkSubmitParameters": f"--packages {spark.packages}",
            }
        },
        "executionTimeoutMinutes": spark.max_runtime_minutes,
        "tags": {tag["Key"]: tag["Value"] for tag in resources.tags(training.prefix)},
    }


def start(
    name: str, request: TrainingRequest, training: TrainingSettings, spark: SparkSettings, client: Any
) -> dict[str, Any]:
    """Start the job run named ``name``; a retry of the batch gets the run its first try started."""
    try:
        response = client.start_job_run(**job_run_request(name, request, training, spark))
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"starting Spark job run {name}", service="EMR Serverless") from None
    return {
        "engine": "spark",
        "job_run_name": name,
        "application_id": spark.application_id,
        "job_run_id": response["jobRunId"],
        "job_run_arn": response["arn"],
        "status": "SUBMITTED",  # StartJobRun answers no state: the run's own is read with GetJobRun
    }


# GetJobRun's states of a run not yet ended (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_JobRun.html)
UNFINISHED = frozenset({"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED"})


def stop(client: Any, application_id: str, prefix: str, job_run_id: str) -> dict[str, Any]:
    """Cancel a running job run of this pipeline (tagged ``recommender:pipeline=<prefix>``) on the stack's application.

    Raises :class:`InputError` for an unknown run, another pipeline's, or one that has ended.
    """
    try:
        run = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
    except AWS_ERRORS as exc:
        if isinstance(exc, ClientError) and is_not_found(exc):
            raise InputError(f"The Spark application has no job run with id '{job_run_id}'.") from None
        raise upstream_error(exc, f"looking up Spark job run {job_run_id}", service="EMR Serverless") from None
    if (run.get("tags") or {}).get(resources.PIPELINE_TAG) != prefix:
        raise InputError(
            f"Spark job run {job_run_id} belongs to another pipeline (no {resources.PIPELINE_TAG}={prefix} tag) "
            "and is left alone."
        )
    answer = {"job": job_run_id, "kind": "Spark job run", "name": run.get("name")}
    if run["state"] == "CANCELLING":
        return {**answer, "action": "already stopping", "status": "CANCELLING"}
    if run["state"] not in UNFINISHED:
        raise InputError(f"Spark job run {job_run_id} is {run['state']}: there is nothing to stop.")
    try:
        client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"cancelling Spark job run {job_run_id}", service="EMR Serverless") from None
    return {**answer, "action": "stopping", "status": "CANCELLING"}
