import numpy as np
import pandas as pd
import pytest

from recommender.ratings import Ratings, RatingsError


def frame(users=(1, 1, 2, 3), items=(10, 20, 10, 30), values=(4.0, 3.5, 2.0, 5.0)):
    return pd.DataFrame({"USERID": list(users), "MOVIEID": list(items), "RATING": list(values)})


@pytest.fixture
def many():
    rng = np.random.default_rng(3)
    n = 1001
    return Ratings(
        users=rng.integers(1, 50, n).astype(np.int64),
        items=np.arange(n, dtype=np.int64) + 100,
        values=rng.integers(1, 11, n) / 2.0,
    )


def test_from_frame_arrays():
    ratings = Ratings.from_frame(frame(), source="DB.S.T")
    assert ratings.users.dtype == np.int64
    assert ratings.items.dtype == np.int64
    assert ratings.values.dtype == np.float64
    np.testing.assert_array_equal(ratings.users, [1, 1, 2, 3])
    np.testing.assert_array_equal(ratings.items, [10, 20, 10, 30])
    np.testing.assert_array_equal(ratings.values, [4.0, 3.5, 2.0, 5.0])
    assert len(ratings) == 4
    assert ratings.n_users == 3
    assert ratings.n_items == 3


def test_lower_case_columns_and_extra_columns_accepted():
    data = pd.DataFrame({"timestamp": [0, 1], "rating": [1.0, 2.0], "movieid": [7, 8], "userId": [5, 6]})
    ratings = Ratings.from_frame(data, source="t")
    np.testing.assert_array_equal(ratings.users, [5, 6])
    np.testing.assert_array_equal(ratings.items, [7, 8])
    np.testing.assert_array_equal(ratings.values, [1.0, 2.0])


@pytest.mark.parametrize("column", ["USERID", "MOVIEID", "RATING"])
def test_missing_column(column):
    with pytest.raises(RatingsError, match=f"DB.S.T has no column {column}"):
        Ratings.from_frame(frame().drop(columns=[column]), source="DB.S.T")


def test_empty_frame():
    with pytest.raises(RatingsError, match="has no ratings"):
        Ratings.from_frame(frame().iloc[:0], source="t")


@pytest.mark.parametrize("column", ["USERID", "MOVIEID", "RATING"])
def test_nulls(column):
    data = frame().astype(object)
    data.loc[2, column] = None
    with pytest.raises(RatingsError, match=f"NULLs in {column}"):
        Ratings.from_frame(data, source="t")


@pytest.mark.parametrize("column", ["USERID", "MOVIEID", "RATING"])
def test_non_numeric(column):
    data = frame().astype(object)
    data.loc[1, column] = "abc"
    with pytest.raises(RatingsError, match="non-numeric"):
        Ratings.from_frame(data, source="t")


@pytest.mark.parametrize("column", ["USERID", "MOVIEID"])
def test_fractional_ids(column):
    data = frame().astype({column: float})
    data.loc[0, column] = 1.5
    with pytest.raises(RatingsError, match="values that are not whole numbers"):
        Ratings.from_frame(data, source="t")


def test_whole_float_ids_accepted():
    ratings = Ratings.from_frame(frame().astype({"USERID": float, "MOVIEID": float}), source="t")
    np.testing.assert_array_equal(ratings.users, [1, 1, 2, 3])
    assert ratings.users.dtype == np.int64


def test_infinite_rating():
    with pytest.raises(RatingsError, match="infinite"):
        Ratings.from_frame(frame(values=(1.0, np.inf, 2.0, 3.0)), source="t")


def test_scale_comes_from_data():
    assert Ratings.from_frame(frame(), source="t").scale == (2.0, 5.0)
    assert Ratings.from_frame(frame(values=(1, 10, 3, 7)), source="t").scale == (1.0, 10.0)


def test_split_deterministic_disjoint_and_complete(many):
    train, holdout = many.split(0.2, seed=5)
    train2, holdout2 = many.split(0.2, seed=5)
    for a, b in ((train, train2), (holdout, holdout2)):
        np.testing.assert_array_equal(a.users, b.users)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_array_equal(a.values, b.values)
    # items are unique per row here, so they identify rows
    assert set(train.items.tolist()).isdisjoint(holdout.items.tolist())
    assert sorted(train.items.tolist() + holdout.items.tolist()) == many.items.tolist()
    assert len(holdout) == round(len(many) * 0.2)
    assert len(train) + len(holdout) == len(many)
    # rows keep their (user, item, value) alignment
    by_item = dict(zip(many.items.tolist(), zip(many.users.tolist(), many.values.tolist(), strict=True), strict=True))
    for part in (train, holdout):
        for u, i, v in zip(part.users.tolist(), part.items.tolist(), part.values.tolist(), strict=True):
            assert by_item[i] == (u, v)


def test_split_differs_between_seeds(many):
    _, a = many.split(0.2, seed=1)
    _, b = many.split(0.2, seed=2)
    assert a.items.tolist() != b.items.tolist()


@pytest.mark.parametrize(("n", "fraction"), [(10, 0.25), (10, 0.35), (7, 0.5), (3, 0.0), (1001, 0.1)])
def test_split_holdout_size(n, fraction):
    ratings = Ratings(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), np.ones(n))
    train, holdout = ratings.split(fraction, seed=0)
    assert len(holdout) == round(n * fraction)
    assert len(train) == n - len(holdout)


def test_fingerprint_invariant_to_row_order(many):
    order = np.random.default_rng(0).permutation(len(many))
    assert many.take(order).fingerprint() == many.fingerprint()
    data = frame()
    shuffled = data.iloc[::-1].reset_index(drop=True)
    assert Ratings.from_frame(data, source="t").fingerprint() == Ratings.from_frame(shuffled, source="t").fingerprint()


def test_fingerprint_changes_with_data(many):
    base = many.fingerprint()
    assert len(base) == 64
    changed = Ratings(many.users, many.items, many.values.copy())
    changed.values[17] += 0.5
    assert changed.fingerprint() != base
    moved = Ratings(many.users.copy(), many.items, many.values)
    moved.users[3] += 1000
    assert moved.fingerprint() != base
    assert many.take(np.arange(len(many) - 1)).fingerprint() != base


def test_large_ids_are_kept_exactly_or_rejected():
    # int64 ids above 2**53 cannot pass through float64 unchanged; two distinct users must not merge
    data = pd.DataFrame({"USERID": [2**53, 2**53 + 1], "MOVIEID": [7, 7], "RATING": [1.0, 2.0]})
    try:
        ratings = Ratings.from_frame(data, source="t")
    except RatingsError:
        return
    assert ratings.users.tolist() == [2**53, 2**53 + 1]
    assert ratings.n_users == 2


def test_split_by_user_holds_out_each_users_share(many):
    train, holdout = many.split_by_user(0.2, seed=42)
    assert len(train) + len(holdout) == len(many)
    pairs = lambda r: set(zip(r.users.tolist(), r.items.tolist(), strict=True))  # noqa: E731
    assert pairs(train) | pairs(holdout) == pairs(many) and not pairs(train) & pairs(holdout)
    for user in np.unique(many.users):
        n = int((many.users == user).sum())
        assert int((holdout.users == user).sum()) == round(n * 0.2)
    again = many.split_by_user(0.2, seed=42)
    assert pairs(again[1]) == pairs(holdout)
    assert pairs(many.split_by_user(0.2, seed=7)[1]) != pairs(holdout)


def test_split_by_user_keeps_users_with_one_rating_whole():
    ratings = Ratings(np.array([1, 2, 2, 2, 2, 2]), np.arange(6), np.full(6, 4.0))
    train, holdout = ratings.split_by_user(0.2, seed=0)
    assert holdout.users.tolist() == [2]
    assert sorted(train.users.tolist()) == [1, 2, 2, 2, 2]


def test_split_by_user_on_a_sample_of_users(many):
    train, holdout = many.split_by_user(0.25, seed=3, max_users=10)
    users = set(train.users.tolist()) | set(holdout.users.tolist())
    assert len(users) == 10
    for user in users:  # a sampled user takes part with all of its ratings
        assert int((train.users == user).sum() + (holdout.users == user).sum()) == int((many.users == user).sum())
    assert (
        many.split_by_user(0.25, seed=3, max_users=1000)[1].users.size == many.split_by_user(0.25, seed=3)[1].users.size
    )


def test_within_keeps_the_scale_and_counts_the_rest():
    ratings = Ratings(np.arange(5), np.arange(5), np.array([0.5, 5.0, 1e9, -3.0, 3.5]))
    kept, left_out = ratings.within(0.5, 5.0)
    assert kept.values.tolist() == [0.5, 5.0, 3.5] and left_out == 2
    assert ratings.within(-10, 1e10) == (ratings, 0)
