"""How SageMaker names, lists, describes, deletes and stops each kind of object this pipeline makes at run time.

One description per kind, for every module that walks them: the teardown on ``cdk destroy``,
``undeploy_model`` and the idle-endpoint sweep (hosted objects), ``recommender stop`` and the teardown (jobs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline_shared.resources import training_job_prefix, tuning_job_prefix


@dataclass(frozen=True)
class Kind:
    """A hosted object: how to list and delete it."""

    noun: str
    list_operation: str
    list_key: str
    name_key: str
    arn_key: str
    delete_operation: str


ENDPOINTS = Kind("endpoint", "list_endpoints", "Endpoints", "EndpointName", "EndpointArn", "delete_endpoint")
ENDPOINT_CONFIGS = Kind(
    "endpoint config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn",
    "delete_endpoint_config",
)  # fmt: skip
MODELS = Kind("model", "list_models", "Models", "ModelName", "ModelArn", "delete_model")


@dataclass(frozen=True)
class JobKind:
    """A job: how SageMaker lists, describes, names and stops it."""

    what: str
    list_operation: str
    list_key: str
    describe_operation: str
    name_key: str
    status_key: str
    arn_key: str
    stop_operation: str
    start_of_name: Callable[[str], str]


TRAINING_JOBS = JobKind(
    "training job", "list_training_jobs", "TrainingJobSummaries", "describe_training_job", "TrainingJobName",
    "TrainingJobStatus", "TrainingJobArn", "stop_training_job", training_job_prefix,
)  # fmt: skip
TUNING_JOBS = JobKind(
    "tuning job", "list_hyper_parameter_tuning_jobs", "HyperParameterTuningJobSummaries",
    "describe_hyper_parameter_tuning_job", "HyperParameterTuningJobName", "HyperParameterTuningJobStatus",
    "HyperParameterTuningJobArn", "stop_hyper_parameter_tuning_job", tuning_job_prefix,
)  # fmt: skip
JOBS = (TRAINING_JOBS, TUNING_JOBS)  # a tuning job's stop also stops the training jobs it started
