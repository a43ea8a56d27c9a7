"""Pipeline configuration from ``cdk.json`` context: typed, validated, with sane defaults.

The context key ``recommender`` holds ``environments``: one entry per deployable environment
(``dev``, ``prod``, ...), each becoming a stack ``Recommender-<name>``. A missing or
malformed required key stops synth with one message naming the key and an example.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_shared import InputError
from pipeline_shared.credentials import AUTH_METHODS, KEY_PAIR, WORKLOAD_IDENTITY
from pipeline_shared.identifiers import SECRET_ARN, SNOWFLAKE_ACCOUNT, plain_identifier
from pipeline_shared.resources import (
    DEFAULT_INSTANCE_TYPE,
    INSTANCE_TYPE_PATTERN,
    LOG_RETENTION_DAYS,
    MAX_PREFIX,
    is_resource_prefix,
    max_model_name,
    model_name,
)

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"  # the project's, beside app.py

CONTEXT_KEY = "recommender"
# Roles that can do far more than read ratings and write recommendations: never the training jobs'.
PRIVILEGED_ROLES = frozenset({"ACCOUNTADMIN", "ORGADMIN", "SECURITYADMIN", "USERADMIN", "SYSADMIN"})


class ConfigError(ValueError):
    """Configuration that cannot be deployed; the message names the key and an example."""


@dataclass(frozen=True)
class SnowflakeConfig:
    account: str
    user: str
    role: str
    warehouse: str
    database: str
    schema: str
    secret_name: str | None  # the DDL user's key (the Snowflake custom resource only)
    secret_arn: str | None
    training_user: str  # the training jobs' own user, role and key
    training_role: str
    training_secret_name: str | None
    training_secret_arn: str | None
    grant_roles: tuple[str, ...] = ()
    integration_name: str = ""
    retain_integration: bool = False
    detach: bool = False  # leave Snowflake alone on deploy and destroy (the way out when it refuses us)
    auth: str = KEY_PAIR  # or WORKLOAD_IDENTITY: both identities sign in as their AWS roles, no secrets
    secret_kms_key_arn: str | None = None  # the customer-managed key both secrets are encrypted with, if any


@dataclass(frozen=True)
class TrainingConfig:
    instance_type: str = DEFAULT_INSTANCE_TYPE
    volume_gb: int = 30
    max_runtime_seconds: int = 3600
    max_jobs_per_batch: int = 3  # rows of one train_and_get_recommendations batch (each starts a job)
    # Reserved concurrency of the train function, opt-in: Lambda keeps 100 of the account's concurrency
    # unreserved and new accounts have less, so a reservation can fail the first deploy.
    concurrent_starts: int | None = None


@dataclass(frozen=True)
class EndpointConfig:
    type: str = "realtime"
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 5


@dataclass(frozen=True)
class SparkConfig:
    """``engine=spark``: ALS on an EMR Serverless application (off by default; docs/scaling.md)."""

    enabled: bool = False
    release_label: str = "emr-7.9.0"  # Spark 3.5.5, which the Snowflake Spark connector supports
    connector_packages: str = "net.snowflake:spark-snowflake_2.12:3.1.1"
    max_runtime_minutes: int = 120
    max_vcpu: int = 64  # the application's ceiling across all its job runs
    max_memory_gb: int = 256


@dataclass(frozen=True)
class ApiConfig:
    throttle_rate_limit: int = 50
    throttle_burst_limit: int = 100


@dataclass(frozen=True)
class AlarmsConfig:
    """Where the alarms go and which models' endpoints get their own (``stacks.monitoring``)."""

    email: str | None = None  # None: the topic has no subscription (subscribe to it yourself)
    models: tuple[str, ...] = ()  # model names whose endpoints get 5xx, ModelError and p99 latency alarms
    latency_p99_ms: int = 1000


@dataclass(frozen=True)
class PipelineConfig:
    """Everything one environment's stack needs."""

    name: str
    account: str | None
    region: str | None
    resource_prefix: str
    snowflake: SnowflakeConfig
    training: TrainingConfig = field(default_factory=TrainingConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    log_retention_days: int = 30
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    # False for a shared account whose API Gateway CloudWatch role is someone else's: no account stack for it.
    manage_api_gateway_account_role: bool = True
    spark: SparkConfig = field(default_factory=SparkConfig)
    # Hours without invocations after which the hourly sweep takes an endpoint down (None: no sweep).
    endpoint_idle_hours: int | None = None

    @property
    def stack_name(self) -> str:
        return f"Recommender-{self.name}"

    def lambda_environment(
        self,
        *,
        image_uri: str,
        sagemaker_role_arn: str,
        hosting_role_arn: str,
        bucket: str,
        secret_arn: str | None,
    ) -> dict[str, str]:
        """The variables every external-function Lambda reads (``external_functions.settings``).

        Where to connect to Snowflake and the secret's ARN -- never a credential.
        """
        sf = self.snowflake
        values = {
            "RESOURCE_PREFIX": self.resource_prefix,
            "TRAINING_IMAGE_URI": image_uri,
            "SAGEMAKER_ROLE_ARN": sagemaker_role_arn,  # training jobs
            "SAGEMAKER_HOSTING_ROLE_ARN": hosting_role_arn,  # models behind endpoints
            "ARTIFACT_BUCKET": bucket,
            "SNOWFLAKE_ACCOUNT": sf.account,
            "SNOWFLAKE_USER": sf.training_user,
            "SNOWFLAKE_ROLE": sf.training_role,
            "SNOWFLAKE_WAREHOUSE": sf.warehouse,
            "SNOWFLAKE_DATABASE": sf.database,
            "SNOWFLAKE_SCHEMA": sf.schema,
            "SNOWFLAKE_SECRET_ARN": secret_arn,
            "SNOWFLAKE_AUTH": sf.auth if sf.auth != KEY_PAIR else None,
            "TRAINING_INSTANCE_TYPE": self.training.instance_type,
            "TRAINING_VOLUME_GB": str(self.training.volume_gb),
            "TRAINING_MAX_RUNTIME_S": str(self.training.max_runtime_seconds),
            "TRAINING_MAX_JOBS_PER_BATCH": str(self.training.max_jobs_per_batch),
            "ENDPOINT_TYPE": self.endpoint.type,
            "ENDPOINT_INSTANCE_TYPE": self.endpoint.instance_type,
            "ENDPOINT_INSTANCE_COUNT": str(self.endpoint.instance_count),
            "SERVERLESS_MEMORY_MB": str(self.endpoint.serverless_memory_mb),
            "SERVERLESS_MAX_CONCURRENCY": str(self.endpoint.serverless_max_concurrency),
            "LOG_RETENTION_DAYS": str(self.log_retention_days),  # for SageMaker's own log groups
        }
        return {key: value for key, value in values.items() if value}


class _Reader:
    """Reads one mapping, naming every key by its full dotted path in errors.

    Every key the code asks for is remembered (present or not), so :meth:`check_known` can refuse a key
    nobody reads -- a misspelt setting would otherwise be silently ignored.
    """

    def __init__(self, values: Mapping[str, Any], path: str) -> None:
        if not isinstance(values, Mapping):
            raise ConfigError(f"cdk.json: context {path} must be an object.")
        self.values, self.path = values, path
        self.asked: set[str] = set()
        self.children: list[_Reader] = []

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return self.values.get(name, default)

    def has(self, name: str) -> bool:
        self.asked.add(name)
        return name in self.values

    def child(self, name: str) -> _Reader:
        reader = _Reader(self.get(name) or {}, self.key(name))
        self.children.append(reader)
        return reader

    def check_known(self) -> None:
        """Refuse a key of this mapping (or of a mapping read below it) that no setting reads."""
        for name in self.values:
            if name not in self.asked:
                near = difflib.get_close_matches(name, sorted(self.asked), n=1, cutoff=0.6)
                hint = (
                    f"rename it to {near[0]} if that was meant, or remove it."
                    if near
                    else f"remove it (the settings here are {', '.join(sorted(self.asked))})."
                )
                raise ConfigError(f"cdk.json: context {self.key(name)} is not a setting: {hint}")
        for child in self.children:
            child.check_known()

    def text(self, name: str, example: str, *, required: bool = True, pattern: str | None = None) -> str | None:
        value = self.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise ConfigError(f'cdk.json: context {self.key(name)} is missing: set it, e.g. "{example}".')
            return None
        if not isinstance(value, str) or (pattern and not re.fullmatch(pattern, value.strip())):
            raise ConfigError(f'cdk.json: context {self.key(name)} is malformed: expected e.g. "{example}".')
        return value.strip()

    def identifier(self, name: str, example: str, *, required: bool = True) -> str | None:
        value = self.text(name, example, required=required)
        if value is None:
            return None
        identifier = plain_identifier(value)
        if identifier is None:
            raise ConfigError(
                f'cdk.json: context {self.key(name)} must be a plain Snowflake identifier, e.g. "{example}".'
            )
        return identifier

    def number(self, name: str, default: int, low: int, high: int) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"cdk.json: context {self.key(name)} must be a whole number from {low} to {high}.")
        return value

    def optional_number(self, name: str, low: int, high: int) -> int | None:
        """A whole number from ``low`` to ``high``, or None where the key is absent (or null)."""
        return None if self.get(name) is None else self.number(name, low, low, high)

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"cdk.json: context {self.key(name)} must be true or false.")
        return value

    def identifiers(self, name: str, example: str) -> tuple[str, ...]:
        values = self.get(name, [])
        if not isinstance(values, list):
            raise ConfigError(f'cdk.json: context {self.key(name)} must be a list, e.g. ["{example}"].')
        reader = _Reader({str(i): v for i, v in enumerate(values)}, self.key(name))
        return tuple(reader.identifier(str(i), example) or "" for i in range(len(values)))


_INSTANCE = INSTANCE_TYPE_PATTERN.pattern


def load_environments(context: Mapping[str, Any] | None) -> list[PipelineConfig]:
    """Every environment configured under ``recommender.environments``."""
    root = _Reader(context or {}, CONTEXT_KEY)
    environments = root.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(
            f'cdk.json: context {CONTEXT_KEY}.environments is missing: add at least one, e.g. "dev": {{...}} '
            "(see README, Configuration)."
        )
    configs = []
    listed = root.child("environments")
    for name in environments:
        env = listed.child(name)
        configs.append(_environment(name, env))
        env.check_known()
    _check_isolation(configs)
    return configs


def _check_isolation(configs: list[PipelineConfig]) -> None:
    """Refuse environments whose names, IAM patterns or Snowflake objects could reach each other's."""
    for index, first in enumerate(configs):
        for second in configs[index + 1 :]:
            pair = f"cdk.json: environments {first.name} and {second.name}"
            a, b = sorted((first.resource_prefix, second.resource_prefix), key=len)
            if a == b or b.startswith(f"{a}-"):
                raise ConfigError(
                    f'{pair}: resourcePrefix "{a}" covers "{b}" (names and IAM patterns {a}-* would match the '
                    f'other environment\'s objects): give each a prefix that no other starts with, e.g. "{a}-prod".'
                )
            if first.snowflake.account.upper() != second.snowflake.account.upper():
                continue
            one, two = first.snowflake, second.snowflake
            if (one.database, one.schema) == (two.database, two.schema):
                raise ConfigError(
                    f"{pair} put their external functions in {one.database}.{one.schema}, where each deploy "
                    "would replace the other's: give each environment its own snowflake.schema."
                )
            if one.integration_name == two.integration_name:
                raise ConfigError(
                    f"{pair} share the API integration {one.integration_name}, which each deploy would point at "
                    "its own API: give each its own snowflake.integrationName."
                )


def _environment(name: str, env: _Reader) -> PipelineConfig:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,30}", name):
        raise ConfigError(f'cdk.json: environment name "{name}" must be letters, digits and hyphens, e.g. "dev".')
    prefix = env.text("resourcePrefix", "movielens-dev", required=False) or f"movielens-{name.lower()}"
    if not is_resource_prefix(prefix):
        raise ConfigError(
            f"cdk.json: context {env.key('resourcePrefix')} must be lower-case letters, digits and hyphens, "
            f'at most {MAX_PREFIX} characters, e.g. "movielens-dev".'
        )
    sf = env.child("snowflake")
    auth = sf.text("auth", KEY_PAIR, required=False, pattern="|".join(AUTH_METHODS)) or KEY_PAIR
    if auth == WORKLOAD_IDENTITY:
        keys = ("secretName", "secretArn", "trainingSecretName", "trainingSecretArn", "secretKmsKeyArn")
        present = [k for k in keys if sf.has(k)]
        if present:
            raise ConfigError(
                f'cdk.json: context {sf.key(present[0])} is not used with auth "wif" (workload identity signs in '
                'without a stored secret): remove it, or set auth to "keypair".'
            )
        secret_name = secret_arn = training_secret_name = training_secret_arn = None
    else:
        secret_name, secret_arn = _secret(sf, "secretName", "secretArn", "snowflake/recommender-admin")
        training_secret_name, training_secret_arn = _secret(
            sf, "trainingSecretName", "trainingSecretArn", "snowflake/recommender-trainer"
        )
    if auth == KEY_PAIR and (training_secret_name or training_secret_arn) in (secret_name, secret_arn):
        raise ConfigError(
            f"cdk.json: context {sf.key('trainingSecretName')} names the same secret as {sf.key('secretName')}: "
            "training jobs get their own Snowflake user and key, so that they never hold the DDL user's."
        )
    user = sf.identifier("user", "RECOMMENDER_ADMIN") or ""
    training_user = sf.identifier("trainingUser", "RECOMMENDER_TRAINER") or ""
    if training_user == user:
        raise ConfigError(
            f"cdk.json: context {sf.key('trainingUser')} must be another Snowflake user than {sf.key('user')} "
            '(the DDL user): create one for training jobs, e.g. "RECOMMENDER_TRAINER" (see README, Snowflake roles).'
        )
    training_role = sf.identifier("trainingRole", "RECOMMENDER_TRAINER") or ""
    if training_role in PRIVILEGED_ROLES:
        raise ConfigError(
            f"cdk.json: context {sf.key('trainingRole')} must be a role that may only read the input tables and "
            f'write the output tables, not {training_role}: create one, e.g. "RECOMMENDER_TRAINER" '
            "(see README, Snowflake roles)."
        )
    default_integration = prefix.upper().replace("-", "_") + "_API"
    snowflake = SnowflakeConfig(
        account=sf.text("account", "myorg-myaccount", pattern=SNOWFLAKE_ACCOUNT.pattern) or "",
        user=user,
        role=sf.identifier("role", "RECOMMENDER_DEPLOYER") or "",
        warehouse=sf.identifier("warehouse", "COMPUTE_WH") or "",
        database=sf.identifier("database", "MOVIELENS") or "",
        schema=sf.identifier("schema", "PUBLIC", required=False) or "PUBLIC",
        secret_name=secret_name,
        secret_arn=secret_arn,
        training_user=training_user,
        training_role=training_role,
        training_secret_name=training_secret_name,
        training_secret_arn=training_secret_arn,
        grant_roles=sf.identifiers("grantRoles", "ANALYST"),
        integration_name=sf.identifier("integrationName", default_integration, required=False) or default_integration,
        retain_integration=sf.flag("retainIntegration", False),
        detach=sf.flag("detach", False),
        auth=auth,
        secret_kms_key_arn=_kms_key_arn(sf),
    )
    training, endpoint, api = env.child("training"), env.child("endpoint"), env.child("api")
    endpoint_type = endpoint.text("type", "realtime", required=False, pattern="realtime|serverless") or "realtime"
    memory = endpoint.number("serverlessMemoryMb", 2048, 1024, 6144)
    if memory % 1024:
        raise ConfigError(f"cdk.json: context {endpoint.key('serverlessMemoryMb')} must be a multiple of 1024.")
    return PipelineConfig(
        name=name,
        account=env.text("account", "123456789012", required=False, pattern=r"\d{12}"),
        region=_region(env),
        resource_prefix=prefix,
        snowflake=snowflake,
        training=TrainingConfig(
            instance_type=training.text("instanceType", DEFAULT_INSTANCE_TYPE, required=False, pattern=_INSTANCE)
            or DEFAULT_INSTANCE_TYPE,
            volume_gb=training.number("volumeGb", 30, 1, 16384),
            max_runtime_seconds=training.number("maxRuntimeSeconds", 3600, 60, 28 * 24 * 3600),
            max_jobs_per_batch=training.number("maxJobsPerBatch", 3, 1, 10),
            concurrent_starts=training.optional_number("concurrentStarts", 1, 50),
        ),
        endpoint=EndpointConfig(
            type=endpoint_type,
            instance_type=endpoint.text("instanceType", DEFAULT_INSTANCE_TYPE, required=False, pattern=_INSTANCE)
            or DEFAULT_INSTANCE_TYPE,
            instance_count=endpoint.number("instanceCount", 1, 1, 100),
            serverless_memory_mb=memory,
            serverless_max_concurrency=endpoint.number("serverlessMaxConcurrency", 5, 1, 200),
        ),
        spark=_spark(env.child("spark"), auth),
        api=ApiConfig(
            throttle_rate_limit=api.number("throttleRateLimit", 50, 1, 10000),
            throttle_burst_limit=api.number("throttleBurstLimit", 100, 1, 5000),
        ),
        log_retention_days=_retention_days(env),
        alarms=_alarms(env.child("alarms"), prefix),
        manage_api_gateway_account_role=env.flag("manageApiGatewayAccountRole", True),
        endpoint_idle_hours=env.optional_number("endpointIdleHours", 1, 720),
    )


# One address, no display name: what an SNS email subscription takes (https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html).
_EMAIL = r"[^@\s\"'<>,;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"


def _alarms(alarms: _Reader, prefix: str) -> AlarmsConfig:
    """``alarms``: ``email`` (optional), ``models`` (names as given to deploy_model) and ``latencyP99Ms``."""
    email = alarms.text("email", "ops@example.com", required=False, pattern=_EMAIL)
    models = alarms.get("models", [])
    if not isinstance(models, list):
        raise ConfigError(
            f'cdk.json: context {alarms.key("models")} must be a list of model names, e.g. ["movielens"].'
        )
    names = []
    for index, model in enumerate(models):
        try:
            names.append(model_name(model, prefix, row=index))
        except InputError:
            raise ConfigError(
                f"cdk.json: context {alarms.key('models')}[{index}] must be a model name as given to deploy_model: "
                f'1-{max_model_name(prefix)} letters, digits or single hyphens, e.g. "movielens".'
            ) from None
    if len(set(names)) != len(names):
        raise ConfigError(f"cdk.json: context {alarms.key('models')} names a model twice: list each once.")
    return AlarmsConfig(email=email, models=tuple(names), latency_p99_ms=alarms.number("latencyP99Ms", 1000, 1, 60000))


def _region(env: _Reader) -> str | None:
    region = env.text("region", "us-east-1", required=False, pattern=r"[a-z]{2}(-[a-z]+)+-\d")
    if region and region.startswith("cn-"):
        raise ConfigError(
            f"cdk.json: context {env.key('region')} is an AWS China region, where Snowflake offers no API "
            'integration for external functions: choose a region of aws or aws-us-gov, e.g. "us-east-1".'
        )
    return region


# A key ARN, never an alias: IAM policies name KMS keys by key ARN (key ids are UUIDs, multi-Region ones mrk-<hex>).
_KMS_KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})"
_KMS_KEY_EXAMPLE = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _kms_key_arn(sf: _Reader) -> str | None:
    """The customer-managed KMS key the Snowflake secrets are encrypted with (absent: Secrets Manager's own key)."""
    value = sf.get("secretKmsKeyArn")
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(_KMS_KEY_ARN, value.strip()):
        raise ConfigError(
            f"cdk.json: context {sf.key('secretKmsKeyArn')} must be the ARN of the KMS key (not an alias) that "
            f'encrypts the Snowflake secrets, e.g. "{_KMS_KEY_EXAMPLE}".'
        )
    return value.strip()


def _secret(sf: _Reader, name_key: str, arn_key: str, example: str) -> tuple[str | None, str | None]:
    """Exactly one of a Secrets Manager secret's name or full ARN."""
    name = sf.text(name_key, example, required=False, pattern=r"[\w/+=.@-]{1,512}")
    arn = sf.text(
        arn_key,
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{example}-AbCdEf",
        required=False,
        pattern=SECRET_ARN.pattern,
    )
    if name and re.search(r"-[A-Za-z0-9]{6}$", name):
        raise ConfigError(
            f"cdk.json: context {sf.key(name_key)} ends like the random suffix of a secret ARN (-XXXXXX), "
            f"which AWS would misread: give the full ARN in {arn_key} instead, e.g. "
            f'"arn:aws:secretsmanager:us-east-1:123456789012:secret:{example}-AbCdEf".'
        )
    if bool(name) == bool(arn):
        raise ConfigError(
            f"cdk.json: context {sf.key(name_key)} or {sf.key(arn_key)} (exactly one) must name the "
            f'Secrets Manager secret with the Snowflake private key, e.g. "{example}".'
        )
    return name, arn


def _spark(spark: _Reader, auth: str) -> SparkConfig:
    enabled = spark.flag("enabled", False)
    if enabled and auth == WORKLOAD_IDENTITY:
        raise ConfigError(
            f'cdk.json: context {spark.key("enabled")} needs snowflake.auth "keypair": the Snowflake Spark '
            "connector signs in with the training user's key, not with workload identity."
        )
    defaults = SparkConfig()
    return SparkConfig(
        enabled=enabled,
        release_label=spark.text("releaseLabel", defaults.release_label, required=False, pattern=r"emr-\d+\.\d+\.\d+")
        or defaults.release_label,
        connector_packages=spark.text(
            "connectorPackages",
            defaults.connector_packages,
            required=False,
            pattern=r"[\w.-]+:[\w.-]+:[\w.-]+(,[\w.-]+:[\w.-]+:[\w.-]+)*",
        )
        or defaults.connector_packages,
        max_runtime_minutes=spark.number("maxRuntimeMinutes", defaults.max_runtime_minutes, 5, 7 * 24 * 60),
        max_vcpu=spark.number("maxVcpu", defaults.max_vcpu, 4, 4000),
        max_memory_gb=spark.number("maxMemoryGb", defaults.max_memory_gb, 16, 16000),
    )


RETENTION_DAYS = LOG_RETENTION_DAYS


def _retention_days(env: _Reader) -> int:
    days = env.number("logRetentionDays", 30, 1, max(RETENTION_DAYS))
    if days not in RETENTION_DAYS:
        raise ConfigError(
            f"cdk.json: context {env.key('logRetentionDays')} must be one of {', '.join(map(str, RETENTION_DAYS))}."
        )
    return days


def load_environment(name: str, cdk_json: Path = CDK_JSON) -> PipelineConfig:
    """The environment ``name`` configured in ``cdk_json``'s context."""
    try:
        context = json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"Cannot read {cdk_json} ({type(exc).__name__}): give the project's cdk.json.") from None
    environments = {config.name: config for config in load_environments(context.get(CONTEXT_KEY))}
    if name not in environments:
        raise ConfigError(f"{cdk_json.name} has no environment '{name}': choose one of {', '.join(environments)}.")
    return environments[name]
