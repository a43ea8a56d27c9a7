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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline_shared import InputError, settings
from pipeline_shared.identifiers import SECRET_ARN, plain_identifier
from pipeline_shared.resources import max_model_name, model_name
from pipeline_shared.settings import KEY_PAIR, WORKLOAD_IDENTITY, Setting, SettingError

if TYPE_CHECKING:  # typeshed's protocol of every dataclass instance
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"  # the project's, beside app.py

CONTEXT_KEY = "recommender"
# Roles that can do far more than read ratings and write recommendations: never the training jobs'.
PRIVILEGED_ROLES = frozenset({"ACCOUNTADMIN", "ORGADMIN", "SECURITYADMIN", "USERADMIN", "SYSADMIN"})


class ConfigError(ValueError):
    """Configuration that cannot be deployed; the message names the key and an example."""


# Each field declared with ``settings.X.field()`` is read from cdk.json by that declaration (key, default, rule)
# and, where the declaration names a variable, set on the external-function Lambdas (``lambda_environment``).


@dataclass(frozen=True)
class SnowflakeConfig:
    account: str = settings.SNOWFLAKE_ACCOUNT.field()
    user: str = ""
    role: str = ""
    warehouse: str = settings.WAREHOUSE.field()
    database: str = settings.DATABASE.field()
    schema: str = settings.SCHEMA.field()
    secret_name: str | None = None  # the DDL user's key (the Snowflake custom resource only)
    secret_arn: str | None = None
    training_user: str = settings.TRAINING_USER.field()  # the training jobs' own user, role and key
    training_role: str = settings.TRAINING_ROLE.field()
    training_secret_name: str | None = None
    training_secret_arn: str | None = None
    grant_roles: tuple[str, ...] = ()
    integration_name: str = ""
    retain_integration: bool = False
    detach: bool = False  # leave Snowflake alone on deploy and destroy (the way out when it refuses us)
    auth: str = settings.AUTH.field()  # or WORKLOAD_IDENTITY: both identities sign in as their AWS roles
    secret_kms_key_arn: str | None = None  # the customer-managed key both secrets are encrypted with, if any


@dataclass(frozen=True)
class TrainingConfig:
    instance_type: str = settings.TRAINING_INSTANCE_TYPE.field()
    volume_gb: int = settings.TRAINING_VOLUME_GB.field()
    max_runtime_seconds: int = settings.TRAINING_MAX_RUNTIME.field()
    max_jobs_per_batch: int = settings.MAX_JOBS_PER_BATCH.field()
    concurrent_starts: int | None = settings.CONCURRENT_STARTS.field()


@dataclass(frozen=True)
class EndpointConfig:
    type: str = settings.ENDPOINT_TYPE.field()
    instance_type: str = settings.ENDPOINT_INSTANCE_TYPE.field()
    instance_count: int = settings.ENDPOINT_INSTANCE_COUNT.field()
    serverless_memory_mb: int = settings.SERVERLESS_MEMORY.field()
    serverless_max_concurrency: int = settings.SERVERLESS_CONCURRENCY.field()


@dataclass(frozen=True)
class SparkConfig:
    """``engine=spark``: ALS on an EMR Serverless application (off by default; docs/scaling.md)."""

    enabled: bool = settings.SPARK_ENABLED.field()
    release_label: str = settings.SPARK_RELEASE.field()
    connector_packages: str = settings.SPARK_PACKAGES.field()
    max_runtime_minutes: int = settings.SPARK_MAX_RUNTIME_MINUTES.field()
    max_vcpu: int = settings.SPARK_MAX_VCPU.field()
    max_memory_gb: int = settings.SPARK_MAX_MEMORY_GB.field()


@dataclass(frozen=True)
class ApiConfig:
    throttle_rate_limit: int = settings.THROTTLE_RATE.field()
    throttle_burst_limit: int = settings.THROTTLE_BURST.field()


@dataclass(frozen=True)
class AlarmsConfig:
    """Where the alarms go and which models' endpoints get their own (``stacks.monitoring``)."""

    email: str | None = None  # None: the topic has no subscription (subscribe to it yourself)
    models: tuple[str, ...] = ()  # model names whose endpoints get 5xx, ModelError and p99 latency alarms
    latency_p99_ms: int = settings.LATENCY_P99_MS.field()


@dataclass(frozen=True)
class PipelineConfig:
    """Everything one environment's stack needs."""

    name: str
    account: str | None
    region: str | None
    resource_prefix: str = settings.RESOURCE_PREFIX.field()
    snowflake: SnowflakeConfig = field(default_factory=SnowflakeConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    log_retention_days: int = settings.LOG_RETENTION.field()
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    # False for a shared account whose API Gateway CloudWatch role is someone else's: no account stack for it.
    manage_api_gateway_account_role: bool = settings.MANAGE_API_GATEWAY_ACCOUNT_ROLE.field()
    spark: SparkConfig = field(default_factory=SparkConfig)
    endpoint_idle_hours: int | None = settings.ENDPOINT_IDLE_HOURS.field()  # None: no sweep

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
        supplied = {
            settings.IMAGE_URI: image_uri,
            settings.TRAINING_ROLE_ARN: sagemaker_role_arn,  # training jobs
            settings.HOSTING_ROLE_ARN: hosting_role_arn,  # models behind endpoints
            settings.ARTIFACT_BUCKET: bucket,
            settings.SECRET_ARN: secret_arn,
        }
        sections = (self, self.snowflake, self.training, self.endpoint)
        # ENDPOINT_IDLE_HOURS is the sweep's alone (stacks.idle_endpoint_sweep).
        values = settings.environment(*sections, leave_out=(settings.ENDPOINT_IDLE_HOURS,))
        return {**values, **settings.variables(supplied)}


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

    def setting(self, setting: Setting, *, required: bool = False, default: Any = None) -> Any:
        """The value of a declared setting (``pipeline_shared.settings``) held by this mapping, or its default.

        cdk.json holds each value as its JSON type: ``"30"`` is not a number there, nor ``"true"`` a flag.
        A null reads as absent for text and for settings without a default. ``default``, when given, stands in
        for an absent value and is checked like one given (a default computed from other settings).
        """
        name = (setting.key or "").rsplit(".", 1)[-1]
        value = self.get(name)
        json_type = setting.rule.json_type
        absent = value is None and (json_type is str or setting.default is None or not self.has(name))
        if absent or (isinstance(value, str) and not value.strip()):
            if required:
                raise ConfigError(f'cdk.json: context {self.key(name)} is missing: set it, e.g. "{setting.example}".')
            if default is None:
                return setting.default
            value = default
        if not isinstance(value, json_type) or (json_type is int and isinstance(value, bool)):
            raise ConfigError(f"cdk.json: context {self.key(name)} {setting.rule.refusal()}.")
        try:
            return setting.parse(value)
        except SettingError as exc:
            raise ConfigError(f"cdk.json: context {self.key(name)} {exc}.") from None

    def section(self, cls: type[T]) -> T:
        """The dataclass ``cls`` with each of its declared settings read from this mapping."""
        declared = {f.name: f.metadata["setting"] for f in fields(cls) if "setting" in f.metadata}
        return cls(**{name: self.setting(setting) for name, setting in declared.items()})

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

    def identifiers(self, name: str, example: str) -> tuple[str, ...]:
        values = self.get(name, [])
        if not isinstance(values, list):
            raise ConfigError(f'cdk.json: context {self.key(name)} must be a list, e.g. ["{example}"].')
        reader = _Reader({str(i): v for i, v in enumerate(values)}, self.key(name))
        return tuple(reader.identifier(str(i), example) or "" for i in range(len(values)))


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
    # the default is checked as if given: a long environment name makes it too long
    prefix = env.setting(settings.RESOURCE_PREFIX, default=f"movielens-{name.lower()}")
    sf = env.child("snowflake")
    auth = sf.setting(settings.AUTH)
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
    user = sf.setting(settings.ADMIN_USER, required=True)
    training_user = sf.setting(settings.TRAINING_USER, required=True)
    if training_user == user:
        raise ConfigError(
            f"cdk.json: context {sf.key('trainingUser')} must be another Snowflake user than {sf.key('user')} "
            '(the DDL user): create one for training jobs, e.g. "RECOMMENDER_TRAINER" (see README, Snowflake roles).'
        )
    training_role = sf.setting(settings.TRAINING_ROLE, required=True)
    if training_role in PRIVILEGED_ROLES:
        raise ConfigError(
            f"cdk.json: context {sf.key('trainingRole')} must be a role that may only read the input tables and "
            f'write the output tables, not {training_role}: create one, e.g. "RECOMMENDER_TRAINER" '
            "(see README, Snowflake roles)."
        )
    default_integration = prefix.upper().replace("-", "_") + "_API"
    snowflake = SnowflakeConfig(
        account=sf.setting(settings.SNOWFLAKE_ACCOUNT, required=True),
        user=user,
        role=sf.setting(settings.ADMIN_ROLE, required=True),
        warehouse=sf.setting(settings.WAREHOUSE, required=True),
        database=sf.setting(settings.DATABASE, required=True),
        schema=sf.setting(settings.SCHEMA),
        secret_name=secret_name,
        secret_arn=secret_arn,
        training_user=training_user,
        training_role=training_role,
        training_secret_name=training_secret_name,
        training_secret_arn=training_secret_arn,
        grant_roles=sf.identifiers("grantRoles", "ANALYST"),
        integration_name=sf.setting(settings.INTEGRATION_NAME) or default_integration,
        retain_integration=sf.setting(settings.RETAIN_INTEGRATION),
        detach=sf.setting(settings.DETACH),
        auth=auth,
        secret_kms_key_arn=_kms_key_arn(sf),
    )
    return PipelineConfig(
        name=name,
        account=env.text("account", "123456789012", required=False, pattern=r"\d{12}"),
        region=_region(env),
        resource_prefix=prefix,
        snowflake=snowflake,
        training=env.child("training").section(TrainingConfig),
        endpoint=env.child("endpoint").section(EndpointConfig),
        spark=_spark(env.child("spark"), auth),
        api=env.child("api").section(ApiConfig),
        log_retention_days=env.setting(settings.LOG_RETENTION),
        alarms=_alarms(env.child("alarms"), prefix),
        manage_api_gateway_account_role=env.setting(settings.MANAGE_API_GATEWAY_ACCOUNT_ROLE),
        endpoint_idle_hours=env.setting(settings.ENDPOINT_IDLE_HOURS),
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
    return AlarmsConfig(email=email, models=tuple(names), latency_p99_ms=alarms.setting(settings.LATENCY_P99_MS))


def _region(env: _Reader) -> str | None:
    region = env.setting(settings.AWS_REGION)
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
    config = spark.section(SparkConfig)
    if config.enabled and auth == WORKLOAD_IDENTITY:
        raise ConfigError(
            f'cdk.json: context {spark.key("enabled")} needs snowflake.auth "keypair": the Snowflake Spark '
            "connector signs in with the training user's key, not with workload identity."
        )
    return config


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
