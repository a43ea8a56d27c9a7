"""The Lambdas' configuration from the environment the stack sets (no AWS calls)."""

import pytest

from external_functions.errors import PipelineError
from external_functions.protocol import status_of
from external_functions.settings import (
    Environment,
    HostingSettings,
    MisconfiguredError,
    TrainingSettings,
)
from pipeline_shared import settings as contract
from pipeline_shared.resources import MAX_PREFIX
from tests.support.lambda_env import TRAINING_ENV

PREFIX16 = "recsys-prod-euw1"

# --- settings -------------------------------------------------------------------------------------

OPTIONAL_SNOWFLAKE = {
    "SNOWFLAKE_ROLE": "RECOMMENDER",
    "SNOWFLAKE_WAREHOUSE": "COMPUTE_WH",
    "SNOWFLAKE_DATABASE": "MOVIELENS",
    "SNOWFLAKE_SCHEMA": "PUBLIC",
    "SNOWFLAKE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake-key-AbCdEf",
    "AWS_REGION": "eu-west-1",
}
ALLOWED_HYPERPARAMETERS = {
    "snowflake_account",
    "snowflake_user",
    "snowflake_role",
    "snowflake_warehouse",
    "snowflake_database",
    "snowflake_schema",
    "snowflake_secret_arn",
    "aws_region",
}


def env(**values):
    return Environment(values=values, function="f")


def misconfigured(build, *, naming):
    with pytest.raises(MisconfiguredError) as info:
        build()
    error = info.value
    assert isinstance(error, PipelineError)
    assert status_of(error) == 400
    assert naming in error.message
    assert error.message.startswith("The f function is misconfigured")
    return error


@pytest.mark.parametrize("values", [{}, {"RESOURCE_PREFIX": ""}, {"RESOURCE_PREFIX": "   "}, {"OTHER": "x"}])
def test_required_variable_missing(values):
    misconfigured(
        lambda: Environment(values=values, function="f").required(contract.RESOURCE_PREFIX), naming="RESOURCE_PREFIX"
    )


def test_required_variable_is_stripped():
    assert env(ARTIFACT_BUCKET="  bucket \n").required(contract.ARTIFACT_BUCKET) == "bucket"


def test_current_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("RESOURCE_PREFIX", "fromenv")
    assert Environment.current("invoke_model").prefix() == "fromenv"
    monkeypatch.delenv("RESOURCE_PREFIX")
    misconfigured(lambda: Environment.current("f").prefix(), naming="RESOURCE_PREFIX")


@pytest.mark.parametrize("prefix", ["recsys", "a", "r2", "ml-recs-2", PREFIX16, "a-b-c-d-e-f-g-h"])
def test_prefix_accepted(prefix):
    assert env(RESOURCE_PREFIX=prefix).prefix() == prefix


def test_prefix_of_16_letters_is_accepted():
    # The message promises "at most 16 characters"; a hyphen-free 16-letter prefix must fit too.
    prefix = "abcdefghijklmnop"
    assert len(prefix) == MAX_PREFIX
    assert env(RESOURCE_PREFIX=prefix).prefix() == prefix


@pytest.mark.parametrize(
    "prefix",
    [
        "RecSys",
        "RECSYS",
        "rec_sys",
        "a" * 17,
        "recsys-prod-euw12",
        "1recsys",
        "-recsys",
        "recsys-",
        "rec--sys",
        "rec sys",
    ],
)
def test_prefix_rejected(prefix):
    misconfigured(lambda: env(RESOURCE_PREFIX=prefix).prefix(), naming="RESOURCE_PREFIX")


def test_training_settings_from_a_complete_environment():
    settings = TrainingSettings.from_env(env(**TRAINING_ENV, **OPTIONAL_SNOWFLAKE))
    assert settings.prefix == "recsys"
    assert settings.image_uri == TRAINING_ENV["TRAINING_IMAGE_URI"]
    assert settings.role_arn == TRAINING_ENV["SAGEMAKER_ROLE_ARN"]
    assert settings.bucket == "recsys-artifacts"
    assert settings.instance_type == "ml.m5.large"
    assert (settings.volume_gb, settings.max_runtime_s) == (30, 3600)
    assert settings.snowflake == {
        "snowflake_account": "myorg-myaccount",
        "snowflake_user": "SAGEMAKER_SVC",
        "snowflake_role": "RECOMMENDER",
        "snowflake_warehouse": "COMPUTE_WH",
        "snowflake_database": "MOVIELENS",
        "snowflake_schema": "PUBLIC",
        "snowflake_secret_arn": OPTIONAL_SNOWFLAKE["SNOWFLAKE_SECRET_ARN"],
        "aws_region": "eu-west-1",
    }


def test_training_settings_include_only_present_optional_keys():
    settings = TrainingSettings.from_env(env(**TRAINING_ENV, SNOWFLAKE_WAREHOUSE="WH", SNOWFLAKE_ROLE="  "))
    assert settings.snowflake == {
        "snowflake_account": "myorg-myaccount",
        "snowflake_user": "SAGEMAKER_SVC",
        "snowflake_warehouse": "WH",
    }


def test_training_hyperparameters_never_name_a_snowflake_server():
    """Issue 23: a job reaches Snowflake by account identifier; no variable can send it to another host."""
    address = {"SNOWFLAKE_HOST": "evil.example.com", "SNOWFLAKE_PORT": "80", "SNOWFLAKE_PROTOCOL": "http"}
    settings = TrainingSettings.from_env(env(**TRAINING_ENV, **OPTIONAL_SNOWFLAKE, **address))
    assert not {"snowflake_host", "snowflake_port", "snowflake_protocol"} & set(settings.snowflake)
    assert "evil.example.com" not in settings.snowflake.values()


def test_training_hyperparameters_carry_no_secrets():
    secrets = {
        "SNOWFLAKE_PASSWORD": "hunter2-SECRET",
        "SNOWFLAKE_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----SECRET",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "pass-SECRET",
        "AWS_SECRET_ACCESS_KEY": "aws-SECRET",
        "AWS_SESSION_TOKEN": "token-SECRET",
    }
    settings = TrainingSettings.from_env(env(**TRAINING_ENV, **OPTIONAL_SNOWFLAKE, **secrets))
    assert set(settings.snowflake) <= ALLOWED_HYPERPARAMETERS
    assert all("SECRET" not in value for value in settings.snowflake.values())


@pytest.mark.parametrize(
    "missing",
    [
        "RESOURCE_PREFIX",
        "TRAINING_IMAGE_URI",
        "SAGEMAKER_ROLE_ARN",
        "ARTIFACT_BUCKET",
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
    ],
)
def test_training_settings_name_the_missing_variable(missing):
    values = {k: v for k, v in TRAINING_ENV.items() if k != missing}
    misconfigured(lambda: TrainingSettings.from_env(env(**values)), naming=missing)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRAINING_VOLUME_GB", "0"),
        ("TRAINING_VOLUME_GB", "16385"),
        ("TRAINING_VOLUME_GB", "-1"),
        ("TRAINING_VOLUME_GB", "abc"),
        ("TRAINING_VOLUME_GB", "30.5"),
        ("TRAINING_MAX_RUNTIME_S", "59"),
        ("TRAINING_MAX_RUNTIME_S", str(28 * 24 * 3600 + 1)),
        ("TRAINING_MAX_JOBS_PER_BATCH", "0"),
        ("TRAINING_MAX_JOBS_PER_BATCH", "11"),
    ],
)
def test_training_integer_out_of_range(name, value):
    error = misconfigured(lambda: TrainingSettings.from_env(env(**TRAINING_ENV, **{name: value})), naming=name)
    assert "whole number from" in error.message


def test_training_integers_within_range():
    settings = TrainingSettings.from_env(
        env(
            **TRAINING_ENV,
            TRAINING_VOLUME_GB="16384",
            TRAINING_MAX_RUNTIME_S="60",
            TRAINING_INSTANCE_TYPE="ml.c5.xlarge",
        )
    )
    assert (settings.volume_gb, settings.max_runtime_s, settings.instance_type) == (16384, 60, "ml.c5.xlarge")


def hosting(**values):
    return HostingSettings.from_env(env(**TRAINING_ENV, **values))


def test_hosting_defaults():
    settings = hosting()
    assert settings.serverless is False
    assert settings.instance_type == "ml.m5.large"
    assert (settings.instance_count, settings.memory_mb, settings.max_concurrency) == (1, 2048, 5)


@pytest.mark.parametrize("value", ["ml.t2.medium", "ml.t2.large", "m5.large", "ml.m5", "ML.M5.LARGE", "ml.m5.large;x"])
def test_endpoint_instance_type_rejected(value):
    misconfigured(lambda: hosting(ENDPOINT_INSTANCE_TYPE=value), naming="ENDPOINT_INSTANCE_TYPE")


def test_training_instance_type_t2_rejected():
    misconfigured(
        lambda: TrainingSettings.from_env(env(**TRAINING_ENV, TRAINING_INSTANCE_TYPE="ml.t2.medium")),
        naming="TRAINING_INSTANCE_TYPE",
    )


@pytest.mark.parametrize("value", ["ml.m5.large", "ml.g4dn.xlarge", "ml.t3.medium"])
def test_endpoint_instance_type_accepted(value):
    assert hosting(ENDPOINT_INSTANCE_TYPE=value).instance_type == value


@pytest.mark.parametrize("value", ["lambda", "real-time", "async", "serverless;"])
def test_endpoint_type_rejected(value):
    misconfigured(lambda: hosting(ENDPOINT_TYPE=value), naming="ENDPOINT_TYPE")


@pytest.mark.parametrize(("value", "serverless"), [("realtime", False), ("serverless", True), ("Serverless", True)])
def test_endpoint_type_accepted(value, serverless):
    assert hosting(ENDPOINT_TYPE=value).serverless is serverless


@pytest.mark.parametrize("value", ["1500", "1000", "7168", "abc", "2048.0"])
def test_serverless_memory_rejected(value):
    misconfigured(
        lambda: hosting(ENDPOINT_TYPE="serverless", SERVERLESS_MEMORY_MB=value), naming="SERVERLESS_MEMORY_MB"
    )


@pytest.mark.parametrize("value", ["1024", "3072", "6144"])
def test_serverless_memory_accepted(value):
    assert hosting(ENDPOINT_TYPE="serverless", SERVERLESS_MEMORY_MB=value).memory_mb == int(value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ENDPOINT_INSTANCE_COUNT", "0"),
        ("ENDPOINT_INSTANCE_COUNT", "101"),
        ("SERVERLESS_MAX_CONCURRENCY", "0"),
        ("SERVERLESS_MAX_CONCURRENCY", "201"),
    ],
)
def test_hosting_integer_out_of_range(name, value):
    misconfigured(lambda: hosting(**{name: value}), naming=name)


# --- one contract: what the stack emits, the Lambdas and the training image read back alike -----------------


def test_every_declared_variable_the_stack_emits_reads_back_to_the_value_cdk_json_gave():
    from stacks.config import load_environment

    config = load_environment("prod")
    emitted = config.lambda_environment(
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/recommender:1",
        sagemaker_role_arn="arn:aws:iam::123456789012:role/train",
        hosting_role_arn="arn:aws:iam::123456789012:role/host",
        bucket="prod-artifacts",
        secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake/trainer-AbCdEf",
    )
    environment = Environment(emitted, "f")
    sections = {"": config, "snowflake": config.snowflake, "training": config.training, "endpoint": config.endpoint}
    checked = 0
    for section in sections.values():
        for field in section.__dataclass_fields__.values():
            setting = field.metadata.get("setting")
            if setting is None or setting.variable is None or setting is contract.ENDPOINT_IDLE_HOURS:
                continue
            assert environment.get(setting) == getattr(section, field.name), setting.variable
            checked += 1
    assert checked >= 15


def test_the_hyperparameters_a_lambda_gives_a_job_are_the_ones_the_image_parses_by_the_same_rules():
    from recommender.config import KNOWN_HYPERPARAMETERS, parse_hyperparameters

    assert set(contract.HYPERPARAMETERS) <= KNOWN_HYPERPARAMETERS
    training = TrainingSettings.from_env(env(**TRAINING_ENV, **OPTIONAL_SNOWFLAKE, SNOWFLAKE_AUTH="wif"))
    config = parse_hyperparameters({"input_table": "DB.S.R", "output_table": "DB.S.RECS", **training.snowflake})
    assert (config.snowflake.account, config.snowflake.auth, config.snowflake.aws_region) == (
        "myorg-myaccount",
        "wif",
        "eu-west-1",
    )
    # a value a Lambda refuses, the image refuses too, by the same sentence
    error = misconfigured(lambda: TrainingSettings.from_env(env(**TRAINING_ENV, SNOWFLAKE_ROLE="A B")), naming="ROLE")
    assert 'must be a plain Snowflake identifier, e.g. "RECOMMENDER_TRAINER"' in error.message
    with pytest.raises(ValueError, match=r"snowflake_role' must be a plain Snowflake identifier, e.g. \"RECOMMENDER_"):
        parse_hyperparameters(
            {"input_table": "D.S.R", "output_table": "D.S.O", **training.snowflake, "snowflake_role": "A B"}
        )
