"""Validation the Lambdas apply to SQL arguments and to their own configuration (no AWS calls)."""

import json
import math

import pytest

from external_functions import scoring, training
from external_functions.protocol import BadRequestError, ExternalFunctionError, Row
from external_functions.settings import (
    Environment,
    HostingSettings,
    MisconfiguredError,
    TrainingSettings,
)
from pipeline_shared.resources import MAX_PREFIX
from pipeline_shared.training_options import BY_NAME, OPTION_NAMES, as_hyperparameter
from tests.support.lambda_env import TRAINING_ENV

PREFIX16 = "recsys-prod-euw1"

# --- training.parse_row: table names --------------------------------------------------------------

VALID = "DB.SCHEMA.RATINGS"
INJECTIONS = [
    "x; drop table y",
    "RATINGS' OR '1'='1",
    '"RATINGS"',
    "RATINGS -- c",
    "RATINGS /* c */",
    "MY RATINGS",
    "DB.MY SCHEMA.RATINGS",
    "DB . SCHEMA . RATINGS",
    "A.B.C.D",
    "DB." + "R" * 256,
    "DB..RATINGS",
    ".RATINGS",
    "RATINGS.",
    "1RATINGS",
    "$RATINGS",
    "RAT-INGS",
    "RATINGS\n;DROP",
    "RATINGS\x00",
    "RATİNGS",
]


def row(*args, number=7):
    return Row(number, args)


def test_parse_row_accepts_three_part_names():
    request = training.parse_row(row(VALID, "db.schema.recs"))
    assert request.input_table.sql == "DB.SCHEMA.RATINGS"
    assert request.output_table.sql == "DB.SCHEMA.RECS"
    assert request.options == {}
    assert request.row.number == 7


@pytest.mark.parametrize("text", ["RATINGS", "SCHEMA.RATINGS", "_db.s$1.t_2", "  DB.S.T  ", "DB." + "R" * 255])
def test_parse_row_accepts_plain_identifiers(text):
    assert training.parse_row(row(text, VALID)).input_table.sql == text.strip().upper()


@pytest.mark.parametrize("text", INJECTIONS)
@pytest.mark.parametrize("position", [0, 1])
def test_parse_row_rejects_unsafe_table_names(text, position):
    args = [VALID, VALID]
    args[position] = text
    with pytest.raises(BadRequestError) as info:
        training.parse_row(row(*args, number=31))
    message = info.value.message
    assert info.value.status == 400
    assert message.startswith("Row 31: ")
    assert ("input table" if position == 0 else "output table") in message
    assert text.strip() not in message
    for fragment in ("drop", "OR '1'", "--", "/*", '"RATINGS"', "R" * 20):
        if fragment in text:
            assert fragment not in message


@pytest.mark.parametrize("value", [None, "", "   ", 98765, 3.25, True, ["DB.S.T"], {"name": "DB.S.T"}])
def test_parse_row_rejects_missing_or_non_text_names(value):
    with pytest.raises(BadRequestError) as info:
        training.parse_row(row(value, VALID, number=12))
    assert info.value.message.startswith("Row 12: ")
    assert "98765" not in info.value.message
    assert "3.25" not in info.value.message


# --- training.parse_row: options ------------------------------------------------------------------


def options(value, number=5):
    return training.parse_row(row(VALID, VALID, value, number=number)).options


@pytest.mark.parametrize("value", [None, {}, "{}"])
def test_no_options(value):
    assert options(value) == {}


def test_options_become_strings():
    assert options({"n_epochs": 30, "lr_all": 0.01, "top_k": "20", "reg_all": " 0.05 "}) == {
        "n_epochs": "30",
        "lr_all": "0.01",
        "top_k": "20",
        "reg_all": "0.05",
    }


def test_options_as_json_text():
    text = json.dumps({"n_factors": 64, "validation_fraction": 0.2})
    assert options(text) == {"n_factors": "64", "validation_fraction": "0.2"}


def test_every_documented_option_is_accepted():
    value = {name: BY_NAME[name].default for name in OPTION_NAMES}
    assert options(value) == {name: as_hyperparameter(BY_NAME[name].default) for name in OPTION_NAMES}


@pytest.mark.parametrize(
    ("key", "value"),
    [("n_epochs", 100000), ("n_epochs", 0), ("lr_all", 0), ("top_k", 5000), ("validation_fraction", 0.9),
     ("n_factors", 2.5), ("random_state", -1)],
)  # fmt: skip
def test_options_outside_the_images_ranges_are_bad_requests(key, value):
    """The image's own rule, checked before a (billed) job starts."""
    with pytest.raises(BadRequestError) as info:
        options({key: value}, number=3)
    assert info.value.message.startswith(f"Row 3: option '{key}' must be ")
    assert BY_NAME[key].rule in info.value.message


def test_unknown_option_is_rejected_naming_the_allowed_keys():
    with pytest.raises(BadRequestError) as info:
        options({"n_epochs": 3, "snowflake_user": "ACCOUNTADMIN"}, number=9)
    message = info.value.message
    assert message.startswith("Row 9: unknown option")
    for key in OPTION_NAMES:
        assert key in message
    assert "ACCOUNTADMIN" not in message


@pytest.mark.parametrize(
    "value",
    [True, False, [1], {"a": 1}, None, math.nan, math.inf, -math.inf, "abc", "", "nan", "inf", "1e999", "0x10"],
)
def test_non_numeric_option_values_are_rejected(value):
    with pytest.raises(BadRequestError) as info:
        options({"n_epochs": value}, number=4)
    assert info.value.message.startswith("Row 4: option 'n_epochs' must be")


def test_huge_integer_option_is_a_bad_request():
    # A JSON integer too large for a float must be a 400, not an unexpected OverflowError (a 500).
    with pytest.raises(BadRequestError) as info:
        options({"n_epochs": 10**400}, number=4)
    assert info.value.message.startswith("Row 4: ")


@pytest.mark.parametrize("value", [[1, 2], "[1, 2]", "not json", '"text"', 42, 1.5, True])
def test_options_that_are_not_an_object_are_rejected(value):
    with pytest.raises(BadRequestError) as info:
        options(value, number=6)
    assert info.value.message.startswith("Row 6: options must be an OBJECT")
    assert "not json" not in info.value.message


# --- scoring.whole_number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        (0, 0),
        (-3, -3),
        (7.0, 7),
        ("42", 42),
        (" 7 ", 7),
        ("3.0", 3),
        ("-5", -5),
        (2**53, 2**53),
        (float(2**53), 2**53),
    ],
)
def test_whole_number_accepts(value, expected):
    result = scoring.whole_number(value, "user_id", 1)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "  ",
        "1.5",
        "nan",
        "inf",
        "1e999",
        1.5,
        -0.25,
        True,
        False,
        None,
        math.nan,
        math.inf,
        -math.inf,
        2**60,
        -(2**60),
        float(2**60),
        "1152921504606846976",
        [1],
        {"id": 1},
    ],
)
def test_whole_number_rejects(value):
    with pytest.raises(BadRequestError) as info:
        scoring.whole_number(value, "movie_id", 88)
    assert info.value.message == "Row 88: movie_id must be a whole number."


def test_whole_number_rejects_integers_too_large_for_a_float():
    # A JSON integer beyond float range must be a 400, not an unexpected OverflowError (a 500).
    with pytest.raises(BadRequestError, match="Row 88: "):
        scoring.whole_number(10**400, "user_id", 88)


# --- settings -------------------------------------------------------------------------------------

OPTIONAL_SNOWFLAKE = {
    "SNOWFLAKE_ROLE": "RECOMMENDER",
    "SNOWFLAKE_WAREHOUSE": "COMPUTE_WH",
    "SNOWFLAKE_DATABASE": "MOVIELENS",
    "SNOWFLAKE_SCHEMA": "PUBLIC",
    "SNOWFLAKE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake-key-AbCdEf",
    "SNOWFLAKE_HOST": "myorg-myaccount.snowflakecomputing.com",
    "SNOWFLAKE_PORT": "443",
    "SNOWFLAKE_PROTOCOL": "https",
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
    "snowflake_host",
    "snowflake_port",
    "snowflake_protocol",
    "aws_region",
}


def env(**values):
    return Environment(values=values, function="f")


def misconfigured(build, *, naming):
    with pytest.raises(MisconfiguredError) as info:
        build()
    error = info.value
    assert isinstance(error, ExternalFunctionError)
    assert error.status == 400
    assert naming in error.message
    assert error.message.startswith("The f function is misconfigured")
    return error


@pytest.mark.parametrize("values", [{}, {"RESOURCE_PREFIX": ""}, {"RESOURCE_PREFIX": "   "}, {"OTHER": "x"}])
def test_required_variable_missing(values):
    misconfigured(
        lambda: Environment(values=values, function="f").required("RESOURCE_PREFIX"), naming="RESOURCE_PREFIX"
    )


def test_required_variable_is_stripped():
    assert env(ARTIFACT_BUCKET="  bucket \n").required("ARTIFACT_BUCKET") == "bucket"


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
        "snowflake_host": "myorg-myaccount.snowflakecomputing.com",
        "snowflake_port": "443",
        "snowflake_protocol": "https",
        "aws_region": "eu-west-1",
    }


def test_training_settings_include_only_present_optional_keys():
    settings = TrainingSettings.from_env(env(**TRAINING_ENV, SNOWFLAKE_WAREHOUSE="WH", SNOWFLAKE_ROLE="  "))
    assert settings.snowflake == {
        "snowflake_account": "myorg-myaccount",
        "snowflake_user": "SAGEMAKER_SVC",
        "snowflake_warehouse": "WH",
    }


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
