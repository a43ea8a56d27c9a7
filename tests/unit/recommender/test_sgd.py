"""recommender.sgd: Surprise's SVD fitted by the compiled trainer, checked against Surprise itself."""

import numpy as np
import pandas as pd
import pytest

from recommender.config import ModelParams
from recommender.ratings import Ratings
from recommender.sgd import fit_biased_mf
from recommender.svd import evaluate, fit_svd
from snowflake_sql.movielens import synthetic_movielens
from tests.conftest import SHARED_MOVIELENS
from tests.support.surprise import surprise_svd


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    data = synthetic_movielens(n_users=80, n_movies=300, n_ratings=5000, seed=4).ratings
    # shuffled: the trainer must visit ratings in Surprise's order, not the input's
    return data[["userId", "movieId", "rating"]].sample(frac=1.0, random_state=1).reset_index(drop=True)


def test_same_draws_order_and_updates_as_surprise(frame):
    params = ModelParams(n_factors=12, n_epochs=15, lr_all=0.01, reg_all=0.05, init_std_dev=0.1, random_state=9)
    theirs = surprise_svd(frame, params, (0.5, 5.0))
    ours = fit_biased_mf(
        frame.userId.to_numpy(),
        frame.movieId.to_numpy(),
        frame.rating.to_numpy(),
        n_factors=12,
        n_epochs=15,
        lr=0.01,
        reg=0.05,
        init_std_dev=0.1,
        random_state=9,
    )
    trainset = theirs.trainset
    users = np.array([trainset.to_inner_uid(u) for u in ours.user_ids])
    items = np.array([trainset.to_inner_iid(i) for i in ours.item_ids])
    # float32 factors against Surprise's float64: the same numbers to single precision
    np.testing.assert_allclose(ours.user_factors, theirs.pu[users], atol=2e-5)
    np.testing.assert_allclose(ours.item_factors, theirs.qi[items], atol=2e-5)
    np.testing.assert_allclose(ours.user_bias, theirs.bu[users], atol=2e-5)
    np.testing.assert_allclose(ours.item_bias, theirs.bi[items], atol=2e-5)
    assert ours.global_mean == pytest.approx(trainset.global_mean)


def test_holdout_rmse_within_one_percent_of_surprise():
    """On ml-latest-small (or the synthetic stand-in), with the shipped hyperparameters."""
    from snowflake_sql.movielens import shared_or_synthetic

    data, _ = shared_or_synthetic(SHARED_MOVIELENS)
    ratings = Ratings.from_frame(data.ratings, source="movielens")
    train, holdout = ratings.split_by_user(0.2, 42)
    params = ModelParams()
    ours = evaluate(fit_svd(train, params, scale=ratings.scale), holdout)
    frame = pd.DataFrame({"u": train.users, "i": train.items, "r": train.values})
    algo = surprise_svd(frame, params, ratings.scale)
    predicted = np.array([algo.predict(int(u), int(i)).est for u, i in zip(holdout.users, holdout.items, strict=True)])
    theirs = float(np.sqrt(np.mean((predicted - holdout.values) ** 2)))
    assert ours.rmse == pytest.approx(theirs, rel=0.01)


def test_the_same_seed_gives_the_same_model(frame):
    ratings = Ratings.from_frame(frame, source="t")
    first, second = fit_svd(ratings, ModelParams(n_epochs=3)), fit_svd(ratings, ModelParams(n_epochs=3))
    np.testing.assert_array_equal(first.user_factors, second.user_factors)
    other = fit_svd(ratings, ModelParams(n_epochs=3, random_state=1))
    assert not np.array_equal(first.user_factors, other.user_factors)
