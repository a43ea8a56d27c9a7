"""Configuration from the environment variables the CDK stack sets on each Lambda.

Each handler asks only for what it uses; a missing or malformed variable fails the request
with a message naming the variable (the stack, not the SQL caller, has to fix it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from external_functions.errors import PipelineError
from pipeline_shared import settings
from pipeline_shared.settings import Setting, SettingError


class MisconfiguredError(PipelineError):
    """The function's environment is incomplete: a deployment problem a retry cannot fix (the stack must)."""


@dataclass(frozen=True)
class Environment:
    """The declared settings (``pipeline_shared.settings``) read from environment variables, with clear errors."""

    values: Mapping[str, str]
    function: str

    @classmethod
    def current(cls, function: str) -> Environment:
        return cls(dict(os.environ), function)

    def get(self, setting: Setting, *, required: bool = False) -> Any:
        """The setting's value from its variable, else its default (None when it has none and is not required)."""
        name = setting.variable or ""
        raw = self.values.get(name, "").strip()
        if not raw:
            if required and setting.default is None:
                raise MisconfiguredError(
                    f"The {self.function} function is misconfigured: environment variable {name} is missing; "
                    "redeploy the stack."
                )
            return setting.default
        try:
            return setting.parse(raw)
        except SettingError as exc:
            raise MisconfiguredError(
                f"The {self.function} function is misconfigured: {name} {exc}; redeploy the stack."
            ) from None

    def given(self, setting: Setting) -> bool:
        """True where the setting's variable is set (not blank)."""
        return bool(self.values.get(setting.variable or "", "").strip())

    def required(self, setting: Setting) -> Any:
        return self.get(setting, required=True)

    def prefix(self) -> str:
        """The resource-name prefix shared by every SageMaker object of this pipeline."""
        return str(self.required(settings.RESOURCE_PREFIX))


@dataclass(frozen=True)
class TrainingSettings:
    prefix: str
    image_uri: str
    role_arn: str
    bucket: str
    instance_type: str
    volume_gb: int
    max_runtime_s: int
    max_jobs_per_batch: int
    log_retention_days: int
    snowflake: dict[str, str]  # hyperparameters naming the Snowflake connection (no secrets)

    @classmethod
    def from_env(cls, env: Environment) -> TrainingSettings:
        # No host, port or protocol: the job reaches Snowflake by account identifier -- PrivateLink too,
        # as ``<account>.privatelink`` (https://docs.snowflake.com/en/user-guide/admin-security-privatelink;
        # the connector builds ``<account>.snowflakecomputing.com`` from it) -- so nothing a Lambda forwards
        # points a job at another server. Local mode's SageMaker stand-in adds the stand-in's address itself.
        snowflake = {}  # what the stack set (absent: the image's default), and what every job needs
        for setting in settings.JOB_CONNECTION:
            if setting.job_requires or env.given(setting):
                snowflake[str(setting.hyperparameter)] = setting.text(env.required(setting))
        return cls(
            prefix=env.prefix(),
            image_uri=env.required(settings.IMAGE_URI),
            role_arn=env.required(settings.TRAINING_ROLE_ARN),
            bucket=env.required(settings.ARTIFACT_BUCKET),
            instance_type=env.get(settings.TRAINING_INSTANCE_TYPE),
            volume_gb=env.get(settings.TRAINING_VOLUME_GB),
            max_runtime_s=env.get(settings.TRAINING_MAX_RUNTIME),
            max_jobs_per_batch=env.get(settings.MAX_JOBS_PER_BATCH),
            log_retention_days=env.get(settings.LOG_RETENTION),
            snowflake=snowflake,
        )


@dataclass(frozen=True)
class HostingSettings:
    prefix: str
    image_uri: str
    role_arn: str
    bucket: str
    serverless: bool
    instance_type: str
    instance_count: int
    memory_mb: int
    max_concurrency: int
    log_retention_days: int

    @classmethod
    def from_env(cls, env: Environment) -> HostingSettings:
        return cls(
            prefix=env.prefix(),
            image_uri=env.required(settings.IMAGE_URI),
            role_arn=env.required(settings.HOSTING_ROLE_ARN),
            bucket=env.required(settings.ARTIFACT_BUCKET),
            serverless=env.get(settings.ENDPOINT_TYPE) == "serverless",
            instance_type=env.get(settings.ENDPOINT_INSTANCE_TYPE),
            instance_count=env.get(settings.ENDPOINT_INSTANCE_COUNT),
            memory_mb=env.get(settings.SERVERLESS_MEMORY),
            max_concurrency=env.get(settings.SERVERLESS_CONCURRENCY),
            log_retention_days=env.get(settings.LOG_RETENTION),
        )


def models_uri(bucket: str, prefix: str) -> str:
    """``s3://<bucket>/<prefix>/models/``: where training jobs write models, and all the hosting role may read."""
    return f"s3://{bucket}/{prefix}/models/"
