"""recommender.surprise_models: each Surprise algorithm's export predicts what the fitted Surprise object predicts.

The reference is the object's own ``predict`` (scikit-surprise 1.1.5, the image's pin): held-out
pairs, pairs the user rated, and unknown users and movies, clipped to the scale, to 1e-6. See
https://surprise.readthedocs.io/en/stable/prediction_algorithms_package.html.
"""

import numpy as np
import pandas as pd
import pytest

from recommender.config import ModelParams
from recommender.model import FactorModel
from recommender.ratings import Ratings
from recommender.surprise_models import (
    SURPRISE_ALGORITHMS,
    TableTooLargeError,
    algorithm,
    check_fits,
    export,
    needed_bytes,
    trainset,
)
from snowflake_sql.movielens import synthetic_movielens

SCALE = (0.5, 5.0)
UNKNOWN = 10**12
CASES = [
    *(ModelParams.of(name) for name in SURPRISE_ALGORITHMS),
    ModelParams.of("NMF", biased=True, n_factors=4),
    ModelParams.of("KNNBaseline", user_based=False, k=5, min_k=3),
    ModelParams.of("KNNBaseline", similarity="msd", k=3, min_k=2),
    ModelParams.of("KNNBaseline", similarity="cosine", user_based=False, k=2),
    ModelParams.of("KNNBaseline", similarity="pearson", k=10, baseline_method="sgd"),
    ModelParams.of("BaselineOnly", baseline_method="sgd"),
    ModelParams.of("CoClustering", n_cltr_u=5, n_cltr_i=2, n_epochs=5),
    ModelParams.of("SVDpp", n_factors=5, n_epochs=3, lr_all=0.01, reg_all=0.05, init_std_dev=0.2),
]


def case_id(params: ModelParams) -> str:
    return "-".join(f"{value}" for value in params.options().values() if value != params.random_state)


@pytest.fixture(scope="module")
def split() -> tuple[Ratings, Ratings]:
    data = synthetic_movielens(n_users=90, n_movies=250, n_ratings=3000, seed=11).ratings
    # whole stars as well as half stars (Surprise's SlopeOne and CoClustering read them as ints), many ties in
    # the similarities, and one rating given twice (Surprise keeps both)
    data.loc[data.index % 3 == 0, "rating"] = np.ceil(data.rating[data.index % 3 == 0])
    data = pd.concat([data, data.iloc[[5]]], ignore_index=True).sample(frac=1.0, random_state=2)
    ratings = Ratings.from_frame(data, source="synthetic")
    return ratings.split_by_user(0.2, 3)


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def fitted(request, split):
    train, _ = split
    surprise = algorithm(request.param).fit(trainset(train, SCALE))
    return surprise, export(surprise, train)


def surprise_says(surprise, users, items) -> np.ndarray:
    return np.array([surprise.predict(int(u), int(i)).est for u, i in zip(users, items, strict=True)])


def test_held_out_pairs_are_predicted_as_surprise_predicts_them(fitted, split):
    surprise, model = fitted
    _, holdout = split
    np.testing.assert_allclose(
        model.predict(holdout.users, holdout.items), surprise_says(surprise, holdout.users, holdout.items), atol=1e-6
    )


def test_any_known_pair_rated_or_not_is_predicted_as_surprise_predicts_it(fitted):
    surprise, model = fitted
    rng = np.random.default_rng(0)
    users, items = rng.choice(model.user_ids, 1500), rng.choice(model.item_ids, 1500)
    np.testing.assert_allclose(model.predict(users, items), surprise_says(surprise, users, items), atol=1e-6)


def test_unknown_users_and_movies_get_surprises_fallback(fitted):
    surprise, model = fitted
    user, movie = model.user_ids[[0, 7, 40]], model.item_ids[[0, 3, 99]]
    users = np.concatenate([np.full(3, UNKNOWN), user, [UNKNOWN, -5]])
    items = np.concatenate([movie, np.full(3, UNKNOWN), [UNKNOWN, -5]])
    ours = model.predict(users, items)
    np.testing.assert_allclose(ours, surprise_says(surprise, users, items), atol=1e-6)
    assert (ours >= SCALE[0]).all() and (ours <= SCALE[1]).all()


def test_the_export_is_sound_and_survives_a_round_trip(fitted, split, tmp_path):
    _, model = fitted
    _, holdout = split
    model.check_sound()
    model.save(tmp_path, {"model_version": "t"})
    loaded, metadata = FactorModel.load(tmp_path)
    assert metadata["format_version"] == 3
    pairs = (holdout.users, holdout.items)
    np.testing.assert_array_equal(loaded.predict(*pairs), model.predict(*pairs))
    assert (loaded.predictions is None) == (model.predictions is None)
    assert loaded.unknown_estimate == model.unknown_estimate


def test_lists_by_predicted_rating_are_the_best_unrated_estimates(fitted):
    """Without a ranker, top-k is by the model's own estimate: for dense exports, the row of estimates."""
    _, model = fitted
    users = model.user_ids[:12]
    lists = model.recommend(np.concatenate([users, [UNKNOWN]]), 5)
    assert len(lists[-1]) == 5  # an unknown user gets a list too
    for user, movies in zip(users, lists, strict=False):
        row = model.user_rows(np.array([user]))[0]
        seen = model.item_ids[model.rated.indices[model.rated.indptr[row] : model.rated.indptr[row + 1]]]
        assert len(set(movies)) == 5 and not set(movies) & set(seen)
        others = np.setdiff1d(model.item_ids, seen)
        estimates = model.predict(np.full(len(others), user), others)
        assert model.predict(np.full(5, user), np.array(movies)).min() >= np.sort(estimates)[-5] - 1e-5


def test_svd_is_never_refused_by_the_guard():
    ratings = Ratings(np.arange(10), np.arange(10), np.full(10, 3.0))
    check_fits(ratings, ModelParams(), available_bytes=0)


@pytest.mark.parametrize("name", SURPRISE_ALGORITHMS)
def test_the_guard_refuses_a_table_beyond_the_memory_left_naming_svd(name, split):
    train, _ = split
    params = ModelParams.of(name)
    needed = needed_bytes(params, len(train), train.n_users, train.n_items)
    check_fits(train, params, available_bytes=needed)
    with pytest.raises(TableTooLargeError) as info:
        check_fits(train, params, available_bytes=needed - 1)
    message = str(info.value)
    assert message.count(". ") == 0 and message.endswith(".")
    assert f"Algorithm '{name}'" in message and "algorithm 'svd'" in message


def test_the_square_matrices_weigh_in_the_estimate():
    """KNNBaseline keeps users x users (user-based) or movies x movies similarities; SlopeOne movies x movies."""
    users_side = needed_bytes(ModelParams.of("KNNBaseline"), 10**6, 100_000, 1_000)
    items_side = needed_bytes(ModelParams.of("KNNBaseline", user_based=False), 10**6, 100_000, 1_000)
    assert users_side > 10 * items_side
    assert needed_bytes(ModelParams.of("SlopeOne"), 10**6, 1_000, 50_000) > 10 * needed_bytes(
        ModelParams.of("SlopeOne"), 10**6, 1_000, 5_000
    )
