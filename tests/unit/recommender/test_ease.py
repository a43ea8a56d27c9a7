"""recommender.ease: EASE's closed form, which movies it covers, and the lists it ranks; graded EASE's formula."""

import numpy as np
import pytest

from recommender.ease import MIN_COVERED, ItemRanker, RankerError, fit_ease, fit_graded_ease, ratings_of_rated
from recommender.topk import RatedItems

GRADED = {"rating_weight": 0.5, "liked_weight": 0.5, "liked_regularization": 4.0, "popularity_exponent": 0.2,
          "liked_share": 0.6, "liked_threshold": 4.0}  # fmt: skip
PLAIN = {**GRADED, "rating_weight": 0.0, "liked_weight": 0.0, "popularity_exponent": 0.0}


def rated_from_matrix(matrix: np.ndarray) -> RatedItems:
    users, items = np.nonzero(matrix)
    return RatedItems.from_pairs(users.astype(np.int64), items.astype(np.int64), matrix.shape[0])


def closed_form(matrix: np.ndarray, regularization: float) -> np.ndarray:
    """Steck (2019), eq. 8, computed directly: B = I - P diagMat(1 / diag(P)), P = (X^T X + lambda I)^-1."""
    gram = matrix.T @ matrix + regularization * np.eye(matrix.shape[1])
    inverse = np.linalg.inv(gram)
    return np.eye(matrix.shape[1]) - inverse / np.diag(inverse)


@pytest.fixture(scope="module")
def matrix() -> np.ndarray:
    rng = np.random.default_rng(5)
    return (rng.random((60, 25)) < rng.random(25) * 0.6).astype(np.float64)


def test_weights_are_the_closed_form(matrix):
    ranker = fit_ease(rated_from_matrix(matrix), 25, regularization=7.5, min_ratings=1, max_movies=1000)
    assert ranker.items.tolist() == list(range(25))
    np.testing.assert_allclose(ranker.weights, closed_form(matrix, 7.5), atol=1e-6)
    assert not np.diag(ranker.weights).any()


def test_scores_rank_unrated_movies_by_x_times_b(matrix):
    ranker = fit_ease(rated_from_matrix(matrix), 25, regularization=7.5, min_ratings=1, max_movies=1000)
    rated = rated_from_matrix(matrix)
    lists = ranker.top_k(rated, np.arange(60), 5)
    scores = matrix @ closed_form(matrix, 7.5)
    scores[matrix > 0] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    for user in range(60):
        unrated = int((matrix[user] == 0).sum())
        assert lists.items[user, : min(5, unrated)].tolist() == expected[user, : min(5, unrated)].tolist()
        np.testing.assert_allclose(
            lists.scores[user, :unrated][:5], scores[user, expected[user]][:unrated][:5], atol=1e-5
        )


def test_a_hand_computed_example():
    """Two movies always seen together, one seen alone: lambda=1 gives B[0,1] = B[1,0] = 2/4, B[.,2] = 0."""
    matrix = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
    ranker = fit_ease(rated_from_matrix(matrix), 3, regularization=1.0, min_ratings=1, max_movies=100)
    # G + I = [[3,2,0],[2,3,0],[0,0,2]]; P = [[3,-2,0],[-2,3,0],[0,0,2.5]]/5; B[i,j] = -P[i,j]/P[j,j]
    np.testing.assert_allclose(ranker.weights, [[0, 2 / 3, 0], [2 / 3, 0, 0], [0, 0, 0]], atol=1e-7)
    # someone who saw only movie 0 gets movie 1 first (2/3), then movie 2 (0)
    rated = RatedItems.from_pairs(np.array([0]), np.array([0]), 1)
    lists = ranker.top_k(rated, np.array([0]), 2)
    assert lists.items.tolist() == [[1, 2]]
    np.testing.assert_allclose(lists.scores, [[2 / 3, 0.0]], atol=1e-7)


def test_ties_go_to_the_lower_movie_and_rated_movies_never_appear():
    matrix = np.zeros((4, 6))
    matrix[:, 0] = 1  # everyone rated movie 0; nothing else co-occurs
    matrix[0, 5] = matrix[1, 4] = 1
    ranker = fit_ease(rated_from_matrix(matrix), 6, regularization=1.0, min_ratings=1, max_movies=100)
    lists = ranker.top_k(rated_from_matrix(matrix), np.arange(4), 6)
    for user in range(4):
        shown = [i for i in lists.items[user].tolist() if i >= 0]
        assert not set(shown) & set(np.flatnonzero(matrix[user]).tolist())
    # user 2 rated only movie 0, which co-occurs once with 4 and once with 5: equal positive
    # weights, so 4 before 5; then 1, 2 and 3, never seen with it, all at 0, in id order
    assert lists.items[2].tolist()[:5] == [4, 5, 1, 2, 3]
    assert lists.scores[2, 0] == lists.scores[2, 1] > 0 == lists.scores[2, 2] == lists.scores[2, 4]


def test_unknown_users_and_users_without_covered_movies_get_the_most_popular():
    matrix = np.zeros((5, 4))
    matrix[:, 2] = 1
    matrix[:3, 0] = 1
    matrix[:1, 1] = 1
    rated = rated_from_matrix(matrix)
    ranker = fit_ease(rated, 5, regularization=1.0, min_ratings=1, max_movies=100)  # movie 4 has no ratings
    assert ranker.items.tolist() == [0, 1, 2, 3, 4][: ranker.n_covered]
    lists = ranker.top_k(rated, np.array([-1]), 3)
    assert lists.items.tolist() == [[2, 0, 1]]
    np.testing.assert_allclose(lists.scores, [[1.0, 0.6, 0.2]])


def test_coverage_keeps_the_most_rated_within_the_bounds():
    rng = np.random.default_rng(0)
    n_items = MIN_COVERED + 500
    counts = rng.integers(1, 40, n_items)
    users = np.concatenate([np.arange(c) for c in counts]).astype(np.int64)
    items = np.repeat(np.arange(n_items), counts).astype(np.int64)
    rated = RatedItems.from_pairs(users, items, int(users.max()) + 1)
    eligible = np.flatnonzero(counts >= 30)
    assert len(eligible) < MIN_COVERED  # so the floor applies
    floor = fit_ease(rated, n_items, regularization=10.0, min_ratings=30, max_movies=20_000)
    assert floor.n_covered == MIN_COVERED
    assert set(eligible.tolist()) <= set(floor.items.tolist())
    assert counts[floor.items].min() >= np.sort(counts)[::-1][MIN_COVERED - 1]
    capped = fit_ease(rated, n_items, regularization=10.0, min_ratings=1, max_movies=300)
    assert capped.n_covered == 300 and np.all(np.diff(capped.items) > 0)
    assert counts[capped.items].min() >= np.sort(counts)[::-1][299]
    everything = fit_ease(rated, n_items, regularization=10.0, min_ratings=1, max_movies=20_000)
    assert everything.n_covered == n_items


def test_alone_in_a_batch_and_in_parallel_the_lists_are_the_same(matrix):
    rated = rated_from_matrix(matrix)
    ranker = fit_ease(rated, 25, regularization=3.0, min_ratings=1, max_movies=1000)
    users = np.arange(60)
    batch = ranker.top_k(rated, users, 10)
    parallel = ranker.top_k(rated, users, 10, parallel=True)
    alone = [ranker.top_k(rated, np.array([u]), 10) for u in users]
    np.testing.assert_array_equal(batch.items, parallel.items)
    np.testing.assert_array_equal(batch.scores, parallel.scores)
    np.testing.assert_array_equal(batch.items, np.vstack([a.items for a in alone]))


def test_regularization_must_be_positive(matrix):
    with pytest.raises(RankerError, match="regularization above 0"):
        fit_ease(rated_from_matrix(matrix), 25, regularization=0.0, min_ratings=1, max_movies=100)


def test_k_must_be_positive(matrix):
    ranker = fit_ease(rated_from_matrix(matrix), 25, regularization=1.0, min_ratings=1, max_movies=100)
    with pytest.raises(ValueError, match="k must be at least 1"):
        ranker.top_k(rated_from_matrix(matrix), np.array([0]), 0)
    assert isinstance(ranker, ItemRanker)


@pytest.fixture(scope="module")
def graded_ratings(matrix) -> np.ndarray:
    """Ratings from 0.5 to 5 where ``matrix`` has an interaction, 0 elsewhere."""
    rng = np.random.default_rng(11)
    return matrix * rng.integers(1, 11, matrix.shape) / 2.0


def fit_graded(ratings: np.ndarray, **options: float) -> tuple[ItemRanker, RatedItems]:
    rated = rated_from_matrix(ratings)
    users, items = np.nonzero(ratings)  # row-major: the order of rated.indices
    ranker = fit_graded_ease(
        rated, ratings[users, items], ratings.shape[1], regularization=7.5, min_ratings=1, max_movies=1000,
        **{**GRADED, **options},
    )  # fmt: skip
    return ranker, rated


def dense_graded_scores(ratings: np.ndarray, c: float, w_liked: float, lam: float, lam_liked: float, beta: float,
                        share: float, threshold: float) -> np.ndarray:  # fmt: skip
    """The formula, computed densely in float64 (every movie covered, every user in the spread sample)."""
    x = (ratings > 0).astype(float)
    liked = (ratings >= threshold).astype(float)
    means = ratings.sum(1) / np.maximum(x.sum(1), 1)
    d = (ratings - means[:, None]) * x
    n_view = round(share * ratings.shape[1])
    view = np.sort(np.argsort(-liked.sum(0), kind="stable")[:n_view])
    b = closed_form(x, lam)
    b_liked = closed_form(liked[:, view], lam_liked)
    np.fill_diagonal(b, 0.0)
    np.fill_diagonal(b_liked, 0.0)
    ease_view = (x + c * d) @ b
    liked_view = np.zeros_like(ease_view)
    liked_view[:, view] = liked[:, view] @ b_liked
    unrated = x == 0
    sigma_b, sigma_l = ease_view[unrated].std(), liked_view[unrated].std()
    pop = np.maximum(x.sum(0), 1)
    return (ease_view / sigma_b + w_liked * liked_view / sigma_l) / pop**beta


def test_graded_lists_are_the_formula_computed_densely(graded_ratings):
    """score = ((x + c d) B / sigma_B + w_L (l BL) / sigma_L) / pop^beta, d = rating - user's mean, l = liked."""
    ranker, rated = fit_graded(graded_ratings)
    assert ranker.method == "graded_ease" and ranker.liked is not None
    assert len(ranker.liked.items) == 15  # 0.6 of 25 movies, the most liked
    expected = dense_graded_scores(graded_ratings, 0.5, 0.5, 7.5, 4.0, 0.2, 0.6, 4.0)
    expected[graded_ratings > 0] = -np.inf
    order = np.argsort(-expected, axis=1, kind="stable")[:, :5]
    lists = ranker.top_k(rated, np.arange(60), 5)
    for user in range(60):
        unrated = min(5, int((graded_ratings[user] == 0).sum()))
        assert lists.items[user, :unrated].tolist() == order[user, :unrated].tolist()
    # the ranker's scores are the formula's times sigma_B: one positive constant for every cell
    listed = lists.items >= 0
    ratio = lists.scores[listed] / np.take_along_axis(expected, np.maximum(lists.items, 0), 1)[listed]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)


def test_zeroed_graded_options_give_plain_ease_exactly(matrix, graded_ratings):
    """rating weight, liked weight and popularity exponent 0 (or a liked share of 0): EASE's weights and lists."""
    rated = rated_from_matrix(matrix)
    plain = fit_ease(rated, 25, regularization=7.5, min_ratings=1, max_movies=1000)
    users = np.concatenate([np.arange(60), [-1]])
    want = plain.top_k(rated, users, 10)
    for zeroed in (PLAIN, {**PLAIN, "liked_weight": 0.5, "liked_share": 0.0}):
        graded, _ = fit_graded(graded_ratings, **zeroed)
        assert graded.liked is None and not (graded.history_weights - 1).any()
        np.testing.assert_array_equal(graded.weights, plain.weights)
        for parallel in (False, True):
            got = graded.top_k(rated, users, 10, parallel=parallel)
            np.testing.assert_array_equal(got.items, want.items)
            np.testing.assert_array_equal(got.scores, want.scores)


def test_graded_lists_alone_in_a_batch_and_in_parallel_are_the_same(graded_ratings):
    ranker, rated = fit_graded(graded_ratings)
    users = np.arange(60)
    batch = ranker.top_k(rated, users, 10)
    parallel = ranker.top_k(rated, users, 10, parallel=True)
    np.testing.assert_array_equal(batch.items, parallel.items)
    np.testing.assert_array_equal(batch.scores, parallel.scores)
    np.testing.assert_array_equal(batch.items, np.vstack([ranker.top_k(rated, np.array([u]), 10).items for u in users]))
    for user in users:
        shown = set(batch.items[user][batch.items[user] >= 0].tolist())
        assert not shown & set(np.flatnonzero(graded_ratings[user]).tolist())


def test_graded_unknown_users_get_the_most_popular(graded_ratings):
    ranker, rated = fit_graded(graded_ratings)
    popular = np.argsort(-(graded_ratings > 0).sum(0), kind="stable")[:5]
    assert ranker.top_k(rated, np.array([-1]), 5).items.tolist() == [popular.tolist()]


def test_without_a_liked_rating_there_is_no_liked_view(graded_ratings):
    ranker, _ = fit_graded(np.minimum(graded_ratings, 3.5))
    assert ranker.liked is None and ranker.method == "graded_ease"


def test_graded_regularizations_must_be_positive(graded_ratings):
    with pytest.raises(RankerError, match="regularizations above 0"):
        fit_graded(graded_ratings, liked_regularization=0.0)


def test_ratings_of_rated_follow_the_rated_lists_and_average_repeats():
    users, items = np.array([1, 0, 1, 0, 1]), np.array([2, 3, 0, 3, 2])
    rated = RatedItems.from_pairs(users, items, 2)  # user 0: [3]; user 1: [0, 2]
    values = ratings_of_rated(rated, users, items, np.array([4.0, 1.0, 2.5, 2.0, 5.0]))
    assert values.tolist() == [1.5, 2.5, 4.5]
