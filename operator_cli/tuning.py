"""``recommender tune``: SageMaker Automatic Model Tuning over the model's hyperparameters, with the SDK's tuner.

The training definition is the train function's own request (:func:`training_job_request`):
the same image, role, output path, instance, limits, Snowflake settings, tables and metric
definitions; the tuned hyperparameters are left out of the static ones. The objective is one
of the metrics the image prints. A dry run stops the SDK's CreateHyperParameterTuningJob call
at botocore's ``provide-client-params`` event and prints the request instead: nothing is created.
Runs in .venv-operator (:mod:`operator_cli.sdk`).

``status`` and ``logs`` take a tuning job too (:func:`describe`, :func:`follow`): its status, its
training jobs counted by status, and the best training job with its objective value
(DescribeHyperParameterTuningJob, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHyperParameterTuningJob.html).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

import boto3

from external_functions.aws import describe_or_none
from external_functions.settings import TrainingSettings
from external_functions.training import METRICS, TrainingRequest, training_job_request
from operator_cli import sdk
from pipeline_shared import InputError, resources
from pipeline_shared.training_options import ALGORITHM_OPTIONS, ALGORITHMS, NDCG_AT_10, RMSE

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_sagemaker import SageMakerClient


OBJECTIVES = {NDCG_AT_10: "Maximize", RMSE: "Minimize"}
MAX_NAME = 32  # SageMaker's limit for tuning job names
ENDED = ("Completed", "Failed", "Stopped", "DeleteFailed")


@dataclass(frozen=True)
class Range:
    kind: str  # Integer | Continuous
    low: float
    high: float
    scaling: str = "Auto"


RANGES = {
    "n_factors": Range("Integer", 20, 200),
    "n_epochs": Range("Integer", 10, 80),
    "lr_all": Range("Continuous", 0.002, 0.05, "Logarithmic"),
    "reg_all": Range("Continuous", 0.01, 0.3, "Logarithmic"),
    "ranking_regularization": Range("Continuous", 30.0, 3000.0, "Logarithmic"),
}


class DryRun(Exception):  # noqa: N818 -- not an error: the request, caught before it is sent
    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__("dry run")
        self.request = request


def tuning_job_name(prefix: str, token: str) -> str:
    start = resources.tuning_job_prefix(prefix)
    return f"{start}{token[: MAX_NAME - len(start)]}"


def tune(
    request: TrainingRequest,
    settings: TrainingSettings,
    *,
    name: str,
    objective: str,
    max_jobs: int,
    parallel: int,
    dry_run: bool,
) -> dict[str, Any]:
    """Start the tuning job (or, with ``dry_run``, return its CreateHyperParameterTuningJob request)."""
    if objective not in OBJECTIVES:
        raise InputError(f"--objective must be one of {', '.join(OBJECTIVES)}, got '{objective}'.")
    if not 1 <= parallel <= max_jobs <= 500:
        raise InputError(
            f"--max-jobs ({max_jobs}) must be 1 to 500 and at least --parallel ({parallel}), which is 1 or more."
        )
    base = training_job_request(name, request, settings)
    # only what the chosen algorithm takes: the image refuses an option its algorithm does not take
    takes = ALGORITHMS[request.options.get("algorithm", "svd")]
    tuned = [key for key in RANGES if key not in request.options and (key not in ALGORITHM_OPTIONS or key in takes)]
    if not tuned:
        raise InputError("Every tunable hyperparameter is fixed by an --option: leave at least one to tune.")
    sdk.quiet()
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.training.configs import Compute, OutputDataConfig, StoppingCondition
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    boto = boto3.Session()
    if dry_run:
        boto.events.register("provide-client-params.sagemaker.CreateHyperParameterTuningJob", _stop_and_show)
    session = Session(boto_session=boto, default_bucket=settings.bucket)
    static = {key: value for key, value in base["HyperParameters"].items() if key not in tuned}
    trainer = ModelTrainer(
        sagemaker_session=session,
        training_image=base["AlgorithmSpecification"]["TrainingImage"],
        role=base["RoleArn"],
        hyperparameters=static,
        compute=Compute(
            instance_type=base["ResourceConfig"]["InstanceType"],
            instance_count=base["ResourceConfig"]["InstanceCount"],
            volume_size_in_gb=base["ResourceConfig"]["VolumeSizeInGB"],
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=base["StoppingCondition"]["MaxRuntimeInSeconds"]),
        output_data_config=OutputDataConfig(s3_output_path=base["OutputDataConfig"]["S3OutputPath"]),
        base_job_name=name,
    )
    kinds = {"Integer": IntegerParameter, "Continuous": ContinuousParameter}
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name=objective,
        objective_type=OBJECTIVES[objective],
        hyperparameter_ranges={
            key: kinds[RANGES[key].kind](RANGES[key].low, RANGES[key].high, scaling_type=RANGES[key].scaling)
            for key in tuned
        },
        metric_definitions=METRICS,
        strategy="Bayesian",
        max_jobs=max_jobs,
        max_parallel_jobs=parallel,
        tags=base["Tags"],  # SageMaker adds the tuning job's tags to every training job it starts
    )
    try:
        tuner.tune(job_name=name, wait=False)
    except DryRun as stopped:
        return stopped.request
    job = tuner.latest_tuning_job
    return {
        "tuning_job_name": name,
        "status": job.hyper_parameter_tuning_job_status,
        "objective": f"{OBJECTIVES[objective]} {objective}",
        "tuned": ", ".join(tuned),
        "max_jobs": max_jobs,
        "parallel": parallel,
    }


def _stop_and_show(params: dict[str, Any], **_: Any) -> None:
    raise DryRun(dict(params))


def is_tuning_job(name: str, prefix: str) -> bool:
    return name.startswith(resources.tuning_job_prefix(prefix))


def describe(name: str, sagemaker: SageMakerClient) -> dict[str, Any]:
    """The tuning job ``name`` as ``recommender status`` shows it; InputError if there is none."""
    job = describe_or_none(
        sagemaker.describe_hyper_parameter_tuning_job, f"tuning job {name}", HyperParameterTuningJobName=name
    )
    if job is None:
        raise InputError(f"This pipeline has no tuning job named '{name}'.")
    return tuning_job_status(job)


def tuning_job_status(job: dict[str, Any]) -> dict[str, Any]:
    """Status, training jobs per status (the non-zero counts), the objective and the best training job."""
    config = job.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective", {})
    best = job.get("BestTrainingJob") or {}
    document = {
        "kind": "tuning_job",
        "name": job["HyperParameterTuningJobName"],
        "status": job["HyperParameterTuningJobStatus"],
        "failure_reason": job.get("FailureReason"),
        "objective": f"{objective['Type']} {objective['MetricName']}" if objective else None,
        "training_jobs": {k: v for k, v in job.get("TrainingJobStatusCounters", {}).items() if v} or None,
        "best_training_job": best.get("TrainingJobName"),
        "best_objective_value": best.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
        "best_hyperparameters": best.get("TunedHyperParameters"),
        "created": job.get("CreationTime"),
        "ended": job.get("HyperParameterTuningEndTime"),
    }
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in document.items()
        if value is not None
    }


def follow(name: str, sagemaker: SageMakerClient, *, poll: int, out: TextIO = sys.stdout) -> dict[str, Any]:
    """Print one line each time the tuning job's status, counts or best job change, until it ends; its status.

    A tuning job has no log stream of its own: each of its training jobs has one (``recommender logs <job>``).
    """
    printed = None
    while True:
        found = describe(name, sagemaker)
        line = progress_line(found)
        if line != printed:
            print(line, file=out, flush=True)
            printed = line
        if found["status"] in ENDED:
            return found
        time.sleep(poll)


def progress_line(found: dict[str, Any]) -> str:
    counts = ", ".join(f"{count} {state}" for state, count in found.get("training_jobs", {}).items())
    best = found.get("best_training_job")
    parts = [
        f"{found['name']}: {found['status']}",
        f"training jobs: {counts or 'none yet'}",
        *([f"best {best} ({found.get('best_objective_value')})"] if best else []),
    ]
    return "; ".join(parts)
