"""Names, tags and sizes of the SageMaker objects a pipeline creates, all under its resource prefix.

- resource prefix: lower-case letters, digits and single hyphens, at most 16 characters; every
  object of the pipeline is named ``<prefix>-...`` and tagged ``recommender:pipeline=<prefix>``;
- training job: ``<prefix>-train-<12 hex>`` derived from the Snowflake batch id and row, so a
  retried batch maps to the job it already started;
- endpoint: ``<prefix>-<model>`` for the model name SQL users pass to ``deploy_model``;
- model and endpoint config: ``<prefix>-<model>-<12 hex>``, one version per deployment;
- the Lambdas' own CloudWatch metrics: namespace ``Recommender/<prefix>`` (counter names below).
SageMaker names are at most 63 characters of letters, digits and single hyphens.
"""

from __future__ import annotations

import hashlib
import re
from typing import TypedDict, TypeGuard

from pipeline_shared import InputError

MAX_PREFIX = 16
PREFIX_PATTERN = re.compile(rf"(?=.{{1,{MAX_PREFIX}}}\Z)[a-z][a-z0-9]*(-[a-z0-9]+)*")  # length included
MAX_NAME = 63
VERSION_DIGITS = 12
PIPELINE_TAG = "recommender:pipeline"
MODEL_TAG = "recommender:model"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"  # the smallest general-purpose x86 type SageMaker hosts (no T2/T3)
INSTANCE_TYPE_PATTERN = re.compile(r"ml\.(?!t2\.)[a-z0-9]+\.[a-z0-9]+")  # SageMaker rejects T2
_SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-?[a-zA-Z0-9])*")
# The counters the external-function Lambdas publish per batch (dimension ``service``: the function's label).
ROWS, FAILED_BATCHES, REFUSED_BATCHES, JOBS_STARTED = "Rows", "FailedBatches", "RefusedBatches", "JobsStarted"
ENDPOINT_VARIANT = "AllTraffic"  # the one production variant of every endpoint deploy_model creates
# SageMaker's log group of training jobs, shared by every training job of the account and region.
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# The retention periods CloudWatch Logs accepts (PutRetentionPolicy), up to ten years: cdk.json's logRetentionDays.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 180, 365, 731, 1827, 3653)
# Endpoint states in which SageMaker refuses UpdateEndpoint and DeleteEndpoint until the operation ends.
ENDPOINT_BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})


def metrics_namespace(prefix: str) -> str:
    return f"Recommender/{prefix}"


def is_resource_prefix(value: object) -> TypeGuard[str]:
    """True for a usable resource prefix (see the module docstring)."""
    return isinstance(value, str) and bool(PREFIX_PATTERN.fullmatch(value))


def idempotency_token(*parts: object) -> str:
    """A short stable hash of the parts (batch id, row number, arguments)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:VERSION_DIGITS]


def training_job_prefix(prefix: str) -> str:
    return f"{prefix}-train-"


def tuning_job_prefix(prefix: str) -> str:
    """Tuning jobs (and the training jobs SageMaker names after them) start with this."""
    return f"{prefix}-tune-"


def training_job_name(prefix: str, token: str) -> str:
    return f"{training_job_prefix(prefix)}{token}"


def max_model_name(prefix: str) -> int:
    """Longest model name that still leaves room for the prefix and a version suffix."""
    return MAX_NAME - len(prefix) - 1 - (VERSION_DIGITS + 1)


def model_name(value: object, prefix: str, *, row: int) -> str:
    """Validate a SQL user's model name; returns it lower-cased (endpoint names ignore case).

    Raises :class:`InputError` naming the row.
    """
    longest = max_model_name(prefix)
    if not isinstance(value, str) or not value:
        raise InputError(row=row, message="the model name must be a non-empty string such as 'movielens'.")
    if len(value) > longest or not _SAGEMAKER_NAME.fullmatch(value):
        raise InputError(
            row=row,
            message=f"the model name must be 1-{longest} letters, digits or single hyphens, "
            "starting and ending with a letter or digit (e.g. 'movielens').",
        )
    return value.lower()


def endpoint_name(prefix: str, model: str) -> str:
    return f"{prefix}-{model}"


def versioned_name(prefix: str, model: str, token: str) -> str:
    return f"{prefix}-{model}-{token}"


def is_sagemaker_name(value: str) -> bool:
    return len(value) <= MAX_NAME and bool(_SAGEMAKER_NAME.fullmatch(value))


class Tag(TypedDict):
    """One AWS tag, as every tagging API takes it."""

    Key: str
    Value: str


def tags(prefix: str, **extra: str) -> list[Tag]:
    """The tags that let teardown find everything a pipeline created at run time."""
    return [Tag(Key=PIPELINE_TAG, Value=prefix), *(Tag(Key=k, Value=v) for k, v in extra.items())]
