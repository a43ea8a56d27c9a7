import json
import math

import pytest

from pipeline_shared.identifiers import TableName
from pipeline_shared.training_options import ALGORITHM_OPTIONS, ALGORITHMS
from recommender.config import (
    KNOWN_HYPERPARAMETERS,
    HyperparameterError,
    JobConfig,
    ModelParams,
    RankingParams,
    SnowflakeSettings,
    load_hyperparameters,
    parse_hyperparameters,
)

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:snowflake-key-AbCdEf"


def minimal():
    return {
        "input_table": "movielens.public.ratings",
        "output_table": "movielens.public.recommendations",
        "snowflake_account": "myorg-myaccount",
        "snowflake_user": "sagemaker_svc",
    }


def test_minimal_config_uses_defaults():
    config = parse_hyperparameters(minimal())
    assert isinstance(config, JobConfig)
    assert config.input_table == TableName(("MOVIELENS", "PUBLIC", "RATINGS"))
    assert config.output_table.sql == "MOVIELENS.PUBLIC.RECOMMENDATIONS"
    assert config.snowflake == SnowflakeSettings(account="myorg-myaccount", user="SAGEMAKER_SVC")
    assert config.model == ModelParams()
    assert config.top_k == 10
    assert config.validation_fraction == 0.2


def test_all_keys_as_strings_parse_to_typed_values():
    raw = {
        **minimal(),
        "snowflake_role": "RECOMMENDER_ROLE",
        "snowflake_warehouse": "COMPUTE_WH",
        "snowflake_database": "MOVIELENS",
        "snowflake_schema": "PUBLIC",
        "snowflake_secret_arn": ARN,
        "snowflake_host": "myorg-myaccount.privatelink.snowflakecomputing.com",
        "snowflake_port": "8443",
        "snowflake_protocol": "HTTPS",
        "snowflake_auth": "keypair",
        "snowflake_lock_timeout": "60",
        "snowflake_timeout": "90",
        "snowflake_write_timeout": "900",
        "aws_region": "eu-west-1",
        "algorithm": "SVD",
        "n_factors": "64",
        "n_epochs": " 30 ",
        "lr_all": "0.005",
        "reg_all": "0.1",
        "init_std_dev": "0.1",
        "random_state": "7",
        "top_k": "25",
        "validation_fraction": "0.1",
        "validation_users": "5000",
        "ranking": " Graded_EASE ",
        "ranking_regularization": "150",
        "ranking_min_ratings": "3",
        "ranking_max_movies": "4000",
        "ranking_rating_weight": "0.25",
        "ranking_liked_weight": "1",
        "ranking_liked_regularization": "75",
        "ranking_popularity_exponent": "0",
        "ranking_liked_share": "0.7",
        "rating_min": "1",
        "rating_max": "10",
    }
    # every key but the options of the other algorithms (each is refused with svd: see the algorithm tests below)
    assert set(raw) == KNOWN_HYPERPARAMETERS - (set(ALGORITHM_OPTIONS) - set(ALGORITHMS["svd"]))
    config = parse_hyperparameters(raw)
    assert config.snowflake == SnowflakeSettings(
        account="myorg-myaccount",
        user="SAGEMAKER_SVC",  # as Snowflake resolves an unquoted name
        role="RECOMMENDER_ROLE",
        warehouse="COMPUTE_WH",
        database="MOVIELENS",
        schema="PUBLIC",
        secret_arn=ARN,
        host="myorg-myaccount.privatelink.snowflakecomputing.com",
        port=8443,
        protocol="https",
        aws_region="eu-west-1",
        lock_timeout=60,
        timeout=90,
        write_timeout=900,
    )
    assert config.model == ModelParams(
        n_factors=64, n_epochs=30, lr_all=0.005, reg_all=0.1, init_std_dev=0.1, random_state=7
    )
    assert type(config.model.n_factors) is int
    assert type(config.model.lr_all) is float
    assert type(config.snowflake.port) is int
    assert config.top_k == 25
    assert config.validation_fraction == 0.1
    assert config.validation_users == 5000
    assert config.scale == (1.0, 10.0)
    assert config.ranking == RankingParams(
        method="graded_ease", regularization=150.0, min_ratings=3, max_movies=4000, rating_weight=0.25,
        liked_weight=1.0, liked_regularization=75.0, popularity_exponent=0.0, liked_share=0.7,
    )  # fmt: skip
    assert config.describe()["ranking"] == "graded_ease"
    assert config.describe()["ranking_max_movies"] == 4000
    assert config.describe()["ranking_liked_share"] == 0.7


def test_ranking_defaults_to_graded_ease_and_refuses_unknown_methods():
    assert parse_hyperparameters(minimal()).ranking == RankingParams()
    assert RankingParams().method == "graded_ease"
    with pytest.raises(HyperparameterError, match="'ranking' must be one of 'graded_ease', 'ease', 'predicted_rating'"):
        parse_hyperparameters({**minimal(), "ranking": "popularity"})
    with pytest.raises(HyperparameterError, match=r"'ranking_regularization' must be a number above 0\.0"):
        parse_hyperparameters({**minimal(), "ranking_regularization": "0"})


def test_graded_ease_options_are_refused_with_another_ranking():
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters({**minimal(), "ranking": "ease", "ranking_liked_weight": "1"})
    assert str(info.value) == (
        "Hyperparameter 'ranking_liked_weight' is an option of ranking 'graded_ease' only, not of 'ease'."
    )
    zeroed = {"ranking_rating_weight": "0", "ranking_liked_weight": "0", "ranking_popularity_exponent": "0"}
    assert parse_hyperparameters({**minimal(), **zeroed}).ranking.as_options()["ranking_liked_weight"] == 0.0


def test_the_options_recorded_are_those_the_ranking_reads():
    assert set(RankingParams(method="predicted_rating").as_options()) == {"ranking"}
    plain = RankingParams(method="ease").as_options()
    assert set(plain) == {"ranking", "ranking_regularization", "ranking_min_ratings", "ranking_max_movies"}
    graded = RankingParams().as_options()
    assert graded["ranking"] == "graded_ease" and graded["ranking_liked_regularization"] == 150.0
    assert len(graded) == 9


def test_empty_optional_values_fall_back_to_defaults():
    config = parse_hyperparameters({**minimal(), "n_factors": "", "snowflake_role": "  "})
    assert config.model.n_factors == ModelParams().n_factors
    assert config.snowflake.role is None


@pytest.mark.parametrize("key", ["input_table", "output_table", "snowflake_account", "snowflake_user"])
def test_missing_required_key(key):
    raw = minimal()
    del raw[key]
    with pytest.raises(HyperparameterError, match=f"'{key}' is required"):
        parse_hyperparameters(raw)


def test_empty_required_key_is_missing():
    with pytest.raises(HyperparameterError, match="'snowflake_user' is required"):
        parse_hyperparameters({**minimal(), "snowflake_user": "   "})


def test_unknown_key_is_named():
    with pytest.raises(HyperparameterError, match="Unknown hyperparameter 'n_factor'"):
        parse_hyperparameters({**minimal(), "n_factor": "10"})


def test_sagemaker_keys_are_ignored():
    raw = {**minimal(), "sagemaker_program": "train", "sagemaker_region": "not a region!"}
    assert parse_hyperparameters(raw) == parse_hyperparameters(minimal())


@pytest.mark.parametrize("value", ["eight", "8.5", "1e2", "0", "1001", "-3"])
def test_bad_n_factors(value):
    with pytest.raises(HyperparameterError, match="'n_factors'"):
        parse_hyperparameters({**minimal(), "n_factors": value})


@pytest.mark.parametrize("value", ["0", "1001"])
def test_top_k_out_of_range(value):
    with pytest.raises(HyperparameterError, match=r"'top_k' must be a whole number from 1 to 1000"):
        parse_hyperparameters({**minimal(), "top_k": value})


@pytest.mark.parametrize("value", ["1", "1000"])
def test_top_k_bounds_are_inclusive(value):
    assert parse_hyperparameters({**minimal(), "top_k": value}).top_k == int(value)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "0", "0.0", "-0.01", "1.5", "fast"])
def test_bad_lr_all(value):
    with pytest.raises(HyperparameterError, match="'lr_all'"):
        parse_hyperparameters({**minimal(), "lr_all": value})


def test_lr_all_upper_bound_is_inclusive():
    assert parse_hyperparameters({**minimal(), "lr_all": "1"}).model.lr_all == 1.0


@pytest.mark.parametrize("key", ["reg_all", "init_std_dev", "validation_fraction"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_bad_reals(key, value):
    with pytest.raises(HyperparameterError, match=f"'{key}'"):
        parse_hyperparameters({**minimal(), key: value})


def test_zero_is_allowed_where_closed():
    config = parse_hyperparameters({**minimal(), "reg_all": "0", "validation_fraction": "0"})
    assert config.model.reg_all == 0.0
    assert config.validation_fraction == 0.0
    assert not math.isnan(config.model.reg_all)


@pytest.mark.parametrize("value", ["ftp", "tcp", "https://"])
def test_bad_protocol(value):
    with pytest.raises(HyperparameterError, match="'snowflake_protocol' must be 'https'"):
        parse_hyperparameters({**minimal(), "snowflake_protocol": value})


def test_http_protocol_allowed_for_stand_ins():
    assert parse_hyperparameters({**minimal(), "snowflake_protocol": "http"}).snowflake.protocol == "http"


@pytest.mark.parametrize(
    "value",
    [
        "snowflake-key",
        "arn:aws:secretsmanager:us-east-1:1234:secret:key",
        "arn:aws:s3:::bucket",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:key; rm -rf /",
    ],
)
def test_malformed_secret_arn(value):
    with pytest.raises(HyperparameterError, match="'snowflake_secret_arn' is malformed"):
        parse_hyperparameters({**minimal(), "snowflake_secret_arn": value})


@pytest.mark.parametrize("key", ["input_table", "output_table"])
def test_bad_table_identifier(key):
    bad = "ratings; drop table users"
    with pytest.raises(HyperparameterError, match=f"hyperparameter '{key}'") as info:
        parse_hyperparameters({**minimal(), key: bad})
    assert bad not in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("snowflake_user", "svc user"),
        ("snowflake_account", "-bad"),
        ("snowflake_port", "0"),
        ("snowflake_port", "65536"),
        ("aws_region", "EU-WEST-1"),
    ],
)
def test_other_malformed_values(key, value):
    with pytest.raises(HyperparameterError, match=f"'{key}'"):
        parse_hyperparameters({**minimal(), key: value})


def test_describe_holds_no_secrets():
    config = parse_hyperparameters({**minimal(), "snowflake_secret_arn": ARN})
    described = config.describe()
    for key in described:
        lowered = key.lower()
        assert not any(word in lowered for word in ("password", "passphrase", "private", "secret", "arn", "token"))
    assert ARN not in json.dumps(described)
    assert described["credentials"] == "secret"
    assert described["input_table"] == "MOVIELENS.PUBLIC.RATINGS"
    assert described["n_factors"] == ModelParams().n_factors
    assert parse_hyperparameters(minimal()).describe()["credentials"] == "SNOWFLAKE_PASSWORD"


def test_load_missing_file(tmp_path):
    path = tmp_path / "hyperparameters.json"
    with pytest.raises(HyperparameterError, match="No hyperparameters file at"):
        load_hyperparameters(path)


@pytest.mark.parametrize("text", ["{not json", "", "\u00ff\u00fe"])
def test_load_non_json(tmp_path, text):
    path = tmp_path / "hyperparameters.json"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(HyperparameterError, match="is not valid JSON"):
        load_hyperparameters(path)


def test_load_json_list(tmp_path):
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps([minimal()]), encoding="utf-8")
    with pytest.raises(HyperparameterError, match="must hold a JSON object"):
        load_hyperparameters(path)


def test_load_valid_file(tmp_path):
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps({**minimal(), "top_k": "5", "sagemaker_program": "x"}), encoding="utf-8")
    config = load_hyperparameters(path)
    assert config.top_k == 5
    assert config == parse_hyperparameters({**minimal(), "top_k": "5"})


def test_load_validates_contents(tmp_path):
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps({**minimal(), "n_epochs": "many"}), encoding="utf-8")
    with pytest.raises(HyperparameterError, match="'n_epochs'"):
        load_hyperparameters(path)


@pytest.mark.parametrize(("raw", "auth"), [("keypair", "keypair"), ("WIF", "wif"), (" wif ", "wif")])
def test_auth_method(raw, auth):
    config = parse_hyperparameters({**minimal(), "snowflake_auth": raw})
    assert config.snowflake.auth == auth
    assert config.describe()["credentials"] == ("workload identity" if auth == "wif" else "SNOWFLAKE_PASSWORD")


def test_unknown_auth_method():
    with pytest.raises(HyperparameterError, match="'snowflake_auth' must be 'keypair' or 'wif'"):
        parse_hyperparameters({**minimal(), "snowflake_auth": "password"})


def test_the_rating_scale_must_be_an_interval():
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters({**minimal(), "rating_min": "5", "rating_max": "5"})
    assert str(info.value) == "Hyperparameter 'rating_min' (5.0) must be below 'rating_max' (5.0)."
    assert parse_hyperparameters(minimal()).scale == (0.5, 5.0)


def test_write_statements_get_snowflake_timeout_plus_a_second_per_thousand_rows():
    settings = parse_hyperparameters(minimal()).snowflake
    assert (settings.timeout, settings.write_timeout) == (180, None)
    assert [settings.write_limit.for_rows(n) for n in (0, 1, 1_000, 1_001, 162_541, 10_000_000)] == [
        180,
        181,
        181,
        182,
        343,
        10_180,
    ]
    assert settings.describe_write_limit(162_541) == ("343 s (snowflake_timeout 180 s + 1 s per 1,000 of 162,541 rows)")


def test_snowflake_write_timeout_fixes_every_write_statements_limit():
    settings = parse_hyperparameters({**minimal(), "snowflake_write_timeout": "7200"}).snowflake
    assert {settings.write_limit.for_rows(n) for n in (0, 162_541, 10_000_000)} == {7200}
    assert settings.describe_write_limit(162_541) == "7200 s (snowflake_write_timeout)"
    assert settings.timeout == 180  # reads and the other statements keep theirs


@pytest.mark.parametrize("value", ["4", "172801", "soon"])
def test_bad_snowflake_write_timeout(value):
    with pytest.raises(HyperparameterError, match="'snowflake_write_timeout' must be a whole number from 5 to 172800"):
        parse_hyperparameters({**minimal(), "snowflake_write_timeout": value})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"snowflake_lock_timeout": "180"},
            "Hyperparameter snowflake_lock_timeout (180) must be below snowflake_timeout (180): the connector "
            "cancels a statement that runs longer, lock wait included.",
        ),
        (
            {"snowflake_lock_timeout": "600", "snowflake_write_timeout": "600"},
            "Hyperparameter snowflake_lock_timeout (600) must be below snowflake_write_timeout (600): the connector "
            "cancels a statement that runs longer, lock wait included.",
        ),
    ],
)
def test_the_lock_wait_must_end_before_the_delete_is_cancelled(settings, message):
    """The swap's DELETE may wait for a lock; its limit is the write limit, least for an empty output."""
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters({**minimal(), **settings})
    assert str(info.value) == message


def test_a_lock_wait_past_snowflake_timeout_is_allowed_within_the_write_timeout():
    raw = {**minimal(), "snowflake_timeout": "60", "snowflake_lock_timeout": "300", "snowflake_write_timeout": "900"}
    settings = parse_hyperparameters(raw).snowflake
    assert (settings.timeout, settings.lock_timeout, settings.write_timeout) == (60, 300, 900)


def test_the_algorithm_defaults_to_svd_with_its_tuned_options():
    config = parse_hyperparameters(minimal())
    assert config.model.algorithm == "svd"
    assert config.model.options() == {
        "algorithm": "svd", "n_factors": 100, "n_epochs": 50, "lr_all": 0.01, "reg_all": 0.08, "init_std_dev": 0.05,
        "random_state": 42,
    }  # fmt: skip
    assert config.describe()["algorithm"] == "svd"


def test_a_surprise_algorithm_takes_surprises_defaults_for_what_is_not_given():
    config = parse_hyperparameters({**minimal(), "algorithm": "svdPP", "n_factors": "8"})
    assert config.model == ModelParams.of("SVDpp", n_factors=8)
    assert config.model.options() == {
        "algorithm": "SVDpp", "n_factors": 8, "n_epochs": 20, "lr_all": 0.007, "reg_all": 0.02, "init_std_dev": 0.1,
        "random_state": 42,
    }  # fmt: skip
    knn = parse_hyperparameters({**minimal(), "algorithm": "knnbaseline", "user_based": "false", "k": "7"})
    assert knn.model.options() == {
        "algorithm": "KNNBaseline", "k": 7, "min_k": 1, "similarity": "pearson_baseline", "user_based": False,
        "baseline_method": "als", "random_state": 42,
    }  # fmt: skip
    assert knn.describe()["user_based"] is False and "n_factors" not in knn.describe()


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"n_cltr_u": "4"}, "Hyperparameter 'n_cltr_u' is not an option of algorithm 'svd', which takes n_factors, "
      "n_epochs, lr_all, reg_all and init_std_dev."),
     ({"algorithm": "SlopeOne", "k": "3"}, "Hyperparameter 'k' is not an option of algorithm 'SlopeOne', which "
      "takes no options."),
     ({"algorithm": "KNNBaseline", "min_k": "50"}, "Hyperparameter 'min_k' (50) must be at most 'k' (40)."),
     ({"algorithm": "SVD++"}, "Hyperparameter 'algorithm' must be one of 'svd', 'SVDpp', 'NMF', 'KNNBaseline', "
      "'BaselineOnly', 'SlopeOne', 'CoClustering', got 'SVD++'."),
     ({"algorithm": "NMF", "biased": "maybe"}, "Hyperparameter 'biased' must be true or false, got 'maybe'.")],
)  # fmt: skip
def test_the_image_refuses_what_the_algorithm_does_not_take(extra, message):
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters({**minimal(), **extra})
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("snowflake_account", "myorg-myaccount-"),  # no trailing hyphen
        ("snowflake_secret_arn", "arn:aws-iso:secretsmanager:us-iso-east-1:123456789012:secret:k"),  # no Snowflake
        ("snowflake_host", "myorg-myaccount.snowflakecomputing.com."),  # no trailing dot
    ],
)
def test_where_to_connect_follows_the_one_rule_cdk_json_and_the_custom_resource_follow(key, value):
    """Issue 32: the three copies disagreed; now the image, synth and the custom resource share pipeline_shared's."""
    from pipeline_shared.identifiers import SECRET_ARN, SNOWFLAKE_ACCOUNT, SNOWFLAKE_HOST

    pattern = {"snowflake_account": SNOWFLAKE_ACCOUNT, "snowflake_secret_arn": SECRET_ARN}.get(key, SNOWFLAKE_HOST)
    assert not pattern.fullmatch(value)
    with pytest.raises(HyperparameterError, match=key):
        parse_hyperparameters({**minimal(), key: value})
