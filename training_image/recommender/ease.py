"""The rankers behind the written lists: EASE and graded EASE, its rating-aware, two-view form.

**EASE** (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", 2019) learns one item-item
weight matrix ``B`` in closed form from who rated what (any rating counts as an interaction)::

    G = X^T X + lambda I,   P = G^-1,   B[i, j] = -P[i, j] / P[j, j],   B[j, j] = 0

and scores a user's unrated movies by ``x_u B``: the sum of the rows of ``B`` for the movies
the user rated. Ranking by these scores puts movies that co-occur with a user's history first,
which is what top-10 lists are judged on; ranking by predicted rating (the seed's method) puts
movies rated 5 by one or two people first.

**Graded EASE** (the default) also uses the rating values, which EASE throws away: the lists are
judged by the movies a user *likes* (rates ``liked_threshold`` or more), not merely rates. With
``d[u, i] = r[u, i] - mean_u`` (``mean_u``: the user's mean rating over the covered movies), ``L``
the liked-only matrix and ``V`` the ``liked_share`` of covered movies with the most likes::

    BL         = EASE(L[:, V], liked_regularization)              (the liked view)
    score[u, j] = ((x_u + c d_u) B / sigma_B + w_L (l_u BL) / sigma_L) / pop_j^beta

``c`` is ``rating_weight``, ``w_L`` ``liked_weight``, ``beta`` ``popularity_exponent``, ``pop_j`` the
users who rated ``j``; ``sigma_B`` and ``sigma_L`` are the spreads of the two views' scores over
unrated cells of a seeded sample of users, so that ``w_L`` weighs views of one scale. The
constants fold into two matrices (the scores are the formula's times ``sigma_B``, same order)::

    W1 = B diag(pop^-beta)        W2 = BL diag(pop_V^-beta) w_L sigma_B / sigma_L
    score[u] = sum over u's rated covered i of (1 + c d[u, i]) W1[i]  (+ W2 rows of u's liked movies in V)

so the ranker keeps ``W1``, ``W2``, the positions ``V`` and, per rated pair of the model, the
weight ``1 + c d`` and whether it is liked. ``c = w_L = beta = 0`` gives EASE's lists exactly.
The hyperparameters were tuned on validation splits carved from training data (README, "How the
lists are ranked").

``B`` is dense, so both cover the most-rated movies only: every movie with at least
``min_ratings`` ratings, never fewer than :data:`MIN_COVERED` movies (all of them, if the
catalogue is smaller) and never more than ``max_movies``. Less-rated movies are not recommended
by these rankers (they hardly ever reach a top-10 anyway). The cost is ``12 * n^2`` bytes and
``n^3`` flops for ``n`` covered movies (10,000: 1.2 GB), plus one row of ``B`` per rating to score;
the liked view adds ``liked_share^2`` of the memory and ``liked_share^3`` of the flops.

A user without a covered movie in their history (or unknown to the model) is ranked by
popularity. Ties are broken by the lower item row, i.e. the lower movie id. Scoring is one
sequential sum per user, so a user's list is the same whether scored alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
from scipy.linalg import lapack

from recommender.topk import RatedItems, TopK

MIN_COVERED = 2_000
SPREAD_USERS = 2_000  # users sampled to measure the two views' score spreads (sigma_B, sigma_L)
SPREAD_SEED = 0  # so that the same data always gives the same ranker


class RankerError(ValueError):
    """Weights that cannot be computed from the given data."""


@dataclass(frozen=True)
class LikedView:
    """Graded EASE's second view: EASE on liked-only ratings, over some of the covered movies."""

    items: np.ndarray  # int32 positions among the ranker's covered movies, ascending
    weights: np.ndarray  # float32 (n_L, n_L): W2, row q is what liking items[q] adds to each of them
    rated_liked: np.ndarray  # bool per entry of the model's rated lists: rated at the liked threshold or more


@dataclass(frozen=True)
class ItemRanker:
    """EASE weights over the covered item rows ``items`` (ascending); graded EASE with ``history_weights``."""

    items: np.ndarray  # int32 item rows of the model, ascending
    weights: np.ndarray  # float32 (n, n): row i is what having rated items[i] adds to each covered item
    popularity: np.ndarray  # float32 (n,): share of users who rated each covered item (the fallback order)
    n_items: int  # item rows of the model
    history_weights: np.ndarray | None = None  # float32 per entry of the rated lists: 1 + c d (graded EASE)
    liked: LikedView | None = None  # graded EASE's liked view, when it has one

    @property
    def method(self) -> str:
        """The ``ranking`` option this ranker implements: ``ease`` or ``graded_ease``."""
        return "ease" if self.history_weights is None else "graded_ease"

    @property
    def n_covered(self) -> int:
        return len(self.items)

    @cached_property
    def _positions(self) -> np.ndarray:
        """Item row -> position among the covered items, -1 if not covered."""
        positions = np.full(self.n_items, -1, dtype=np.int32)
        positions[self.items] = np.arange(len(self.items), dtype=np.int32)
        return positions

    @cached_property
    def _liked_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(covered position -> liked-view position or -1, view items, W2, liked flags); empty without a view."""
        lookup = np.full(self.n_covered, -1, dtype=np.int32)
        if self.liked is None:
            return lookup, np.zeros(0, np.int32), np.zeros((0, 0), np.float32), np.zeros(0, np.bool_)
        lookup[self.liked.items] = np.arange(len(self.liked.items), dtype=np.int32)
        return lookup, self.liked.items, self.liked.weights, self.liked.rated_liked

    def covers(self, item_rows: np.ndarray) -> np.ndarray:
        """Which of ``item_rows`` this ranker can recommend."""
        return self._positions[item_rows] >= 0

    def top_k(self, rated: RatedItems, users: np.ndarray, k: int, *, parallel: bool = False) -> TopK:
        """Best-first covered item rows for user rows (-1 = unknown user), excluding what each user rated.

        ``rated`` must be the rated lists this ranker was fitted on (graded EASE keeps a weight
        per entry). ``parallel`` spreads users over numba's threads (the same lists); only for a
        program that calls it from one thread at a time (numba's default threading layer is not
        thread-safe), i.e. training, not the multi-threaded server.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        users = np.asarray(users, dtype=np.int64)
        if self.history_weights is None:
            plain = _rank_users_parallel if parallel else _rank_users
            positions, scores = plain(
                rated.indptr, rated.indices, self._positions, self.weights, self.popularity, users, k
            )
        else:
            rank_graded = _rank_graded_parallel if parallel else _rank_graded
            graded = (self.history_weights, *self._liked_arrays)
            positions, scores = rank_graded(
                rated.indptr, rated.indices, self._positions, self.weights, self.popularity, graded, users, k
            )
        items = np.where(positions >= 0, self.items[np.maximum(positions, 0)], -1).astype(np.int64)
        return TopK(items, scores)


def fit_ease(
    rated: RatedItems, n_items: int, *, regularization: float, min_ratings: int, max_movies: int
) -> ItemRanker:
    """EASE weights from who rated what (``rated``: CSR of item rows per user row)."""
    if regularization <= 0:
        raise RankerError("EASE needs a regularization above 0.")
    counts = np.bincount(rated.indices, minlength=n_items)
    covered, positions = _covered(counts, min_ratings, max_movies)
    history = positions[rated.indices]
    gram = _gram(rated, history, len(covered))
    del history
    weights = _ease(gram, regularization)
    popularity = (counts[covered] / max(rated.n_users, 1)).astype(np.float32)
    return ItemRanker(items=covered, weights=weights, popularity=popularity, n_items=n_items)


def fit_graded_ease(
    rated: RatedItems,
    values: np.ndarray,
    n_items: int,
    *,
    regularization: float,
    min_ratings: int,
    max_movies: int,
    rating_weight: float,
    liked_weight: float,
    liked_regularization: float,
    popularity_exponent: float,
    liked_share: float,
    liked_threshold: float,
) -> ItemRanker:
    """Graded EASE (see the module docstring) from the rated lists and their ``values``, aligned with ``rated.indices``.

    The liked view is left out when ``liked_weight`` or ``liked_share`` is 0, or when no covered
    rating reaches ``liked_threshold``; ``popularity_exponent`` 0 leaves ``B`` as EASE's.
    """
    if regularization <= 0 or liked_regularization <= 0:
        raise RankerError("Graded EASE needs regularizations above 0.")
    counts = np.bincount(rated.indices, minlength=n_items)
    covered, positions = _covered(counts, min_ratings, max_movies)
    history = positions[rated.indices]
    weights = _ease(_gram(rated, history, len(covered)), regularization)
    owners = np.repeat(np.arange(rated.n_users, dtype=np.int32), np.diff(rated.indptr))
    kept = history >= 0
    sums = np.bincount(owners[kept], weights=values[kept], minlength=rated.n_users)
    means = sums / np.maximum(np.bincount(owners[kept], minlength=rated.n_users), 1)
    del kept
    history_weights = (1.0 + rating_weight * (values - means[owners])).astype(np.float32)
    del owners, means
    pop = np.maximum(counts[covered], 1).astype(np.float64)
    liked = None
    if liked_weight > 0 and liked_share > 0:
        liked = _liked_view(
            rated, values >= liked_threshold, history, weights, history_weights, pop,
            share=liked_share, regularization=liked_regularization, weight=liked_weight, exponent=popularity_exponent,
        )  # fmt: skip
    del history
    if popularity_exponent != 0:
        weights *= (pop**-popularity_exponent).astype(np.float32)[None, :]
    popularity = (counts[covered] / max(rated.n_users, 1)).astype(np.float32)
    return ItemRanker(
        items=covered, weights=weights, popularity=popularity, n_items=n_items,
        history_weights=history_weights, liked=liked,
    )  # fmt: skip


def _liked_view(
    rated: RatedItems,
    rated_liked: np.ndarray,
    history: np.ndarray,
    weights: np.ndarray,
    history_weights: np.ndarray,
    pop: np.ndarray,
    *,
    share: float,
    regularization: float,
    weight: float,
    exponent: float,
) -> LikedView | None:
    """W2: EASE on the liked pairs over the ``share`` of covered movies with the most likes; None if none is liked.

    ``history``: each rated entry's covered position (-1: not covered); ``weights``: EASE's ``B``
    before the popularity scaling, whose score spread the view is scaled to.
    """
    n = weights.shape[0]
    liked_covered = rated_liked & (history >= 0)
    likes = np.bincount(history[liked_covered], minlength=n)
    if not likes.any():
        return None
    n_liked = max(1, round(share * n))
    view = np.sort(np.argsort(-likes, kind="stable")[:n_liked]).astype(np.int32)
    lookup = np.full(n, -1, dtype=np.int32)
    lookup[view] = np.arange(n_liked, dtype=np.int32)
    # Positions in the view ascend within a user, as the covered positions they come from do.
    in_view = np.where(liked_covered, lookup[np.maximum(history, 0)], -1)
    del liked_covered
    view_weights = _ease(_gram(rated, in_view, n_liked), regularization)
    del in_view
    sample = np.sort(
        np.random.default_rng(SPREAD_SEED).choice(rated.n_users, min(SPREAD_USERS, rated.n_users), replace=False)
    )
    moments = _view_moments(
        rated.indptr, history, history_weights, rated_liked, lookup, view, weights, view_weights, sample
    ).sum(axis=0)
    spread_b, spread_l = (_spread(moments[j], moments[j + 1], moments[4]) for j in (0, 2))
    if spread_l == 0:  # no sampled user has a liked movie in the view: nothing to put on one scale
        return None
    view_weights *= (pop[view] ** -exponent * (weight * spread_b / spread_l)).astype(np.float32)[None, :]
    return LikedView(items=view, weights=view_weights, rated_liked=rated_liked)


def _spread(total: float, squares: float, cells: float) -> float:
    """Standard deviation from a sum, a sum of squares and a count."""
    if cells == 0:
        return 0.0
    mean = total / cells
    return float(np.sqrt(max(squares / cells - mean * mean, 0.0)))


def _covered(counts: np.ndarray, min_ratings: int, max_movies: int) -> tuple[np.ndarray, np.ndarray]:
    """(covered item rows ascending, item row -> covered position or -1) by the coverage rule."""
    n_items = len(counts)
    by_count = np.argsort(-counts, kind="stable")
    eligible = int(np.count_nonzero(counts >= min_ratings))
    n = min(max(eligible, min(MIN_COVERED, n_items)), max_movies, n_items)
    covered = np.sort(by_count[:n]).astype(np.int32)
    positions = np.full(n_items, -1, dtype=np.int32)
    positions[covered] = np.arange(n, dtype=np.int32)
    return covered, positions


def _gram(rated: RatedItems, history: np.ndarray, n: int) -> np.ndarray:
    """Upper triangle of ``X^T X`` over ``n`` movies; ``history``: each rated entry's position (-1: left out)."""
    kept = history >= 0
    owners = np.repeat(np.arange(rated.n_users, dtype=np.int32), np.diff(rated.indptr))
    indptr = np.zeros(rated.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(owners[kept], minlength=rated.n_users), out=indptr[1:])
    del owners
    return _upper_gram(indptr, history[kept], n, 4 * numba.get_num_threads())


def _ease(gram: np.ndarray, regularization: float) -> np.ndarray:
    """EASE's ``B`` (float32) from the upper triangle of ``X^T X`` (float64, overwritten)."""
    n = gram.shape[0]
    gram[np.diag_indices(n)] += regularization
    factor, info = lapack.dpotrf(gram, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise RankerError(f"EASE could not factorise its {n}x{n} matrix (LAPACK info {info}).")
    inverse, info = lapack.dpotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise RankerError(f"EASE could not invert its {n}x{n} matrix (LAPACK info {info}).")
    del gram, factor
    return _weights_from_inverse(inverse)


def ratings_of_rated(rated: RatedItems, user_rows: np.ndarray, item_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each entry of ``rated``'s rating (float64), from aligned (user row, item row, rating) arrays.

    Every pair must be in ``rated`` (as when ``rated`` was built from them); a pair rated more
    than once gets the mean of its ratings.
    """
    slots = _slots(rated.indptr, rated.indices, np.asarray(user_rows, np.int64), np.asarray(item_rows, np.int64))
    total = np.bincount(slots, weights=values, minlength=len(rated.indices))
    return total / np.maximum(np.bincount(slots, minlength=len(rated.indices)), 1)


@numba.njit(parallel=True, cache=True)
def _slots(indptr, indices, user_rows, item_rows):  # noqa: ANN001 -- numba kernel
    """Index into ``indices`` of each (user row, item row) pair: a binary search within the user's sorted row."""
    slots = np.empty(len(user_rows), dtype=np.int64)
    for j in numba.prange(len(user_rows)):
        start, stop = indptr[user_rows[j]], indptr[user_rows[j] + 1]
        slots[j] = start + np.searchsorted(indices[start:stop], item_rows[j])
    return slots


@numba.njit(parallel=True, cache=True)
def _upper_gram(indptr, positions, n, bands):  # noqa: ANN001 -- numba kernel
    """Upper triangle of ``X^T X`` (float64) from each user's ascending positions; bands of rows run in parallel."""
    gram = np.zeros((n, n))
    for band in numba.prange(bands):
        low, high = band * n // bands, (band + 1) * n // bands
        for user in range(len(indptr) - 1):
            stop = indptr[user + 1]
            for a in range(indptr[user], stop):
                i = positions[a]
                if low <= i < high:
                    for b in range(a, stop):
                        gram[i, positions[b]] += 1.0
    return gram


@numba.njit(parallel=True, cache=True)
def _weights_from_inverse(inverse):  # noqa: ANN001 -- numba kernel
    """``B[i, j] = -P[i, j] / P[j, j]`` (0 on the diagonal) from the upper triangle of ``P``, as float32."""
    n = inverse.shape[0]
    weights = np.empty((n, n), dtype=np.float32)
    for i in numba.prange(n):
        for j in range(n):
            if i == j:
                weights[i, j] = 0.0
            else:
                value = inverse[i, j] if i < j else inverse[j, i]
                weights[i, j] = -value / inverse[j, j]
    return weights


@numba.njit(parallel=True, cache=True)
def _view_moments(indptr, history, history_weights, rated_liked, lookup, view, weights, view_weights, users):  # noqa: ANN001
    """Per user of ``users``: sum and sum of squares of each view's scores over its unrated covered cells; the count."""
    n, n_view = weights.shape[0], view_weights.shape[0]
    moments = np.zeros((len(users), 5))
    for row in numba.prange(len(users)):
        user = users[row]
        scores = np.zeros(n, dtype=np.float32)
        extra = np.zeros(n_view, dtype=np.float32)
        rated = np.zeros(n, dtype=np.bool_)
        for a in range(indptr[user], indptr[user + 1]):
            p = history[a]
            if p >= 0:
                rated[p] = True
                _add_row(scores, weights[p], history_weights[a])
                q = lookup[p]
                if q >= 0 and rated_liked[a]:
                    _add_row(extra, view_weights[q], np.float32(1.0))
        liked_scores = np.zeros(n, dtype=np.float32)
        for q in range(n_view):
            liked_scores[view[q]] = extra[q]
        for p in range(n):
            if not rated[p]:
                b, liked = np.float64(scores[p]), np.float64(liked_scores[p])
                moments[row, 0] += b
                moments[row, 1] += b * b
                moments[row, 2] += liked
                moments[row, 3] += liked * liked
                moments[row, 4] += 1.0
    return moments


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(scores, row, weight):  # noqa: ANN001 -- numba kernel
    """``scores += weight * row`` without a temporary array."""
    for j in range(len(scores)):
        scores[j] += weight * row[j]


@numba.njit(cache=True, nogil=True, inline="always")
def _keep_best(scores, best_p, best_s):  # noqa: ANN001 -- numba kernel
    """Insert each finite score into the sorted top-k ``best_p``, ``best_s``; ties keep the lower position first."""
    k = len(best_s)
    for p in range(len(scores)):
        s = scores[p]
        if s == -np.inf or s <= best_s[k - 1]:
            continue
        slot = k - 1
        while slot > 0 and best_s[slot - 1] < s:
            best_s[slot] = best_s[slot - 1]
            best_p[slot] = best_p[slot - 1]
            slot -= 1
        best_s[slot] = s
        best_p[slot] = p


@numba.njit(cache=True, nogil=True)
def _rank_user(indptr, indices, positions, weights, popularity, user, best_p, best_s):  # noqa: ANN001
    """One user row: sum the weight rows of its covered items, drop what it rated, keep the best k in place."""
    n = weights.shape[0]
    scores = np.zeros(n, dtype=np.float32)
    history = 0
    start, stop = (indptr[user], indptr[user + 1]) if user >= 0 else (0, 0)
    for a in range(start, stop):
        p = positions[indices[a]]
        if p >= 0:
            history += 1
            scores += weights[p]
    if history == 0:
        scores[:] = popularity
    for a in range(start, stop):
        p = positions[indices[a]]
        if p >= 0:
            scores[p] = -np.inf
    _keep_best(scores, best_p, best_s)


@numba.njit(cache=True, nogil=True)
def _rank_users(indptr, indices, positions, weights, popularity, users, k):  # noqa: ANN001
    """:func:`_rank_user` for each of ``users``, one after another (safe in any thread)."""
    out_positions = np.full((len(users), k), -1, dtype=np.int32)
    out_scores = np.full((len(users), k), -np.inf, dtype=np.float32)
    for row in range(len(users)):
        _rank_user(indptr, indices, positions, weights, popularity, users[row], out_positions[row], out_scores[row])
    return out_positions, out_scores


@numba.njit(parallel=True, cache=True)
def _rank_users_parallel(indptr, indices, positions, weights, popularity, users, k):  # noqa: ANN001
    """:func:`_rank_users` across numba's threads: for bulk work in a single-threaded program only."""
    out_positions = np.full((len(users), k), -1, dtype=np.int32)
    out_scores = np.full((len(users), k), -np.inf, dtype=np.float32)
    for row in numba.prange(len(users)):
        _rank_user(indptr, indices, positions, weights, popularity, users[row], out_positions[row], out_scores[row])
    return out_positions, out_scores


@numba.njit(cache=True, nogil=True)
def _rank_graded_user(indptr, indices, positions, weights, popularity, graded, user, best_p, best_s):  # noqa: ANN001
    """:func:`_rank_user` for graded EASE: each rated row weighted by 1 + c d, plus the liked view's rows.

    ``graded``: (weight per rated entry, covered position -> view position or -1, the view's
    covered positions, W2, liked flag per rated entry); a view of size 0 adds nothing.
    """
    history_weights, lookup, view, view_weights, rated_liked = graded
    n, n_view = weights.shape[0], view_weights.shape[0]
    scores = np.zeros(n, dtype=np.float32)
    extra = np.zeros(n_view, dtype=np.float32)
    history = liked = 0
    start, stop = (indptr[user], indptr[user + 1]) if user >= 0 else (0, 0)
    for a in range(start, stop):
        p = positions[indices[a]]
        if p >= 0:
            history += 1
            _add_row(scores, weights[p], history_weights[a])
            if n_view and rated_liked[a] and lookup[p] >= 0:
                liked += 1
                _add_row(extra, view_weights[lookup[p]], np.float32(1.0))
    if liked:
        for q in range(n_view):
            scores[view[q]] += extra[q]
    if history == 0:
        scores[:] = popularity
    for a in range(start, stop):
        p = positions[indices[a]]
        if p >= 0:
            scores[p] = -np.inf
    _keep_best(scores, best_p, best_s)


@numba.njit(cache=True, nogil=True)
def _rank_graded(indptr, indices, positions, weights, popularity, graded, users, k):  # noqa: ANN001
    """:func:`_rank_graded_user` for each of ``users``, one after another (safe in any thread)."""
    out_positions = np.full((len(users), k), -1, dtype=np.int32)
    out_scores = np.full((len(users), k), -np.inf, dtype=np.float32)
    for row in range(len(users)):
        user = users[row]
        _rank_graded_user(
            indptr, indices, positions, weights, popularity, graded, user, out_positions[row], out_scores[row]
        )
    return out_positions, out_scores


@numba.njit(parallel=True, cache=True)
def _rank_graded_parallel(indptr, indices, positions, weights, popularity, graded, users, k):  # noqa: ANN001
    """:func:`_rank_graded` across numba's threads: for bulk work in a single-threaded program only."""
    out_positions = np.full((len(users), k), -1, dtype=np.int32)
    out_scores = np.full((len(users), k), -np.inf, dtype=np.float32)
    for row in numba.prange(len(users)):
        user = users[row]
        _rank_graded_user(
            indptr, indices, positions, weights, popularity, graded, user, out_positions[row], out_scores[row]
        )
    return out_positions, out_scores
