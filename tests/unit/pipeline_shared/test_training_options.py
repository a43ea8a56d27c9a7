"""The training-option schema the train Lambda and the training image both parse with."""

import math

import pytest

from pipeline_shared import InputError
from pipeline_shared.training_options import (
    ALGORITHMS,
    BY_NAME,
    OPTION_NAMES,
    OPTIONS,
    OptionError,
    algorithm_settings,
    as_hyperparameter,
    check_together,
    default,
    parse_option,
)
from recommender.config import JobConfig, ModelParams, RankingParams


def test_names_are_unique_and_defaults_lie_within_their_ranges():
    assert len(OPTION_NAMES) == len(OPTIONS) == len(set(OPTION_NAMES))
    for option in OPTIONS:
        assert option.parse(option.default) == option.default, option.name
        assert isinstance(option.default, option.kind)


def test_the_images_defaults_are_the_schemas():
    model = ModelParams()
    for name in ("n_factors", "n_epochs", "lr_all", "reg_all", "init_std_dev", "random_state"):
        assert getattr(model, name) == default(name)
    fields = JobConfig.__dataclass_fields__
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
    assert BY_NAME["ranking"].rule == "one of 'graded_ease', 'ease', 'predicted_rating'"
    assert as_hyperparameter("predicted_rating") == "predicted_rating"


def test_unknown_names_are_key_errors():
    with pytest.raises(KeyError):
        parse_option("snowflake_user", "ACCOUNTADMIN")


@pytest.mark.parametrize("value", [0.1, 1e-07, 0.30000000000000004, 42, 2**32 - 1])
def test_hyperparameter_strings_parse_back_to_the_same_value(value):
    name = "random_state" if isinstance(value, int) else "reg_all"
    assert parse_option(name, as_hyperparameter(value)) == value


@pytest.mark.parametrize(
    ("raw", "name"),
    [("svd", "svd"), ("SVD", "svd"), (" svdpp ", "SVDpp"), ("nmf", "NMF"), ("KNNbaseline", "KNNBaseline"),
     ("baselineonly", "BaselineOnly"), ("SLOPEONE", "SlopeOne"), ("coclustering", "CoClustering")],
)  # fmt: skip
def test_algorithm_names_match_in_any_case_and_parse_to_their_canonical_spelling(raw, name):
    assert parse_option("algorithm", raw) == name
    assert set(ALGORITHMS) == set(BY_NAME["algorithm"].choices)


@pytest.mark.parametrize("raw", ["KNNWithMeans", "SVD++", "", 1, True])
def test_an_unknown_algorithm_is_refused_with_the_names(raw):
    with pytest.raises(OptionError) as info:
        parse_option("algorithm", raw)
    assert str(info.value) == (
        "must be one of 'svd', 'SVDpp', 'NMF', 'KNNBaseline', 'BaselineOnly', 'SlopeOne', 'CoClustering'"
    )


@pytest.mark.parametrize(("raw", "value"), [(True, True), (False, False), ("true", True), (" FALSE ", False)])
def test_flags_take_json_booleans_and_their_words(raw, value):
    assert parse_option("user_based", raw) is value
    assert parse_option("biased", as_hyperparameter(value)) is value


@pytest.mark.parametrize("raw", [1, 0, "yes", "", None, 1.0])
def test_flags_refuse_anything_else(raw):
    with pytest.raises(OptionError) as info:
        parse_option("user_based", raw)
    assert str(info.value) == "must be true or false"


def test_every_algorithms_defaults_lie_within_their_options_ranges():
    for name, defaults in ALGORITHMS.items():
        for option, value in defaults.items():
            assert BY_NAME[option].parse(value) == value, (name, option)


@pytest.mark.parametrize(
    ("values", "message"),
    [({"k": 5}, "'k' is not an option of algorithm 'svd', which takes n_factors, n_epochs, lr_all, reg_all and "
      "init_std_dev"),
     ({"algorithm": "SlopeOne", "n_epochs": 3}, "'n_epochs' is not an option of algorithm 'SlopeOne', which takes "
      "no options"),
     ({"algorithm": "BaselineOnly", "user_based": False}, "'user_based' is not an option of algorithm "
      "'BaselineOnly', which takes baseline_method"),
     ({"algorithm": "NMF", "lr_all": 0.1}, "'lr_all' is not an option of algorithm 'NMF', which takes n_factors, "
      "n_epochs and biased"),
     ({"algorithm": "KNNBaseline", "min_k": 41}, "'min_k' (41) must be at most 'k' (40)"),
     ({"algorithm": "KNNBaseline", "k": 3, "min_k": 4}, "'min_k' (4) must be at most 'k' (3)")],
)  # fmt: skip
def test_an_option_the_algorithm_does_not_take_is_refused_naming_what_it_takes(values, message):
    with pytest.raises(OptionError) as info:
        check_together(values)
    assert str(info.value) == message


def test_each_algorithm_takes_its_own_options_and_the_general_ones():
    for name, defaults in ALGORITHMS.items():
        check_together({"algorithm": name, **defaults, "random_state": 7, "top_k": 5, "validation_fraction": 0.1})
    assert algorithm_settings({"algorithm": "CoClustering", "n_cltr_u": 9}) == {
        "n_cltr_u": 9,
        "n_cltr_i": 3,
        "n_epochs": 20,
    }
