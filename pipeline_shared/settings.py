"""Every deployment setting, declared once: its ``cdk.json`` key, the Lambda variable and the training job
hyperparameter that carry it, its default and its rule.

- the CDK app reads ``cdk.json`` through these declarations (``stacks.config``) and emits each Lambda's
  environment from them (:func:`environment`);
- the Lambdas and the operator CLI read that environment back through them (``external_functions.settings``);
- the training image parses its connection hyperparameters with them (``recommender.config``).

So a value one place accepts, every other place accepts too, and a new setting is one declaration here
(docs/layout.md, "Adding a setting"). The options SQL users pass to a training job are declared the same
way in :mod:`pipeline_shared.training_options`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pipeline_shared import identifiers
from pipeline_shared.identifiers import plain_identifier
from pipeline_shared.resources import (
    DEFAULT_INSTANCE_TYPE,
    INSTANCE_TYPE_PATTERN,
    LOG_RETENTION_DAYS,
    MAX_PREFIX,
    PREFIX_PATTERN,
)

if TYPE_CHECKING:  # typeshed's protocol of every dataclass instance
    from _typeshed import DataclassInstance


class SettingError(ValueError):
    """A value outside a setting's rule; the message completes "<the setting> ..." (e.g. "must be ...")."""


@dataclass(frozen=True)
class Rule:
    """What values a setting takes: :meth:`parse` returns the typed value or raises :class:`SettingError`."""

    json_type: ClassVar[type] = str  # what cdk.json must hold (a variable or hyperparameter is always a string)

    def parse(self, value: object) -> Any:
        raise NotImplementedError

    def refusal(self) -> str:
        """What the rule says to a value it refuses, completing "<the setting> ..."."""
        raise NotImplementedError

    def text(self, value: Any) -> str:
        """The string a Lambda variable or hyperparameter carries for a parsed value."""
        return str(value)


@dataclass(frozen=True)
class WholeNumber(Rule):
    """A whole number from ``low`` to ``high`` -- one of ``among`` if given, a multiple of ``step``."""

    low: int
    high: int
    step: int = 1
    among: tuple[int, ...] = ()
    json_type: ClassVar[type] = int

    def refusal(self) -> str:
        if self.among:
            return f"must be one of {', '.join(map(str, self.among))}"
        multiple = f", a multiple of {self.step}" if self.step > 1 else ""
        return f"must be a whole number from {self.low} to {self.high}{multiple}"

    def parse(self, value: object) -> int:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(self.refusal())
        if not self.low <= value <= self.high or value % self.step or (self.among and value not in self.among):
            raise SettingError(self.refusal())
        return value


@dataclass(frozen=True)
class Choice(Rule):
    """One of ``choices``, whatever its case (parsed to the spelling here)."""

    choices: tuple[str, ...]

    def refusal(self) -> str:
        return f"must be {' or '.join(repr(c) for c in self.choices)}"

    def parse(self, value: object) -> str:
        spelled = {choice.lower(): choice for choice in self.choices}
        if not isinstance(value, str) or value.strip().lower() not in spelled:
            raise SettingError(self.refusal())
        return spelled[value.strip().lower()]


@dataclass(frozen=True)
class Flag(Rule):
    """true or false (a JSON boolean in cdk.json, ``true``/``false`` in a variable)."""

    json_type: ClassVar[type] = bool

    def refusal(self) -> str:
        return "must be true or false"

    def parse(self, value: object) -> bool:
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise SettingError(self.refusal())
        return value

    def text(self, value: Any) -> str:
        return "true" if value else "false"


@dataclass(frozen=True)
class Matching(Rule):
    """Text matching ``pattern`` in full (surrounding blanks dropped), e.g. ``example``."""

    pattern: re.Pattern[str]
    example: str
    what: str = ""  # what the text is, when the example alone does not say ("a Snowflake account identifier")

    def refusal(self) -> str:
        kind = f"{self.what}, " if self.what else ""
        return f'is malformed: expected {kind}e.g. "{self.example}"'

    def parse(self, value: object) -> str:
        if not isinstance(value, str) or not self.pattern.fullmatch(value.strip()):
            raise SettingError(self.refusal())
        return value.strip()


@dataclass(frozen=True)
class Identifier(Rule):
    """One plain Snowflake identifier, upper-cased as Snowflake resolves it (``pipeline_shared.identifiers``)."""

    example: str

    def refusal(self) -> str:
        return f'must be a plain Snowflake identifier, e.g. "{self.example}"'

    def parse(self, value: object) -> str:
        identifier = plain_identifier(value)
        if identifier is None:
            raise SettingError(self.refusal())
        return identifier


@dataclass(frozen=True)
class Setting:
    """One setting. ``key``: its path below an environment of ``cdk.json`` (None: the stack supplies the
    value); ``variable``: the Lambda environment variable; ``hyperparameter``: the training job's name for it.
    ``default`` None means the setting has none (required, or absent when not given)."""

    key: str | None
    rule: Rule
    default: Any = None
    variable: str | None = None
    hyperparameter: str | None = None
    emit_default: bool = True  # False: the variable is left out while the value is the default
    job_requires: bool = False  # every training job is given it (the others only when the stack sets them)

    @property
    def example(self) -> str:
        example = getattr(self.rule, "example", None)
        return str(example if example is not None else self.default)

    def parse(self, value: object) -> Any:
        """``value`` by this setting's rule; raises :class:`SettingError` completing "<setting> ..."."""
        return self.rule.parse(value)

    def text(self, value: Any) -> str:
        return self.rule.text(value)

    def field(self) -> Any:
        """A dataclass field holding this setting (its default, and the declaration for :func:`environment`)."""
        return dataclasses.field(default=self.default, metadata={"setting": self})


def environment(*sections: DataclassInstance, leave_out: Iterable[Setting] = ()) -> dict[str, str]:
    """The Lambda variables of the dataclass ``sections``' fields declared with :meth:`Setting.field`.

    A field whose value is None (or its default, for ``emit_default=False``) sets no variable.
    """
    values: dict[str, str] = {}
    for section in sections:
        for field in dataclasses.fields(section):
            setting = field.metadata.get("setting")
            value = getattr(section, field.name)
            if setting is None or setting.variable is None or value is None or setting in leave_out:
                continue
            if not setting.emit_default and value == setting.default:
                continue
            values[setting.variable] = setting.text(value)
    return values


def variables(values: Mapping[Setting, Any]) -> dict[str, str]:
    """The Lambda variables of settings the stack supplies (such as the bucket's name); None sets none."""
    return {s.variable: s.text(value) for s, value in values.items() if s.variable and value is not None}


REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
# How the Snowflake users sign in: a key pair held in Secrets Manager, or workload identity (their AWS roles).
# Defined here, not in ``credentials`` (which needs ``cryptography``), so that every Lambda can read the setting.
KEY_PAIR, WORKLOAD_IDENTITY = "keypair", "wif"
AUTH_METHODS = (KEY_PAIR, WORKLOAD_IDENTITY)

# -- the pipeline's names -------------------------------------------------------------------------------------
RESOURCE_PREFIX = Setting(
    "resourcePrefix",
    Matching(PREFIX_PATTERN, "movielens-dev", f"lower-case letters, digits and hyphens, at most {MAX_PREFIX}"),
    variable="RESOURCE_PREFIX",
)
# Where the job runs: the Lambdas' own region. AWS_REGION is one of the variables the Lambda runtime sets and a
# function's configuration cannot (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
AWS_REGION = Setting("region", Matching(REGION, "us-east-1"), variable="AWS_REGION", hyperparameter="aws_region")
LOG_RETENTION = Setting(
    "logRetentionDays", WholeNumber(1, max(LOG_RETENTION_DAYS), among=LOG_RETENTION_DAYS), 30, "LOG_RETENTION_DAYS"
)

# -- what the stack supplies (no cdk.json key) -----------------------------------------------------------------
_ANY = re.compile(r"\S+")  # the stack builds these from its own resources
IMAGE_URI = Setting(
    None, Matching(_ANY, "<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>"), None, "TRAINING_IMAGE_URI"
)
TRAINING_ROLE_ARN = Setting(None, Matching(_ANY, "arn:aws:iam::<account>:role/<name>"), None, "SAGEMAKER_ROLE_ARN")
HOSTING_ROLE_ARN = Setting(
    None, Matching(_ANY, "arn:aws:iam::<account>:role/<name>"), None, "SAGEMAKER_HOSTING_ROLE_ARN"
)
ARTIFACT_BUCKET = Setting(None, Matching(_ANY, "<bucket>"), None, "ARTIFACT_BUCKET")
_ARN_EXAMPLE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake/recommender-trainer-AbCdEf"
SECRET_ARN = Setting(
    None, Matching(identifiers.SECRET_ARN, _ARN_EXAMPLE), None, "SNOWFLAKE_SECRET_ARN", "snowflake_secret_arn"
)

# -- Snowflake: where and as whom the training jobs connect, and the custom resource's DDL user -----------------
SNOWFLAKE_ACCOUNT = Setting(
    "snowflake.account",
    Matching(identifiers.SNOWFLAKE_ACCOUNT, "myorg-myaccount", "a Snowflake account identifier"),
    variable="SNOWFLAKE_ACCOUNT",
    hyperparameter="snowflake_account",
    job_requires=True,
)
TRAINING_USER = Setting(
    "snowflake.trainingUser",
    Identifier("RECOMMENDER_TRAINER"),
    variable="SNOWFLAKE_USER",
    hyperparameter="snowflake_user",
    job_requires=True,
)
TRAINING_ROLE = Setting(
    "snowflake.trainingRole", Identifier("RECOMMENDER_TRAINER"), None, "SNOWFLAKE_ROLE", "snowflake_role"
)
WAREHOUSE = Setting("snowflake.warehouse", Identifier("COMPUTE_WH"), None, "SNOWFLAKE_WAREHOUSE", "snowflake_warehouse")
DATABASE = Setting("snowflake.database", Identifier("MOVIELENS"), None, "SNOWFLAKE_DATABASE", "snowflake_database")
SCHEMA = Setting("snowflake.schema", Identifier("PUBLIC"), "PUBLIC", "SNOWFLAKE_SCHEMA", "snowflake_schema")
AUTH = Setting("snowflake.auth", Choice(AUTH_METHODS), KEY_PAIR, "SNOWFLAKE_AUTH", "snowflake_auth", emit_default=False)
# The DDL user and role of the Snowflake custom resource, and what it creates (stacks.snowflake_integration).
ADMIN_USER = Setting("snowflake.user", Identifier("RECOMMENDER_ADMIN"))
ADMIN_ROLE = Setting("snowflake.role", Identifier("RECOMMENDER_DEPLOYER"))
INTEGRATION_NAME = Setting("snowflake.integrationName", Identifier("MOVIELENS_DEV_API"))  # default: <PREFIX>_API
RETAIN_INTEGRATION = Setting("snowflake.retainIntegration", Flag(), False)
# Leave Snowflake alone on deploy and destroy (the way out when it refuses us).
DETACH = Setting("snowflake.detach", Flag(), False)
# The connection settings a training job is given, in this order (never a credential: the secret's ARN only).
JOB_CONNECTION: tuple[Setting, ...] = (
    SNOWFLAKE_ACCOUNT,
    TRAINING_USER,
    TRAINING_ROLE,
    WAREHOUSE,
    DATABASE,
    SCHEMA,
    SECRET_ARN,
    AUTH,
    AWS_REGION,
)
# Hyperparameters only the image takes: limits of the job's own statements, and (local mode only) where the
# Snowflake stand-in listens -- a deployed job reaches Snowflake by account identifier.
LOCK_TIMEOUT = Setting(None, WholeNumber(0, 43_200), 150, hyperparameter="snowflake_lock_timeout")
STATEMENT_TIMEOUT = Setting(None, WholeNumber(5, 3600), 180, hyperparameter="snowflake_timeout")
# Snowflake's default STATEMENT_TIMEOUT_IN_SECONDS (two days) is the longest a write may be given.
WRITE_TIMEOUT = Setting(None, WholeNumber(5, 172_800), hyperparameter="snowflake_write_timeout")
STANDIN_HOST = Setting(
    None,
    Matching(identifiers.SNOWFLAKE_HOST, "myorg-myaccount.privatelink.snowflakecomputing.com"),
    hyperparameter="snowflake_host",
)
STANDIN_PORT = Setting(None, WholeNumber(1, 65535), hyperparameter="snowflake_port")
STANDIN_PROTOCOL = Setting(None, Choice(("https", "http")), hyperparameter="snowflake_protocol")
JOB_ONLY: tuple[Setting, ...] = (
    LOCK_TIMEOUT,
    STATEMENT_TIMEOUT,
    WRITE_TIMEOUT,
    STANDIN_HOST,
    STANDIN_PORT,
    STANDIN_PROTOCOL,
)

# -- training jobs ---------------------------------------------------------------------------------------------
_INSTANCE = Matching(INSTANCE_TYPE_PATTERN, DEFAULT_INSTANCE_TYPE, "a SageMaker instance type (T2 types are refused)")
TRAINING_INSTANCE_TYPE = Setting("training.instanceType", _INSTANCE, DEFAULT_INSTANCE_TYPE, "TRAINING_INSTANCE_TYPE")
TRAINING_VOLUME_GB = Setting("training.volumeGb", WholeNumber(1, 16384), 30, "TRAINING_VOLUME_GB")
TRAINING_MAX_RUNTIME = Setting(
    "training.maxRuntimeSeconds", WholeNumber(60, 28 * 24 * 3600), 3600, "TRAINING_MAX_RUNTIME_S"
)
# Rows of one train_and_get_recommendations batch (each starts a billed job).
MAX_JOBS_PER_BATCH = Setting("training.maxJobsPerBatch", WholeNumber(1, 10), 3, "TRAINING_MAX_JOBS_PER_BATCH")
# Reserved concurrency of the train function, opt-in: Lambda keeps 100 of the account's concurrency
# unreserved and new accounts have less, so a reservation can fail the first deploy.
CONCURRENT_STARTS = Setting("training.concurrentStarts", WholeNumber(1, 50))

# -- endpoints -------------------------------------------------------------------------------------------------
ENDPOINT_TYPE = Setting("endpoint.type", Choice(("realtime", "serverless")), "realtime", "ENDPOINT_TYPE")
ENDPOINT_INSTANCE_TYPE = Setting("endpoint.instanceType", _INSTANCE, DEFAULT_INSTANCE_TYPE, "ENDPOINT_INSTANCE_TYPE")
ENDPOINT_INSTANCE_COUNT = Setting("endpoint.instanceCount", WholeNumber(1, 100), 1, "ENDPOINT_INSTANCE_COUNT")
SERVERLESS_MEMORY = Setting(
    "endpoint.serverlessMemoryMb", WholeNumber(1024, 6144, step=1024), 2048, "SERVERLESS_MEMORY_MB"
)
SERVERLESS_CONCURRENCY = Setting(
    "endpoint.serverlessMaxConcurrency", WholeNumber(1, 200), 5, "SERVERLESS_MAX_CONCURRENCY"
)
# Hours without invocations after which the hourly sweep takes an endpoint down (no default: no sweep).
ENDPOINT_IDLE_HOURS = Setting("endpointIdleHours", WholeNumber(1, 720), None, "ENDPOINT_IDLE_HOURS")

# -- the API Snowflake calls, alarms and the account ----------------------------------------------------------
THROTTLE_RATE = Setting("api.throttleRateLimit", WholeNumber(1, 10000), 50)
THROTTLE_BURST = Setting("api.throttleBurstLimit", WholeNumber(1, 5000), 100)
LATENCY_P99_MS = Setting("alarms.latencyP99Ms", WholeNumber(1, 60000), 1000)
MANAGE_API_GATEWAY_ACCOUNT_ROLE = Setting("manageApiGatewayAccountRole", Flag(), True)

# -- engine=spark (docs/scaling.md) ---------------------------------------------------------------------------
SPARK_ENABLED = Setting("spark.enabled", Flag(), False)
SPARK_RELEASE = Setting("spark.releaseLabel", Matching(re.compile(r"emr-\d+\.\d+\.\d+"), "emr-7.9.0"), "emr-7.9.0")
_PACKAGE = r"[\w.-]+:[\w.-]+:[\w.-]+"
SPARK_PACKAGES = Setting(
    "spark.connectorPackages",
    Matching(re.compile(rf"{_PACKAGE}(,{_PACKAGE})*"), "net.snowflake:spark-snowflake_2.12:3.1.1"),
    "net.snowflake:spark-snowflake_2.12:3.1.1",  # Spark 3.5.5 (EMR 7.9), which the Snowflake Spark connector supports
    "SPARK_CONNECTOR_PACKAGES",
)
SPARK_MAX_RUNTIME_MINUTES = Setting(
    "spark.maxRuntimeMinutes", WholeNumber(5, 7 * 24 * 60), 120, "SPARK_MAX_RUNTIME_MINUTES"
)
SPARK_MAX_VCPU = Setting("spark.maxVcpu", WholeNumber(4, 4000), 64)  # the application's ceiling across its runs
SPARK_MAX_MEMORY_GB = Setting("spark.maxMemoryGb", WholeNumber(16, 16000), 256)
# What the stack supplies to the train Lambda when Spark is enabled (no application id: engine=spark is refused).
SPARK_APPLICATION_ID = Setting(None, Matching(_ANY, "00fabcdefghijklm"), None, "SPARK_APPLICATION_ID")
SPARK_JOB_ROLE_ARN = Setting(None, Matching(_ANY, "arn:aws:iam::<account>:role/<name>"), None, "SPARK_JOB_ROLE_ARN")
SPARK_ENTRY_POINT = Setting(
    None, Matching(re.compile(r"s3://\S+"), "s3://<bucket>/<key>.py", "an s3:// URI"), None, "SPARK_ENTRY_POINT"
)

HYPERPARAMETERS: dict[str, Setting] = {s.hyperparameter: s for s in (*JOB_CONNECTION, *JOB_ONLY) if s.hyperparameter}
