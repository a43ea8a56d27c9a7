import csv
import json

import numpy as np
import pytest

from recommender.config import ModelParams, RankingParams
from recommender.fitting import fit_model
from recommender.inference import (
    CSV,
    JSON,
    MAX_ANSWER,
    MAX_K,
    MAX_LISTED,
    MAX_PAIRS,
    Answer,
    RequestError,
    TooLargeError,
    answer,
    format_csv,
    parse_csv_pairs,
)
from recommender.model import FactorModel
from recommender.ratings import Ratings
from recommender.topk import RatedItems
from recommender.train import write_top_k
from snowflake_sql.movielens import synthetic_movielens

USER_IDS = [10, 20, 30]
ITEM_IDS = [100, 200, 300, 400, 500]


@pytest.fixture
def model():
    # user 10 rated 100, 300; user 20 rated 500; user 30 rated nothing
    rated = RatedItems.from_pairs(np.array([0, 0, 1]), np.array([0, 2, 4]), 3)
    return FactorModel(
        user_ids=np.array(USER_IDS, dtype=np.int64),
        item_ids=np.array(ITEM_IDS, dtype=np.int64),
        user_factors=np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], dtype=np.float32),
        item_factors=np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [-0.5, 0.0], [2.0, 2.0]], dtype=np.float32),
        user_bias=np.array([0.25, -0.5, 0.0]),
        item_bias=np.array([0.0, 0.5, 0.25, 1.0, -1.0]),
        global_mean=3.0,
        rating_min=0.5,
        rating_max=5.0,
        rated=rated,
    )


def post_json(model, document):
    result = answer(model, JSON, json.dumps(document).encode())
    assert isinstance(result, Answer)
    assert result.content_type == JSON
    return json.loads(result.body)


def test_csv_predictions_equal_model_predict(model):
    body = b"10,100\n20,300\n30,500\n99,200\n10,999\n"
    result = answer(model, CSV, body)
    assert result.content_type == CSV
    assert result.body.endswith(b"\n")
    lines = result.body.decode().splitlines()
    expected = model.predict(np.array([10, 20, 30, 99, 10]), np.array([100, 300, 500, 200, 999]))
    assert [float(x) for x in lines] == pytest.approx(np.round(expected, 6).tolist(), abs=1e-12)
    # hand values: 3 + 0.25 + 0 + 1 = 4.25; 3 - 0.5 + 0.25 + 1 = 3.75; 3 + 0 - 1 - 4 clipped to 0.5
    assert [float(x) for x in lines[:3]] == [4.25, 3.75, 0.5]
    assert float(lines[3]) == 3.5  # unknown user: mean + item bias
    assert float(lines[4]) == 3.25  # unknown movie: mean + user bias


def test_csv_single_line_and_float_ids(model):
    assert answer(model, CSV, b"1.0,2.0").body == answer(model, CSV, b"1,2\n").body
    assert float(answer(model, CSV, b"10.0,400.0\n").body) == pytest.approx(3.0 + 0.25 + 1.0 - 0.5)


def test_parse_csv_pairs():
    users, movies = parse_csv_pairs(b"1,2\n3.0,4\n")
    assert users.tolist() == [1, 3]
    assert movies.tolist() == [2, 4]
    assert users.dtype == np.int64


def test_format_csv_fixed_width_for_common_scales():
    assert format_csv(np.array([1.0, 2.1234567, 0.5, 4.99996, 0.0])) == b"1.0000\n2.1235\n0.5000\n5.0000\n0.0000\n"


@pytest.mark.parametrize("values", [[-1.25, 3.0], [10.0, 2.5], [123.456789]])
def test_format_csv_other_scales(values):
    assert format_csv(np.array(values)) == "".join(f"{v:.4f}\n" for v in values).encode()


def test_format_csv_round_trips():
    values = np.random.default_rng(0).uniform(0.5, 5.0, 1000)
    np.testing.assert_allclose(np.array(format_csv(values).split(), dtype=float), values, atol=5e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"1,2,3\n", "2 fields"),
        (b"1\n2\n", "2 fields"),
        (b"a,b\n", "numbers"),
        (b"1,x\n", "numbers"),
        (b"1,2\n3\n", "numbers"),
        (b"1.5,2\n", "not whole numbers"),
        (b"1,nan\n", "not whole numbers"),
        (b"1,1e300\n", "not whole numbers"),
    ],
)
def test_csv_errors(model, body, message):
    with pytest.raises(RequestError, match=message):
        answer(model, CSV, body)


def test_json_instances(model):
    document = post_json(model, {"instances": [[10, 100], [20, 300], [99, 999]]})
    expected = model.predict(np.array([10, 20, 99]), np.array([100, 300, 999]))
    assert document == {"predictions": np.round(expected, 6).tolist()}
    assert document["predictions"] == [4.25, 3.75, 3.0]


def test_json_empty_instances(model):
    assert post_json(model, {"instances": []}) == {"predictions": []}


def test_json_empty_user_ids(model):
    assert post_json(model, {"user_ids": []}) == {"recommendations": []}


def test_json_user_ids_default_k(model):
    document = post_json(model, {"user_ids": [10, 20, 30]})
    # scores: user 10 -> [1, 1, .25, .5, 1] minus rated {100, 300}; user 20 -> [0, 1, 1.25, 1, 1] minus 500
    # user 30 -> [-1, -.5, -.75, 1.5, -5]; ties by lower movie id
    assert document == {
        "recommendations": [
            [200, 500, 400],
            [300, 200, 400, 100],
            [400, 200, 300, 100, 500],
        ]
    }


def test_json_user_ids_explicit_k(model):
    assert post_json(model, {"user_ids": [30, 10], "k": 2}) == {"recommendations": [[400, 200], [200, 500]]}
    assert post_json(model, {"user_ids": [20], "k": 1}) == {"recommendations": [[300]]}
    assert post_json(model, {"user_ids": [20], "k": MAX_K}) == {"recommendations": [[300, 200, 400, 100]]}


def test_json_unknown_user_ranked_by_bias(model):
    document = post_json(model, {"user_ids": [12345], "k": 5})
    assert document == {"recommendations": [[400, 200, 300, 100, 500]]}


def test_json_recommendations_match_model(model):
    users = [30, 10, 777, 20]
    assert post_json(model, {"user_ids": users, "k": 3})["recommendations"] == model.recommend(np.array(users), 3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[[1, 2]]", "must be an object"),
        (b'"instances"', "must be an object"),
        (b'{"instances": [[1, 2]], "user_ids": [1]}', "exactly one of"),
        (b"{}", "exactly one of"),
        (b'{"k": 3}', "exactly one of"),
        (b'{"user_ids": [1], "k": 0}', "'k' must be"),
        (b'{"user_ids": [1], "k": -1}', "'k' must be"),
        (b'{"user_ids": [1], "k": true}', "'k' must be"),
        (b'{"user_ids": [1], "k": 1001}', "'k' must be"),
        (b'{"user_ids": [1], "k": 2.0}', "'k' must be"),
        (b'{"user_ids": [1], "k": "3"}', "'k' must be"),
        (b'{"user_ids": [1], "k": null}', "'k' must be"),
        (b'{"instances": [1, 2]}', "pairs"),
        (b'{"instances": [[1, 2, 3]]}', "pairs"),
        (b'{"instances": [[1, 2], [3]]}', "pairs"),
        (b'{"instances": [[1, "a"]]}', "pairs"),
        (b'{"instances": {"1": 2}}', "pairs"),
        (b'{"instances": [[1.5, 2]]}', "not whole numbers"),
        (b'{"user_ids": 1}', "a list of user ids"),
        (b'{"user_ids": "1,2"}', "a list of user ids"),
        (b'{"user_ids": [[1, 2]]}', "a list of user ids"),
        (b'{"user_ids": [1.5]}', "not whole numbers"),
        (b'{"user_ids": [1e300]}', "not whole numbers"),
    ],
)
def test_json_errors(model, body, message):
    with pytest.raises(RequestError, match=message):
        answer(model, JSON, body)


@pytest.mark.parametrize(
    ("content_type", "body", "fragment"),
    [
        (CSV, b"1,2\n" * (MAX_PAIRS + 1), f"over {MAX_PAIRS:,} lines"),
        (JSON, json.dumps({"instances": [[1, 2]] * (MAX_PAIRS + 1)}).encode(), "instances"),
        (JSON, json.dumps({"user_ids": list(range(MAX_LISTED // 1000 + 1)), "k": 1000}).encode(), "user_ids times k"),
    ],
    ids=["csv-lines", "instances", "users-x-k"],
)
def test_requests_beyond_one_answer_are_too_large(model, content_type, body, fragment):
    with pytest.raises(TooLargeError, match="split") as info:
        answer(model, content_type, body)
    assert fragment in str(info.value)


def test_the_largest_allowed_requests_are_answered_under_6_mb(model):
    users = list(range(MAX_LISTED // 1000))
    result = answer(model, JSON, json.dumps({"user_ids": users, "k": 1000}).encode())
    assert len(result.body) <= MAX_ANSWER
    csv = answer(model, CSV, b"1,2\n" * MAX_PAIRS)
    assert len(csv.body) <= MAX_ANSWER


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested too deeply"), (b'{"user_ids": [' + b"7" * 5000 + b"]}", "not valid")],
    ids=["deep", "huge-integer"],
)
def test_hostile_json_is_a_bad_request(model, body, fragment):
    with pytest.raises(RequestError, match=fragment):
        answer(model, JSON, body)


def test_served_lists_are_the_lists_the_job_writes(tmp_path):
    """The endpoint's recommend, on the model as it loads it, answers every user with the job's written list."""
    frame = synthetic_movielens(n_users=80, n_movies=300, n_ratings=5000, seed=3).ratings
    ratings = Ratings.from_frame(frame[["userId", "movieId", "rating"]], source="synthetic")
    trained = fit_model(ratings, ModelParams(n_factors=8, n_epochs=5), RankingParams(min_ratings=1))
    assert trained.ranking == "graded_ease" and trained.ranker.liked is not None
    write_top_k(trained, 10, tmp_path / "recommendations.csv")
    trained.save(tmp_path / "model", {})
    served, _ = FactorModel.load(tmp_path / "model")
    with (tmp_path / "recommendations.csv").open(newline="") as handle:
        written = {int(user): json.loads(movies) for user, movies, _ in csv.reader(handle)}
    users = sorted(written)
    assert len(users) == 80
    assert post_json(served, {"user_ids": users, "k": 10})["recommendations"] == [written[u] for u in users]
