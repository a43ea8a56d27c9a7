import numpy as np
import pytest

from recommender.topk import RatedItems, TopK, block_rows, iter_top_k, top_k


def reference(user_vectors, user_rows, item_factors, item_bias, rated_sets, k):
    """Brute force: score every item, drop rated ones, sort by (-score, item), pad with -1 / -inf."""
    n = len(user_vectors)
    items = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float64)
    all_scores = item_bias.astype(np.float64) + user_vectors.astype(np.float64) @ item_factors.astype(np.float64).T
    for j in range(n):
        excluded = rated_sets[user_rows[j]] if user_rows[j] >= 0 else set()
        ranked = sorted(
            (i for i in range(item_factors.shape[0]) if i not in excluded),
            key=lambda i, row=all_scores[j]: (-row[i], i),
        )[:k]
        items[j, : len(ranked)] = ranked
        scores[j, : len(ranked)] = all_scores[j, ranked]
    return items, scores


def make_problem(seed, n_users, n_items, n_factors=4, rated_per_user=5, low=-2, high=3):
    rng = np.random.default_rng(seed)
    user_vectors = rng.integers(low, high, (n_users, n_factors)).astype(np.float32)
    item_factors = rng.integers(low, high, (n_items, n_factors)).astype(np.float32)
    item_bias = rng.integers(low, high, n_items).astype(np.float64)
    rated_sets = [
        set(rng.choice(n_items, min(rated_per_user, n_items), replace=False).tolist()) for _ in range(n_users)
    ]
    rated = rated_from_sets(rated_sets)
    return user_vectors, np.arange(n_users, dtype=np.int64), item_factors, item_bias, rated_sets, rated


def rated_from_sets(rated_sets):
    users = np.array([u for u, s in enumerate(rated_sets) for _ in s], dtype=np.int64)
    items = np.array([i for s in rated_sets for i in s], dtype=np.int64)
    return RatedItems.from_pairs(users, items, len(rated_sets))


def check(user_vectors, user_rows, item_factors, item_bias, rated_sets, rated, k, **kwargs):
    result = top_k(user_vectors, user_rows, item_factors, item_bias, rated, k, **kwargs)
    items, scores = reference(user_vectors, user_rows, item_factors, item_bias, rated_sets, k)
    assert isinstance(result, TopK)
    assert result.items.shape == (len(user_vectors), k)
    assert result.scores.shape == (len(user_vectors), k)
    assert result.items.dtype == np.int64
    assert result.scores.dtype == np.float32
    np.testing.assert_array_equal(result.items, items)
    np.testing.assert_array_equal(result.scores.astype(np.float64), scores)
    return result


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_small_catalogue_matches_brute_force(seed, k):
    # 50 items: fewer than 64 * k, the direct-partition path of _candidates
    check(*make_problem(seed, n_users=30, n_items=50), k)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_items", [2000, 2007, 2015])
def test_large_catalogue_matches_brute_force(seed, n_items):
    # n_items >= 64 * k: the group-maxima path, incl. catalogues that are not a multiple of 16
    check(*make_problem(seed, n_users=40, n_items=n_items, rated_per_user=40), 10)


def test_heavy_ties_break_by_lower_item_index():
    n_items = 40
    user_vectors = np.ones((3, 2), dtype=np.float32)
    item_factors = np.zeros((n_items, 2), dtype=np.float32)
    item_bias = np.zeros(n_items)
    item_bias[[5, 30]] = 1.0  # two clear winners, then 38 identical items
    rated_sets = [set(), {5, 0, 1}, {30}]
    result = check(user_vectors, np.arange(3), item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), 6)
    assert result.items[0].tolist() == [5, 30, 0, 1, 2, 3]
    assert result.items[1].tolist() == [30, 2, 3, 4, 6, 7]
    assert result.items[2].tolist() == [5, 0, 1, 2, 3, 4]


def test_heavy_ties_large_catalogue():
    n_items, k = 2003, 10
    rng = np.random.default_rng(11)
    user_vectors = rng.integers(0, 2, (20, 3)).astype(np.float32)
    item_factors = np.zeros((n_items, 3), dtype=np.float32)
    item_factors[::97] = 1.0  # a few equally good items spread across groups
    item_bias = np.zeros(n_items)
    rated_sets = [set(rng.choice(n_items, 30, replace=False).tolist()) | {0} for _ in range(20)]
    check(user_vectors, np.arange(20), item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), k)


def test_all_items_identical():
    n_items = 1500
    user_vectors = np.ones((4, 2), dtype=np.float32)
    item_factors = np.ones((n_items, 2), dtype=np.float32)
    item_bias = np.full(n_items, 2.0)
    rated_sets = [set(), {0, 1, 2}, set(range(0, n_items, 2)), {7}]
    result = check(user_vectors, np.arange(4), item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), 5)
    assert result.items[0].tolist() == [0, 1, 2, 3, 4]
    assert result.items[1].tolist() == [3, 4, 5, 6, 7]
    assert result.items[2].tolist() == [1, 3, 5, 7, 9]
    assert result.items[3].tolist() == [0, 1, 2, 3, 4]


def test_exclusions_never_returned():
    user_vectors, rows, item_factors, item_bias, rated_sets, rated = make_problem(8, 25, 60, rated_per_user=20)
    result = check(user_vectors, rows, item_factors, item_bias, rated_sets, rated, 10)
    for j, s in enumerate(rated_sets):
        assert not s & set(result.items[j].tolist())


@pytest.mark.parametrize("n_items", [50, 2000, 2009])
def test_user_who_rated_everything_and_all_but_three(n_items):
    user_vectors, rows, item_factors, item_bias, rated_sets, _ = make_problem(2, 5, n_items)
    rated_sets[1] = set(range(n_items))
    keep = {3, n_items // 2, n_items - 1}
    rated_sets[3] = set(range(n_items)) - keep
    result = check(user_vectors, rows, item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), 10)
    assert result.items[1].tolist() == [-1] * 10
    assert np.all(np.isneginf(result.scores[1]))
    assert set(result.items[3, :3].tolist()) == keep
    assert result.items[3, 3:].tolist() == [-1] * 7
    assert np.all(np.isfinite(result.scores[3, :3]))
    assert np.all(np.isneginf(result.scores[3, 3:]))


@pytest.mark.parametrize("k", [7, 8, 20])
def test_k_larger_than_catalogue(k):
    user_vectors, rows, item_factors, item_bias, rated_sets, _ = make_problem(4, 6, 7, rated_per_user=2)
    rated_sets[0] = set()
    result = check(user_vectors, rows, item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), k)
    assert sorted(result.items[0, :7].tolist()) == list(range(7))
    assert (result.items[0, 7:] == -1).all()
    assert ((result.items[1:] >= 0).sum(axis=1) == 5).all()


def test_unknown_users_ranked_by_bias_with_nothing_excluded():
    user_vectors, _, item_factors, item_bias, rated_sets, rated = make_problem(6, 10, 80, rated_per_user=30)
    user_rows = np.array([0, -1, 3, -1, 9], dtype=np.int64)
    vectors = user_vectors[np.maximum(user_rows, 0)].copy()
    vectors[user_rows < 0] = 0.0
    result = check(vectors, user_rows, item_factors, item_bias, rated_sets, rated, 10)
    by_bias = sorted(range(80), key=lambda i: (-item_bias[i], i))[:10]
    assert result.items[1].tolist() == by_bias
    assert result.items[3].tolist() == by_bias
    np.testing.assert_array_equal(result.scores[1], item_bias[by_bias])


@pytest.mark.parametrize("n_items", [50, 2011])
def test_many_small_blocks_equal_one_block(n_items):
    user_vectors, rows, item_factors, item_bias, rated_sets, rated = make_problem(9, 23, n_items, rated_per_user=12)
    rows = rows.copy()
    rows[[4, 11]] = -1
    user_vectors[[4, 11]] = 0.0
    one = check(user_vectors, rows, item_factors, item_bias, rated_sets, rated, 10)
    per_user = n_items * 4 + (n_items // 16 + 1) * 5
    for budget, users_per_block in ((1, 1), (per_user * 2, 2), (per_user * 3 + 1, 3)):
        assert block_rows(n_items, budget) == users_per_block
        many = check(user_vectors, rows, item_factors, item_bias, rated_sets, rated, 10, memory_budget_bytes=budget)
        np.testing.assert_array_equal(many.items, one.items)
        np.testing.assert_array_equal(many.scores, one.scores)
        starts = [
            start
            for start, _ in iter_top_k(
                user_vectors, rows, item_factors, item_bias, rated, 10, memory_budget_bytes=budget
            )
        ]
        assert starts == list(range(0, 23, users_per_block))


@pytest.mark.parametrize("n_items", [2003, 2015])
def test_best_item_in_leftover_columns(n_items):
    k = 10
    groups = n_items // 16
    assert n_items % 16 and groups >= 4 * k
    user_vectors, rows, item_factors, item_bias, rated_sets, _ = make_problem(12, 8, n_items, rated_per_user=0)
    rated_sets = [set() for _ in range(8)]
    best = groups * 16 + (n_items % 16) // 2  # one of the leftover columns
    item_bias[best] = 1000.0
    second = groups * 16  # first leftover column: also high
    item_bias[second] = 900.0
    rated_sets[5] = {best}
    result = check(user_vectors, rows, item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), k)
    for j in range(8):
        if j == 5:
            assert result.items[j, 0] == second
            assert best not in result.items[j].tolist()
        else:
            assert result.items[j, :2].tolist() == [best, second]


def test_leftover_ties_with_group_items():
    n_items, k = 2010, 10
    groups = n_items // 16
    user_vectors = np.zeros((2, 1), dtype=np.float32)
    item_factors = np.zeros((n_items, 1), dtype=np.float32)
    item_bias = np.zeros(n_items)
    top = [1, 500, groups * 16 + 1, groups * 16 + 5, 1999]
    item_bias[top] = 3.0
    rated_sets = [set(), {500}]
    result = check(user_vectors, np.arange(2), item_factors, item_bias, rated_sets, rated_from_sets(rated_sets), k)
    assert result.items[0, :5].tolist() == sorted(top)
    assert result.items[0, 5:].tolist() == [0, 2, 3, 4, 5]


def test_negative_scores_and_no_users():
    user_vectors, rows, item_factors, item_bias, rated_sets, rated = make_problem(13, 7, 64, low=-5, high=0)
    check(user_vectors, rows, item_factors, item_bias, rated_sets, rated, 4)
    empty = top_k(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), item_factors, item_bias, rated, 4)
    assert empty.items.shape == (0, 4)
    assert empty.scores.shape == (0, 4)


def test_k_below_one_rejected():
    user_vectors, rows, item_factors, item_bias, _, rated = make_problem(0, 2, 10)
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(user_vectors, rows, item_factors, item_bias, rated, 0)


def test_rated_items_from_pairs_collapses_duplicates():
    users = np.array([2, 0, 2, 2, 0, 3, 2], dtype=np.int64)
    items = np.array([5, 1, 3, 5, 1, 0, 3], dtype=np.int64)
    rated = RatedItems.from_pairs(users, items, 5)
    assert rated.n_users == 5
    assert rated.indptr.tolist() == [0, 1, 1, 3, 4, 4]
    assert rated.indices.tolist() == [1, 3, 5, 0]
    assert rated.indices.dtype == np.int32
    assert rated.indptr.dtype == np.int64


def test_rated_items_from_no_pairs():
    rated = RatedItems.from_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), 3)
    assert rated.indptr.tolist() == [0, 0, 0, 0]
    assert rated.indices.tolist() == []
    positions, items = rated.gather(np.array([0, -1, 2]))
    assert positions.tolist() == []
    assert items.tolist() == []


def test_rated_items_gather():
    rated = RatedItems.from_pairs(
        np.array([0, 0, 2, 2, 2, 3], dtype=np.int64), np.array([4, 1, 7, 0, 3, 9], dtype=np.int64), 4
    )
    positions, items = rated.gather(np.array([2, -1, 1, 0, 2, 3, -1]))
    pairs = list(zip(positions.tolist(), items.tolist(), strict=True))
    assert pairs == [(0, 0), (0, 3), (0, 7), (3, 1), (3, 4), (4, 0), (4, 3), (4, 7), (5, 9)]
    positions, items = rated.gather(np.array([-1, -1]))
    assert len(positions) == 0
    assert len(items) == 0
