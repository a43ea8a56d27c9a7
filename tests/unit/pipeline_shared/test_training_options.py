"""The training-option schema the train Lambda and the training image both parse with."""

import math

import pytest

from pipeline_shared import InputError
from pipeline_shared.training_options import (
    BY_NAME,
    OPTION_NAMES,
    OPTIONS,
    OptionError,
    as_hyperparameter,
    default,
    parse_option,
)
from recommender.config import ModelParams, RankingParams, TrainingConfig


def test_names_are_unique_and_defaults_lie_within_their_ranges():
    assert len(OPTION_NAMES) == len(OPTIONS) == len(set(OPTION_NAMES))
    for option in OPTIONS:
        assert option.parse(option.default) == option.default, option.name
        assert isinstance(option.default, option.kind)


def test_the_images_defaults_are_the_schemas():
    model = ModelParams()
    for name in ("n_factors", "n_epochs", "lr_all", "reg_all", "init_std_dev", "random_state"):
        assert getattr(model, name) == default(name)
    fields = TrainingConfig.__dataclass_fields__
    assert fields["top_k"].default == default("top_k")
    assert fields["validation_fraction"].default == default("validation_fraction")
    assert fields["validation_users"].default == default("validation_users")
    assert RankingParams().as_options() == {name: default(name) for name in RankingParams().as_options()}


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [("n_epochs", "30", 30), ("n_epochs", 30, 30), ("n_epochs", " 7 ", 7), ("lr_all", "0.5", 0.5), ("lr_all", 1, 1.0),
     ("validation_fraction", 0, 0.0), ("top_k", "1000", 1000), ("random_state", 2**32 - 1, 2**32 - 1),
     ("ranking", "ease", "ease"), ("ranking", " Predicted_Rating ", "predicted_rating"),
     ("ranking_max_movies", 20000, 20000), ("ranking_regularization", "0.5", 0.5)],
)  # fmt: skip
def test_values_in_range_parse_to_their_type(name, raw, value):
    parsed = parse_option(name, raw)
    assert parsed == value and type(parsed) is BY_NAME[name].kind


@pytest.mark.parametrize(
    ("name", "raw"),
    [("n_epochs", 100000), ("n_epochs", 0), ("n_epochs", "1.0"), ("n_epochs", 2.5), ("n_epochs", True),
     ("n_epochs", None), ("lr_all", 0), ("lr_all", "nan"), ("lr_all", math.inf), ("lr_all", "fast"),
     ("validation_fraction", 0.51), ("top_k", 10**400), ("reg_all", -0.1), ("n_factors", [5]),
     ("ranking", "popular"), ("ranking", 1), ("ranking", ""), ("ranking_max_movies", 20001),
     ("ranking_regularization", 0), ("ranking_min_ratings", 0), ("validation_users", 5)],
)  # fmt: skip
def test_values_outside_type_or_range_are_refused_with_the_rule(name, raw):
    with pytest.raises(OptionError) as info:
        parse_option(name, raw)
    assert isinstance(info.value, InputError)
    assert str(info.value) == f"must be {BY_NAME[name].rule}"


def test_a_choice_states_its_choices():
    assert BY_NAME["ranking"].rule == "one of 'ease', 'predicted_rating'"
    assert as_hyperparameter("predicted_rating") == "predicted_rating"


def test_unknown_names_are_key_errors():
    with pytest.raises(KeyError):
        parse_option("snowflake_user", "ACCOUNTADMIN")


@pytest.mark.parametrize("value", [0.1, 1e-07, 0.30000000000000004, 42, 2**32 - 1])
def test_hyperparameter_strings_parse_back_to_the_same_value(value):
    name = "random_state" if isinstance(value, int) else "reg_all"
    assert parse_option(name, as_hyperparameter(value)) == value
