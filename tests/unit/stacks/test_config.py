"""stacks.config: cdk.json context -> typed, validated PipelineConfig per environment."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.config import AlarmsConfig, ConfigError, PipelineConfig, load_environments

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = json.loads((ROOT / "cdk.json").read_text())["context"]["recommender"]
DEV = "recommender.environments.dev"
SF = f"{DEV}.snowflake"


def context() -> dict[str, Any]:
    """A fresh deep copy of the shipped ``recommender`` context, safe to mutate."""
    return copy.deepcopy(SHIPPED)


def dev(ctx: dict[str, Any]) -> dict[str, Any]:
    return ctx["environments"]["dev"]


def by_name(configs: list[PipelineConfig]) -> dict[str, PipelineConfig]:
    return {c.name: c for c in configs}


def load_dev(ctx: dict[str, Any]) -> PipelineConfig:
    return by_name(load_environments(ctx))["dev"]


def config_error(ctx: dict[str, Any] | None) -> str:
    with pytest.raises(ConfigError) as info:
        load_environments(ctx)
    return str(info.value)


def assert_one_sentence(message: str) -> None:
    """One line, ends with a full stop, no second sentence (a full stop followed by a capital)."""
    assert "\n" not in message
    assert message.endswith("."), message
    without_examples = message.replace("e.g.", "eg")
    assert not re.search(r"[.!?]\s+[A-Z]", without_examples), message


def assert_names_key_with_example(message: str, key: str, example: str) -> None:
    assert f"context {key} " in message, message
    assert f'e.g. "{example}"' in message, message
    assert_one_sentence(message)


# -- the shipped environments -----------------------------------------------------------------


def test_shipped_environments_parse():
    configs = load_environments(context())
    assert [c.name for c in configs] == ["dev", "prod"]
    envs = by_name(configs)
    dev_config, prod = envs["dev"], envs["prod"]

    assert dev_config.resource_prefix == "movielens-dev"
    assert prod.resource_prefix == "movielens-prod"
    assert dev_config.stack_name == "Recommender-dev"
    assert prod.stack_name == "Recommender-prod"
    assert dev_config.endpoint.type == "serverless"
    assert prod.endpoint.type == "realtime"
    assert prod.endpoint.instance_type == "ml.m5.large"
    assert prod.endpoint.instance_count == 1
    assert dev_config.account is None
    assert dev_config.region is None


def test_shipped_snowflake_settings():
    envs = by_name(load_environments(context()))
    sf = envs["dev"].snowflake
    assert sf.account == "myorg-myaccount"
    assert (sf.user, sf.role, sf.secret_name, sf.secret_arn) == (
        "RECOMMENDER_ADMIN",
        "RECOMMENDER_DEPLOYER",
        "snowflake/recommender-admin",
        None,
    )
    assert (sf.training_user, sf.training_role, sf.training_secret_name, sf.training_secret_arn) == (
        "RECOMMENDER_TRAINER",
        "RECOMMENDER_TRAINER",
        "snowflake/recommender-trainer",
        None,
    )
    assert sf.warehouse == "COMPUTE_WH"
    assert sf.database == "MOVIELENS"
    assert sf.schema == "PUBLIC"
    assert sf.grant_roles == ("ANALYST",)
    assert isinstance(sf.grant_roles, tuple)
    assert sf.retain_integration is False
    assert sf.integration_name == "MOVIELENS_DEV_API"
    assert envs["prod"].snowflake.integration_name == "MOVIELENS_PROD_API"


def test_schema_defaults_to_public_when_absent():
    ctx = context()
    del dev(ctx)["snowflake"]["schema"]
    assert load_dev(ctx).snowflake.schema == "PUBLIC"


def test_identifiers_are_upper_cased_and_integration_name_overridable():
    ctx = context()
    dev(ctx)["snowflake"].update(user="recommender_svc", integrationName="my_api", grantRoles=["analyst", "SYSADMIN"])
    sf = load_dev(ctx).snowflake
    assert sf.user == "RECOMMENDER_SVC"
    assert sf.integration_name == "MY_API"
    assert sf.grant_roles == ("ANALYST", "SYSADMIN")


def test_minimal_environment_gets_every_default():
    ctx = {
        "environments": {
            "qa": {
                "snowflake": {
                    "account": "myorg-myaccount",
                    "user": "RECOMMENDER_ADMIN",
                    "role": "RECOMMENDER_DEPLOYER",
                    "warehouse": "COMPUTE_WH",
                    "database": "MOVIELENS",
                    "secretName": "snowflake/recommender-admin",
                    "trainingUser": "RECOMMENDER_TRAINER",
                    "trainingRole": "RECOMMENDER_TRAINER",
                    "trainingSecretName": "snowflake/recommender-trainer",
                }
            }
        }
    }
    [config] = load_environments(ctx)
    assert config.name == "qa"
    assert config.stack_name == "Recommender-qa"
    assert config.resource_prefix == "movielens-qa"
    assert config.account is None
    assert config.region is None
    assert config.training.instance_type == "ml.m5.large"
    assert config.training.volume_gb == 30
    assert config.training.max_runtime_seconds == 3600
    assert config.endpoint.type == "realtime"
    assert config.endpoint.instance_type == "ml.m5.large"
    assert config.endpoint.instance_count == 1
    assert config.endpoint.serverless_memory_mb == 2048
    assert config.endpoint.serverless_max_concurrency == 5
    assert config.api.throttle_rate_limit == 50
    assert config.api.throttle_burst_limit == 100
    assert config.log_retention_days == 30
    assert config.alarms == AlarmsConfig(email=None, models=(), latency_p99_ms=1000)
    sf = config.snowflake
    assert sf.schema == "PUBLIC"
    assert sf.grant_roles == ()
    assert sf.retain_integration is False
    assert sf.training_role == "RECOMMENDER_TRAINER"
    assert sf.secret_arn is None
    assert sf.integration_name == "MOVIELENS_QA_API"


def test_secret_arn_alone_is_accepted():
    ctx = context()
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:snowflake/recommender-AbCdEf"
    del dev(ctx)["snowflake"]["secretName"]
    dev(ctx)["snowflake"]["secretArn"] = arn
    sf = load_dev(ctx).snowflake
    assert sf.secret_arn == arn
    assert sf.secret_name is None


def test_account_and_region_are_read():
    ctx = context()
    dev(ctx).update(account="123456789012", region="eu-west-1")
    config = load_dev(ctx)
    assert config.account == "123456789012"
    assert config.region == "eu-west-1"


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ctx", [None, {}, {"environments": {}}, {"environments": []}], ids=repr)
def test_no_environments(ctx):
    message = config_error(ctx)
    assert "recommender.environments" in message
    assert "e.g." in message and '"dev"' in message
    assert_one_sentence(message)


def test_bad_environment_name():
    ctx = context()
    ctx["environments"]["dev env"] = ctx["environments"].pop("dev")
    message = config_error(ctx)
    assert '"dev env"' in message
    assert 'e.g. "dev"' in message
    assert_one_sentence(message)


@pytest.mark.parametrize(
    ("key", "example"),
    [
        ("account", "myorg-myaccount"),
        ("user", "RECOMMENDER_ADMIN"),
        ("role", "RECOMMENDER_DEPLOYER"),
        ("warehouse", "COMPUTE_WH"),
        ("database", "MOVIELENS"),
    ],
)
def test_missing_snowflake_key(key, example):
    ctx = context()
    del dev(ctx)["snowflake"][key]
    message = config_error(ctx)
    assert f"{SF}.{key} is missing" in message
    assert_names_key_with_example(message, f"{SF}.{key}", example)


@pytest.mark.parametrize("key", ["account", "user", "role", "warehouse", "database"])
def test_blank_snowflake_key_counts_as_missing(key):
    ctx = context()
    dev(ctx)["snowflake"][key] = "   "
    assert f"{SF}.{key} is missing" in config_error(ctx)


def test_malformed_account():
    ctx = context()
    dev(ctx)["snowflake"]["account"] = "my account!"
    message = config_error(ctx)
    assert f"{SF}.account is malformed" in message
    assert_names_key_with_example(message, f"{SF}.account", "myorg-myaccount")


@pytest.mark.parametrize("user", ['X"; drop', "MOVIELENS.RECOMMENDER_SVC", "1USER", 42])
def test_user_must_be_plain_identifier(user):
    ctx = context()
    dev(ctx)["snowflake"]["user"] = user
    message = config_error(ctx)
    assert_names_key_with_example(message, f"{SF}.user", "RECOMMENDER_ADMIN")


def test_both_secret_name_and_arn():
    ctx = context()
    dev(ctx)["snowflake"]["secretArn"] = (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake/recommender-AbCdEf"
    )
    message = config_error(ctx)
    assert f"{SF}.secretName" in message and f"{SF}.secretArn" in message
    assert "exactly one" in message
    assert 'e.g. "snowflake/recommender-admin"' in message
    assert_one_sentence(message)


def test_neither_secret_name_nor_arn():
    ctx = context()
    del dev(ctx)["snowflake"]["secretName"]
    message = config_error(ctx)
    assert f"{SF}.secretName" in message and f"{SF}.secretArn" in message
    assert "exactly one" in message
    assert_one_sentence(message)


@pytest.mark.parametrize(
    "arn",
    [
        "snowflake/recommender",
        "arn:aws:secretsmanager:us-east-1:12345:secret:snowflake/recommender",
        "arn:aws:s3:::bucket",
    ],
)
def test_malformed_secret_arn(arn):
    ctx = context()
    del dev(ctx)["snowflake"]["secretName"]
    dev(ctx)["snowflake"]["secretArn"] = arn
    message = config_error(ctx)
    assert f"{SF}.secretArn is malformed" in message
    assert_names_key_with_example(
        message,
        f"{SF}.secretArn",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake/recommender-admin-AbCdEf",
    )


@pytest.mark.parametrize(
    "prefix",
    ["Movielens-dev", "movielens_dev", "a" * 17, "movielens-dev-xyz", "-movielens", "movielens-"],
    ids=["upper-case", "underscore", "17-chars", "17-chars-hyphenated", "leading-hyphen", "trailing-hyphen"],
)
def test_bad_resource_prefix(prefix):
    ctx = context()
    dev(ctx)["resourcePrefix"] = prefix
    message = config_error(ctx)
    assert_names_key_with_example(message, f"{DEV}.resourcePrefix", "movielens-dev")
    assert "16" in message


def test_default_prefix_too_long_names_resource_prefix():
    """A long environment name gives a default prefix over 16 characters: the error says what to set."""
    ctx = context()
    staging = ctx["environments"].pop("dev")
    del staging["resourcePrefix"]
    ctx["environments"]["staging"] = staging
    message = config_error(ctx)
    assert_names_key_with_example(message, "recommender.environments.staging.resourcePrefix", "movielens-dev")


def test_sixteen_char_prefix_is_accepted():
    ctx = context()
    dev(ctx)["resourcePrefix"] = "movielens-dev-12"
    assert load_dev(ctx).resource_prefix == "movielens-dev-12"
    assert load_dev(ctx).snowflake.integration_name == "MOVIELENS_DEV_12_API"


def test_endpoint_type_must_be_realtime_or_serverless():
    ctx = context()
    dev(ctx)["endpoint"]["type"] = "gpu"
    message = config_error(ctx)
    assert message == f"cdk.json: context {DEV}.endpoint.type must be 'realtime' or 'serverless'."


@pytest.mark.parametrize("section", ["training", "endpoint"])
@pytest.mark.parametrize("instance_type", ["ml.t2.medium", "m5.large", "ml.m5", "ML.M5.LARGE"])
def test_instance_type_rejected(section, instance_type):
    ctx = context()
    dev(ctx).setdefault(section, {})["instanceType"] = instance_type
    message = config_error(ctx)
    assert_names_key_with_example(message, f"{DEV}.{section}.instanceType", "ml.m5.large")


@pytest.mark.parametrize("instance_type", ["ml.m5.large", "ml.c5.2xlarge", "ml.g4dn.xlarge"])
def test_training_instance_type_accepted(instance_type):
    ctx = context()
    dev(ctx)["training"] = {"instanceType": instance_type}
    assert load_dev(ctx).training.instance_type == instance_type


def test_serverless_memory_must_be_multiple_of_1024():
    ctx = context()
    dev(ctx)["endpoint"]["serverlessMemoryMb"] = 1500
    message = config_error(ctx)
    assert f"{DEV}.endpoint.serverlessMemoryMb" in message
    assert "multiple of 1024" in message
    assert_one_sentence(message)


@pytest.mark.parametrize("memory", [7168, 0, 512])
def test_serverless_memory_out_of_range(memory):
    ctx = context()
    dev(ctx)["endpoint"]["serverlessMemoryMb"] = memory
    message = config_error(ctx)
    assert f"{DEV}.endpoint.serverlessMemoryMb must be a whole number from 1024 to 6144" in message
    assert_one_sentence(message)


@pytest.mark.parametrize("memory", [1024, 3072, 6144])
def test_serverless_memory_accepted(memory):
    ctx = context()
    dev(ctx)["endpoint"]["serverlessMemoryMb"] = memory
    assert load_dev(ctx).endpoint.serverless_memory_mb == memory


@pytest.mark.parametrize("count", [0, True, False, 1.5, "1", None, 101], ids=repr)
def test_instance_count_must_be_a_whole_number(count):
    ctx = context()
    dev(ctx)["endpoint"]["instanceCount"] = count
    message = config_error(ctx)
    assert f"{DEV}.endpoint.instanceCount must be a whole number from 1 to 100" in message
    assert_one_sentence(message)


@pytest.mark.parametrize(
    ("section", "key", "low", "high"),
    [
        ("training", "volumeGb", 1, 16384),
        ("training", "maxRuntimeSeconds", 60, 28 * 24 * 3600),
        ("endpoint", "serverlessMaxConcurrency", 1, 200),
        ("api", "throttleRateLimit", 1, 10000),
        ("api", "throttleBurstLimit", 1, 5000),
    ],
)
def test_numbers_outside_range(section, key, low, high):
    for value in (low - 1, high + 1, True):
        ctx = context()
        dev(ctx).setdefault(section, {})[key] = value
        message = config_error(ctx)
        assert f"{DEV}.{section}.{key} must be a whole number from {low} to {high}" in message, value
        assert_one_sentence(message)


def test_log_retention_must_be_a_cloudwatch_value():
    ctx = context()
    dev(ctx)["logRetentionDays"] = 45
    message = config_error(ctx)
    assert f"{DEV}.logRetentionDays must be one of" in message
    assert "365" in message
    assert_one_sentence(message)


@pytest.mark.parametrize("days", [1, 7, 30, 365, 3653])
def test_log_retention_accepted(days):
    ctx = context()
    dev(ctx)["logRetentionDays"] = days
    assert load_dev(ctx).log_retention_days == days


@pytest.mark.parametrize("days", [0, 4000, "30", True], ids=repr)
def test_log_retention_not_a_whole_number_in_range(days):
    ctx = context()
    dev(ctx)["logRetentionDays"] = days
    assert f"{DEV}.logRetentionDays" in config_error(ctx)


@pytest.mark.parametrize("value", ["yes", "true", 1, None], ids=repr)
def test_retain_integration_must_be_boolean(value):
    ctx = context()
    dev(ctx)["snowflake"]["retainIntegration"] = value
    message = config_error(ctx)
    assert f"{SF}.retainIntegration must be true or false" in message
    assert_one_sentence(message)


def test_retain_integration_true():
    ctx = context()
    dev(ctx)["snowflake"]["retainIntegration"] = True
    assert load_dev(ctx).snowflake.retain_integration is True


@pytest.mark.parametrize("roles", ["SYSADMIN", {"role": "SYSADMIN"}, 1], ids=repr)
def test_grant_roles_must_be_a_list(roles):
    ctx = context()
    dev(ctx)["snowflake"]["grantRoles"] = roles
    message = config_error(ctx)
    assert f"{SF}.grantRoles must be a list" in message
    assert 'e.g. ["ANALYST"]' in message
    assert_one_sentence(message)


def test_grant_roles_entry_must_be_plain_identifier():
    ctx = context()
    dev(ctx)["snowflake"]["grantRoles"] = ["SYSADMIN", "bad role; drop"]
    message = config_error(ctx)
    assert_names_key_with_example(message, f"{SF}.grantRoles.1", "ANALYST")


@pytest.mark.parametrize("account", ["12345", "1234567890123", "12345678901a", 123456789012], ids=repr)
def test_aws_account_must_be_twelve_digits(account):
    ctx = context()
    dev(ctx)["account"] = account
    message = config_error(ctx)
    assert f"{DEV}.account is malformed" in message
    assert_names_key_with_example(message, f"{DEV}.account", "123456789012")


@pytest.mark.parametrize("region", ["Mars-1", "us-east", "useast1", "US-EAST-1"])
def test_region_malformed(region):
    ctx = context()
    dev(ctx)["region"] = region
    message = config_error(ctx)
    assert f"{DEV}.region is malformed" in message
    assert_names_key_with_example(message, f"{DEV}.region", "us-east-1")


def test_error_in_prod_names_prod():
    ctx = context()
    del ctx["environments"]["prod"]["snowflake"]["warehouse"]
    assert "recommender.environments.prod.snowflake.warehouse is missing" in config_error(ctx)


def test_section_that_is_not_an_object():
    ctx = context()
    dev(ctx)["endpoint"] = "serverless"
    message = config_error(ctx)
    assert f"{DEV}.endpoint must be an object" in message
    assert_one_sentence(message)


def test_load_does_not_mutate_context():
    ctx = context()
    load_environments(ctx)
    assert ctx == SHIPPED


# -- two Snowflake identities ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["trainingUser", "trainingRole"])
def test_the_training_identity_is_required(key):
    ctx = context()
    del dev(ctx)["snowflake"][key]
    message = config_error(ctx)
    assert f"context {SF}.{key} is missing" in message
    assert_one_sentence(message)


def test_training_secret_is_required():
    ctx = context()
    del dev(ctx)["snowflake"]["trainingSecretName"]
    assert f"context {SF}.trainingSecretName or {SF}.trainingSecretArn (exactly one)" in config_error(ctx)


@pytest.mark.parametrize("role", ["ACCOUNTADMIN", "accountadmin", "SECURITYADMIN", "SYSADMIN", "ORGADMIN"])
def test_the_training_role_is_never_an_administrator(role):
    ctx = context()
    dev(ctx)["snowflake"]["trainingRole"] = role
    message = config_error(ctx)
    assert f"context {SF}.trainingRole must be a role that may only read the input tables" in message
    assert_one_sentence(message)


def test_training_jobs_use_another_user_and_secret_than_the_ddl():
    ctx = context()
    dev(ctx)["snowflake"]["trainingUser"] = "recommender_admin"
    assert f"context {SF}.trainingUser must be another Snowflake user than {SF}.user" in config_error(ctx)
    ctx = context()
    dev(ctx)["snowflake"]["trainingSecretName"] = dev(ctx)["snowflake"]["secretName"]
    assert f"context {SF}.trainingSecretName names the same secret" in config_error(ctx)


def test_the_lambdas_start_training_jobs_as_the_training_identity():
    env = load_dev(context()).lambda_environment(
        image_uri="i", sagemaker_role_arn="r", hosting_role_arn="h", bucket="b", secret_arn="training-secret"
    )
    assert (env["SNOWFLAKE_USER"], env["SNOWFLAKE_ROLE"]) == ("RECOMMENDER_TRAINER", "RECOMMENDER_TRAINER")
    assert env["SNOWFLAKE_SECRET_ARN"] == "training-secret"


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1"])
def test_aws_china_is_refused_at_synth(region):
    ctx = context()
    dev(ctx)["region"] = region
    message = config_error(ctx)
    assert f"context {DEV}.region is an AWS China region" in message
    assert_one_sentence(message)


def test_govcloud_regions_are_accepted():
    ctx = context()
    dev(ctx)["region"] = "us-gov-west-1"
    assert load_dev(ctx).region == "us-gov-west-1"


def test_detach_defaults_to_managing_snowflake():
    assert load_dev(context()).snowflake.detach is False
    ctx = context()
    dev(ctx)["snowflake"]["detach"] = True
    assert load_dev(ctx).snowflake.detach is True
    dev(ctx)["snowflake"]["detach"] = "yes"
    assert f"context {SF}.detach must be true or false" in config_error(ctx)


# -- workload identity federation: no stored secret -------------------------------------------------


def wif_context() -> dict[str, Any]:
    ctx = context()
    sf = dev(ctx)["snowflake"]
    for key in ("secretName", "trainingSecretName"):
        del sf[key]
    sf["auth"] = "wif"
    return ctx


def test_workload_identity_needs_no_secret():
    config = load_dev(wif_context())
    sf = config.snowflake
    assert sf.auth == "wif"
    assert (sf.secret_name, sf.secret_arn, sf.training_secret_name, sf.training_secret_arn) == (None,) * 4
    env = config.lambda_environment(
        image_uri="i", sagemaker_role_arn="r", hosting_role_arn="h", bucket="b", secret_arn=None
    )
    assert env["SNOWFLAKE_AUTH"] == "wif" and "SNOWFLAKE_SECRET_ARN" not in env


def test_key_pair_stays_the_default():
    env = load_dev(context()).lambda_environment(
        image_uri="i", sagemaker_role_arn="r", hosting_role_arn="h", bucket="b", secret_arn="s"
    )
    assert "SNOWFLAKE_AUTH" not in env


@pytest.mark.parametrize("key", ["secretName", "trainingSecretArn"])
def test_a_secret_beside_workload_identity_is_refused(key):
    ctx = wif_context()
    dev(ctx)["snowflake"][key] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"
    message = config_error(ctx)
    assert f'context {SF}.{key} is not used with auth "wif"' in message
    assert_one_sentence(message)


def test_unknown_auth_is_refused():
    ctx = context()
    dev(ctx)["snowflake"]["auth"] = "password"
    assert config_error(ctx) == f"cdk.json: context {SF}.auth must be 'keypair' or 'wif'."


def test_cost_guard_defaults_and_bounds():
    training = load_dev(context()).training
    assert (training.max_jobs_per_batch, training.concurrent_starts) == (3, None)
    ctx = context()
    dev(ctx)["training"] = {"maxJobsPerBatch": 11}
    assert f"context {DEV}.training.maxJobsPerBatch must be a whole number from 1 to 10" in config_error(ctx)


def test_reserved_concurrency_is_only_what_is_set():
    """Lambda keeps 100 of an account's concurrency unreserved (less on new accounts): reserving is opt-in."""
    for value, expected in ((4, 4), (None, None)):  # null reads as unset
        ctx = context()
        dev(ctx)["training"] = {"concurrentStarts": value}
        assert load_dev(ctx).training.concurrent_starts == expected
    for value in (0, 51, True, "2"):
        ctx = context()
        dev(ctx)["training"] = {"concurrentStarts": value}
        message = config_error(ctx)
        assert message == f"cdk.json: context {DEV}.training.concurrentStarts must be a whole number from 1 to 50.", (
            value
        )
        assert_one_sentence(message)


def test_the_idle_endpoint_sweep_is_off_unless_a_window_is_set():
    assert load_dev(context()).endpoint_idle_hours is None
    ctx = context()
    dev(ctx)["endpointIdleHours"] = 24
    assert load_dev(ctx).endpoint_idle_hours == 24
    for value in (0, 721, "24", 1.5):
        ctx = context()
        dev(ctx)["endpointIdleHours"] = value
        message = config_error(ctx)
        assert message == f"cdk.json: context {DEV}.endpointIdleHours must be a whole number from 1 to 720.", value
        assert_one_sentence(message)


KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_secrets_use_secrets_managers_own_key_unless_told():
    assert load_dev(context()).snowflake.secret_kms_key_arn is None


@pytest.mark.parametrize(
    "arn",
    [
        KEY_ARN,
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ],
)
def test_a_customer_managed_key_for_the_secrets_is_accepted(arn):
    ctx = context()
    dev(ctx)["snowflake"]["secretKmsKeyArn"] = f" {arn} "
    assert load_dev(ctx).snowflake.secret_kms_key_arn == arn


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:kms:us-east-1:123456789012:alias/snowflake",  # IAM policies cannot name a key by alias
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake/recommender-admin-AbCdEf",
        "arn:aws:kms:us-east-1:123456789012:key/not-a-key-id",
        "",
        42,
    ],
)
def test_a_malformed_kms_key_arn_is_refused(value):
    ctx = context()
    dev(ctx)["snowflake"]["secretKmsKeyArn"] = value
    message = config_error(ctx)
    assert message.startswith(f"cdk.json: context {SF}.secretKmsKeyArn must be the ARN of the KMS key (not an alias)")
    assert f'e.g. "{KEY_ARN}"' in message
    assert_one_sentence(message)


def test_a_kms_key_beside_workload_identity_is_refused():
    ctx = wif_context()
    dev(ctx)["snowflake"]["secretKmsKeyArn"] = KEY_ARN
    message = config_error(ctx)
    assert f'context {SF}.secretKmsKeyArn is not used with auth "wif"' in message
    assert_one_sentence(message)


# -- environments that cannot touch each other ---------------------------------------------------------


def two_environments(**prod_changes: Any) -> dict[str, Any]:
    ctx = context()
    prod = ctx["environments"]["prod"]
    for key, value in prod_changes.items():
        section, _, name = key.rpartition("__")
        (prod[section] if section else prod)[name] = value
    return ctx


@pytest.mark.parametrize("prefix", ["movielens", "movielens-dev", "movielens-dev-eu"])
def test_a_prefix_that_covers_another_environments_is_refused(prefix):
    message = config_error(two_environments(resourcePrefix=prefix))
    assert "cdk.json: environments dev and prod: resourcePrefix" in message
    assert "covers" in message
    assert_one_sentence(message.replace("\\'", ""))


def test_prefixes_that_only_share_letters_are_fine():
    assert len(load_environments(two_environments(resourcePrefix="movielensdev"))) == 2


def test_two_environments_in_one_schema_are_refused():
    message = config_error(two_environments(snowflake__schema="PUBLIC"))
    assert "put their external functions in MOVIELENS.PUBLIC" in message
    assert "give each environment its own snowflake.schema" in message


def test_one_integration_for_two_environments_is_refused():
    message = config_error(two_environments(snowflake__integrationName="MOVIELENS_DEV_API"))
    assert "share the API integration MOVIELENS_DEV_API" in message


def test_other_snowflake_accounts_may_reuse_schema_and_integration_names():
    ctx = two_environments(snowflake__schema="PUBLIC", snowflake__integrationName="MOVIELENS_DEV_API")
    ctx["environments"]["prod"]["snowflake"]["account"] = "myorg-production"
    assert len(load_environments(ctx)) == 2


# -- alarms -----------------------------------------------------------------------------------


def test_alarms_read_email_models_and_latency():
    ctx = context()
    dev(ctx)["alarms"] = {"email": " ops@example.com ", "models": ["MovieLens", "exp-1"], "latencyP99Ms": 250}
    assert load_dev(ctx).alarms == AlarmsConfig(
        email="ops@example.com", models=("movielens", "exp-1"), latency_p99_ms=250
    )


@pytest.mark.parametrize("email", ["ops", "ops@", "Ops <ops@example.com>", "a@b", 7])
def test_a_malformed_alarm_email_names_the_key(email):
    ctx = context()
    dev(ctx)["alarms"] = {"email": email}
    assert_names_key_with_example(config_error(ctx), f"{DEV}.alarms.email", "ops@example.com")


@pytest.mark.parametrize("models", ["movielens", ["bad name"], ["-x"], [""], ["a" * 60], ["m", "M"]])
def test_alarm_models_must_be_deployable_names_listed_once(models):
    ctx = context()
    dev(ctx)["alarms"] = {"models": models}
    message = config_error(ctx)
    assert f"context {DEV}.alarms.models" in message
    assert_one_sentence(message)


def test_the_api_gateway_account_role_is_managed_unless_opted_out():
    assert load_dev(context()).manage_api_gateway_account_role is True
    ctx = context()
    dev(ctx)["manageApiGatewayAccountRole"] = False
    assert load_dev(ctx).manage_api_gateway_account_role is False
    dev(ctx)["manageApiGatewayAccountRole"] = "no"
    message = config_error(ctx)
    assert f"{DEV}.manageApiGatewayAccountRole must be true or false" in message
    assert_one_sentence(message)


@pytest.mark.parametrize(
    ("where", "key", "hint"),
    [
        ((), "logRetentionDayz", "rename it to logRetentionDays if that was meant, or remove it."),
        (("snowflake",), "warehose", "rename it to warehouse if that was meant, or remove it."),
        (("endpoint",), "instanceTyp", "rename it to instanceType if that was meant, or remove it."),
        (("alarms",), "model", "rename it to models if that was meant, or remove it."),
        (("training",), "gpu", "remove it (the settings here are concurrentStarts, instanceType, "),
    ],
)
def test_an_unknown_or_misspelt_key_stops_synth_naming_it_and_the_nearest_setting(where, key, hint):
    ctx = context()
    section = dev(ctx)
    for name in where:
        section = section.setdefault(name, {})
    section[key] = 1
    message = config_error(ctx)
    path = ".".join((DEV, *where, key))
    assert message.startswith(f"cdk.json: context {path} is not a setting: {hint}"), message
    assert_one_sentence(message)


def test_every_retention_cdk_json_accepts_has_its_cloudwatch_enum():
    from pipeline_shared.resources import LOG_RETENTION_DAYS
    from stacks.recommender_stack import RETENTION

    assert tuple(RETENTION) == LOG_RETENTION_DAYS


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("account", "myorg-myaccount-"),
        ("secretArn", "arn:aws-iso:secretsmanager:us-iso-east-1:123456789012:secret:snowflake/admin-AbCdEf"),
    ],
)
def test_an_account_or_secret_arn_the_image_and_custom_resource_would_refuse_stops_synth(key, value):
    ctx = context()
    sf = dev(ctx)["snowflake"]
    if key == "secretArn":
        del sf["secretName"]
    sf[key] = value
    assert f"context {SF}.{key} is malformed" in config_error(ctx)
