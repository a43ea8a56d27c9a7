"""Configuration from the environment variables the CDK stack sets on each Lambda.

Each handler asks only for what it uses; a missing or malformed variable fails the request
with a message naming the variable (the stack, not the SQL caller, has to fix it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from external_functions.protocol import ExternalFunctionError
from pipeline_shared.resources import (
    DEFAULT_INSTANCE_TYPE,
    LOG_RETENTION_DAYS,
    MAX_PREFIX,
    is_instance_type,
    is_resource_prefix,
)


class MisconfiguredError(ExternalFunctionError):
    """The function's environment is incomplete: a deployment problem, not a transient one."""

    status = 400  # Snowflake does not retry 4xx; retrying cannot fix a missing variable


@dataclass(frozen=True)
class Environment:
    """Typed access to environment variables with clear errors."""

    values: Mapping[str, str]
    function: str

    @classmethod
    def current(cls, function: str) -> Environment:
        return cls(dict(os.environ), function)

    def required(self, name: str) -> str:
        value = self.values.get(name, "").strip()
        if not value:
            raise MisconfiguredError(
                f"The {self.function} function is misconfigured: environment variable {name} is missing; "
                "redeploy the stack."
            )
        return value

    def optional(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name, "").strip()
        return value or default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise MisconfiguredError(
                f"The {self.function} function is misconfigured: {name} must be a whole number "
                f"from {low} to {high}; redeploy the stack."
            )
        return value

    def prefix(self) -> str:
        """The resource-name prefix shared by every SageMaker object of this pipeline."""
        prefix = self.required("RESOURCE_PREFIX")
        if not is_resource_prefix(prefix):
            raise MisconfiguredError(
                f"The {self.function} function is misconfigured: RESOURCE_PREFIX must be lower-case "
                f"letters, digits and hyphens, at most {MAX_PREFIX} characters; redeploy the stack."
            )
        return prefix


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
        snowflake = {
            "snowflake_account": env.required("SNOWFLAKE_ACCOUNT"),
            "snowflake_user": env.required("SNOWFLAKE_USER"),
        }
        # No host, port or protocol: the job reaches Snowflake by account identifier -- PrivateLink too,
        # as ``<account>.privatelink`` (https://docs.snowflake.com/en/user-guide/admin-security-privatelink;
        # the connector builds ``<account>.snowflakecomputing.com`` from it) -- so nothing a Lambda forwards
        # points a job at another server. Local mode's SageMaker stand-in adds the stand-in's address itself.
        for key in ("ROLE", "WAREHOUSE", "DATABASE", "SCHEMA", "SECRET_ARN", "AUTH"):
            value = env.optional(f"SNOWFLAKE_{key}")
            if value:
                snowflake[f"snowflake_{key.lower()}"] = value
        region = env.optional("AWS_REGION")
        if region:
            snowflake["aws_region"] = region
        return cls(
            prefix=env.prefix(),
            image_uri=env.required("TRAINING_IMAGE_URI"),
            role_arn=env.required("SAGEMAKER_ROLE_ARN"),
            bucket=env.required("ARTIFACT_BUCKET"),
            instance_type=_instance_type(env, "TRAINING_INSTANCE_TYPE"),
            volume_gb=env.integer("TRAINING_VOLUME_GB", 30, 1, 16384),
            max_runtime_s=env.integer("TRAINING_MAX_RUNTIME_S", 3600, 60, 28 * 24 * 3600),
            max_jobs_per_batch=env.integer("TRAINING_MAX_JOBS_PER_BATCH", 3, 1, 10),
            log_retention_days=env.integer("LOG_RETENTION_DAYS", 30, 1, max(LOG_RETENTION_DAYS)),
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
        kind = (env.optional("ENDPOINT_TYPE", "realtime") or "realtime").lower()
        if kind not in ("realtime", "serverless"):
            raise MisconfiguredError(
                f"The {env.function} function is misconfigured: ENDPOINT_TYPE must be 'realtime' or "
                "'serverless'; redeploy the stack."
            )
        memory = env.integer("SERVERLESS_MEMORY_MB", 2048, 1024, 6144)
        if memory % 1024:
            raise MisconfiguredError(
                f"The {env.function} function is misconfigured: SERVERLESS_MEMORY_MB must be a "
                "multiple of 1024; redeploy the stack."
            )
        return cls(
            prefix=env.prefix(),
            image_uri=env.required("TRAINING_IMAGE_URI"),
            role_arn=env.required("SAGEMAKER_HOSTING_ROLE_ARN"),
            bucket=env.required("ARTIFACT_BUCKET"),
            serverless=kind == "serverless",
            instance_type=_instance_type(env, "ENDPOINT_INSTANCE_TYPE"),
            instance_count=env.integer("ENDPOINT_INSTANCE_COUNT", 1, 1, 100),
            memory_mb=memory,
            max_concurrency=env.integer("SERVERLESS_MAX_CONCURRENCY", 5, 1, 200),
            log_retention_days=env.integer("LOG_RETENTION_DAYS", 30, 1, max(LOG_RETENTION_DAYS)),
        )


def models_uri(bucket: str, prefix: str) -> str:
    """``s3://<bucket>/<prefix>/models/``: where training jobs write models, and all the hosting role may read."""
    return f"s3://{bucket}/{prefix}/models/"


def _instance_type(env: Environment, name: str) -> str:
    value = env.optional(name, DEFAULT_INSTANCE_TYPE) or DEFAULT_INSTANCE_TYPE
    if not is_instance_type(value):
        raise MisconfiguredError(
            f"The {env.function} function is misconfigured: {name} must be a SageMaker instance "
            f"type such as {DEFAULT_INSTANCE_TYPE} (T2 types are rejected by SageMaker); redeploy the stack."
        )
    return value
