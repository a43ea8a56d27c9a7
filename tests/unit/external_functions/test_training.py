"""train_and_get_recommendations' arguments: table names and options, checked before any job starts."""

import json
import math

import pytest

from external_functions import training
from external_functions.errors import CallerError
from external_functions.protocol import sentence, status_of
from pipeline_shared.training_options import ALGORITHM_OPTIONS, ALGORITHMS, BY_NAME, OPTION_NAMES, as_hyperparameter

# --- training.parse_request: table names --------------------------------------------------------------

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


def parse(*args, number=7):
    return training.parse_request(number, *args)


def test_parse_request_accepts_three_part_names():
    request = parse(VALID, "db.schema.recs")
    assert request.input_table.sql == "DB.SCHEMA.RATINGS"
    assert request.output_table.sql == "DB.SCHEMA.RECS"
    assert request.options == {}
    assert request.row == 7


@pytest.mark.parametrize("text", ["RATINGS", "SCHEMA.RATINGS", "_db.s$1.t_2", "  DB.S.T  ", "DB." + "R" * 255])
def test_parse_request_accepts_plain_identifiers(text):
    assert parse(text, VALID).input_table.sql == text.strip().upper()


@pytest.mark.parametrize("text", INJECTIONS)
@pytest.mark.parametrize("position", [0, 1])
def test_parse_request_rejects_unsafe_table_names(text, position):
    args = [VALID, VALID]
    args[position] = text
    with pytest.raises(CallerError) as info:
        parse(*args, number=31)
    message = sentence(info.value)
    assert status_of(info.value) == 400
    assert message.startswith("Row 31: ")
    assert ("input table" if position == 0 else "output table") in message
    assert text.strip() not in message
    for fragment in ("drop", "OR '1'", "--", "/*", '"RATINGS"', "R" * 20):
        if fragment in text:
            assert fragment not in message


@pytest.mark.parametrize("value", [None, "", "   ", 98765, 3.25, True, ["DB.S.T"], {"name": "DB.S.T"}])
def test_parse_request_rejects_missing_or_non_text_names(value):
    with pytest.raises(CallerError) as info:
        parse(value, VALID, number=12)
    assert sentence(info.value).startswith("Row 12: ")
    assert "98765" not in sentence(info.value)
    assert "3.25" not in sentence(info.value)


# --- training.parse_request: options ------------------------------------------------------------------


def options(value, number=5):
    return parse(VALID, VALID, value, number=number).options


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


def test_the_ranking_option_is_a_word():
    assert options({"ranking": "predicted_rating", "ranking_max_movies": 5000}) == {
        "ranking": "predicted_rating",
        "ranking_max_movies": "5000",
    }
    with pytest.raises(CallerError) as info:
        options({"ranking": "by_mood"}, number=2)
    assert sentence(info.value) == "Row 2: option 'ranking' must be one of 'graded_ease', 'ease', 'predicted_rating'."


def test_graded_ease_options_are_refused_with_another_ranking():
    """They change nothing under 'ease' or 'predicted_rating': refused before a (billed) job starts."""
    assert options({"ranking_liked_weight": 0, "ranking_popularity_exponent": 0.1}) == {
        "ranking_liked_weight": "0.0",
        "ranking_popularity_exponent": "0.1",
    }
    with pytest.raises(CallerError) as info:
        options({"ranking": "predicted_rating", "ranking_rating_weight": 1}, number=3)
    assert sentence(info.value) == (
        "Row 3: 'ranking_rating_weight' is an option of ranking 'graded_ease' only, not of 'predicted_rating'."
    )


def test_the_rating_scale_is_checked_as_a_whole():
    assert options({"rating_min": 1, "rating_max": 10}) == {"rating_min": "1.0", "rating_max": "10.0"}
    with pytest.raises(CallerError) as info:
        options({"rating_min": 6}, number=4)
    assert sentence(info.value) == "Row 4: 'rating_min' (6.0) must be below 'rating_max' (5.0)."


def test_options_as_json_text():
    text = json.dumps({"n_factors": 64, "validation_fraction": 0.2})
    assert options(text) == {"n_factors": "64", "validation_fraction": "0.2"}


def test_every_documented_option_is_accepted():
    # each algorithm's own options go with that algorithm (the others are refused with it: see below)
    for algorithm, taken in ALGORITHMS.items():
        names = [name for name in OPTION_NAMES if name not in ALGORITHM_OPTIONS or name in taken]
        value = {name: BY_NAME[name].default for name in names} | {"algorithm": algorithm}
        assert options(value) == {name: as_hyperparameter(option) for name, option in value.items()}


@pytest.mark.parametrize(("raw", "name"), [("svd", "svd"), ("SVDPP", "SVDpp"), ("knnbaseline", "KNNBaseline")])
def test_the_algorithm_is_passed_on_in_its_canonical_spelling(raw, name):
    assert options({"algorithm": raw, "random_state": 3}) == {"algorithm": name, "random_state": "3"}
    assert options({"algorithm": "NMF", "biased": True}) == {"algorithm": "NMF", "biased": "true"}


@pytest.mark.parametrize(
    ("value", "message"),
    [({"algorithm": "SVD++"}, "Row 5: option 'algorithm' must be one of 'svd', 'SVDpp', 'NMF', 'KNNBaseline', "
      "'BaselineOnly', 'SlopeOne', 'CoClustering'."),
     ({"algorithm": "SlopeOne", "n_factors": 10}, "Row 5: 'n_factors' is not an option of algorithm 'SlopeOne', "
      "which takes no options."),
     ({"k": 10}, "Row 5: 'k' is not an option of algorithm 'svd', which takes n_factors, n_epochs, lr_all, reg_all "
      "and init_std_dev."),
     ({"algorithm": "CoClustering", "lr_all": 0.1}, "Row 5: 'lr_all' is not an option of algorithm 'CoClustering', "
      "which takes n_cltr_u, n_cltr_i and n_epochs."),
     ({"algorithm": "knnbaseline", "k": 5, "min_k": 6}, "Row 5: 'min_k' (6) must be at most 'k' (5)."),
     ({"algorithm": "KNNBaseline", "user_based": "yes"}, "Row 5: option 'user_based' must be true or false.")],
)  # fmt: skip
def test_a_bad_algorithm_or_an_option_it_does_not_take_is_a_bad_request(value, message):
    with pytest.raises(CallerError) as info:
        options(value)
    assert status_of(info.value) == 400
    assert sentence(info.value) == message


@pytest.mark.parametrize(
    ("key", "value"),
    [("n_epochs", 100000), ("n_epochs", 0), ("lr_all", 0), ("top_k", 5000), ("validation_fraction", 0.9),
     ("n_factors", 2.5), ("random_state", -1)],
)  # fmt: skip
def test_options_outside_the_images_ranges_are_bad_requests(key, value):
    """The image's own rule, checked before a (billed) job starts."""
    with pytest.raises(CallerError) as info:
        options({key: value}, number=3)
    assert sentence(info.value).startswith(f"Row 3: option '{key}' must be ")
    assert BY_NAME[key].rule in sentence(info.value)


def test_unknown_option_is_rejected_naming_the_allowed_keys():
    with pytest.raises(CallerError) as info:
        options({"n_epochs": 3, "snowflake_user": "ACCOUNTADMIN"}, number=9)
    message = sentence(info.value)
    assert message.startswith("Row 9: unknown option")
    for key in OPTION_NAMES:
        assert key in message
    assert "ACCOUNTADMIN" not in message


@pytest.mark.parametrize(
    "value",
    [True, False, [1], {"a": 1}, None, math.nan, math.inf, -math.inf, "abc", "", "nan", "inf", "1e999", "0x10"],
)
def test_non_numeric_option_values_are_rejected(value):
    with pytest.raises(CallerError) as info:
        options({"n_epochs": value}, number=4)
    assert sentence(info.value).startswith("Row 4: option 'n_epochs' must be")


def test_huge_integer_option_is_a_bad_request():
    # A JSON integer too large for a float must be a 400, not an unexpected OverflowError (a 500).
    with pytest.raises(CallerError) as info:
        options({"n_epochs": 10**400}, number=4)
    assert sentence(info.value).startswith("Row 4: ")


@pytest.mark.parametrize("value", [[1, 2], "[1, 2]", "not json", '"text"', 42, 1.5, True])
def test_options_that_are_not_an_object_are_rejected(value):
    with pytest.raises(CallerError) as info:
        options(value, number=6)
    assert sentence(info.value).startswith("Row 6: options must be an OBJECT")
    assert "not json" not in sentence(info.value)
