"""The ranker behind the written lists: EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", 2019).

EASE learns one item-item weight matrix ``B`` in closed form from who rated what (any rating
counts as an interaction)::

    G = X^T X + lambda I,   P = G^-1,   B[i, j] = -P[i, j] / P[j, j],   B[j, j] = 0

and scores a user's unrated movies by ``x_u B``: the sum of the rows of ``B`` for the movies
the user rated. Ranking by these scores puts movies that co-occur with a user's history first,
which is what top-10 lists are judged on; ranking by predicted rating (the seed's method) puts
movies rated 5 by one or two people first.

``B`` is dense, so EASE covers the most-rated movies only: every movie with at least
``min_ratings`` ratings, never fewer than :data:`MIN_COVERED` movies (all of them, if the
catalogue is smaller) and never more than ``max_movies``. Less-rated movies are not recommended
by this ranker (they hardly ever reach a top-10 anyway). The cost is ``12 * n^2`` bytes and
``n^3`` flops for ``n`` covered movies (10,000: 1.2 GB), plus one row of ``B`` per rating to score.

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


class RankerError(ValueError):
    """Weights that cannot be computed from the given data."""


@dataclass(frozen=True)
class ItemRanker:
    """EASE weights over the covered item rows ``items`` (ascending)."""

    items: np.ndarray  # int32 item rows of the model, ascending
    weights: np.ndarray  # float32 (n, n): row i is what having rated items[i] adds to each covered item
    popularity: np.ndarray  # float32 (n,): share of users who rated each covered item (the fallback order)
    n_items: int  # item rows of the model

    @property
    def n_covered(self) -> int:
        return len(self.items)

    @cached_property
    def _positions(self) -> np.ndarray:
        """Item row -> position among the covered items, -1 if not covered."""
        positions = np.full(self.n_items, -1, dtype=np.int32)
        positions[self.items] = np.arange(len(self.items), dtype=np.int32)
        return positions

    def covers(self, item_rows: np.ndarray) -> np.ndarray:
        """Which of ``item_rows`` this ranker can recommend."""
        return self._positions[item_rows] >= 0

    def top_k(self, rated: RatedItems, users: np.ndarray, k: int, *, parallel: bool = False) -> TopK:
        """Best-first covered item rows for user rows (-1 = unknown user), excluding what each user rated.

        ``parallel`` spreads users over numba's threads (the same lists); only for a program
        that calls it from one thread at a time (numba's default threading layer is not
        thread-safe), i.e. training, not the multi-threaded server.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        users = np.asarray(users, dtype=np.int64)
        rank = _rank_users_parallel if parallel else _rank_users
        positions, scores = rank(rated.indptr, rated.indices, self._positions, self.weights, self.popularity, users, k)
        items = np.where(positions >= 0, self.items[np.maximum(positions, 0)], -1).astype(np.int64)
        return TopK(items, scores)


def fit_ease(
    rated: RatedItems, n_items: int, *, regularization: float, min_ratings: int, max_movies: int
) -> ItemRanker:
    """EASE weights from who rated what (``rated``: CSR of item rows per user row)."""
    if regularization <= 0:
        raise RankerError("EASE needs a regularization above 0.")
    counts = np.bincount(rated.indices, minlength=n_items)
    by_count = np.argsort(-counts, kind="stable")
    eligible = int(np.count_nonzero(counts >= min_ratings))
    n = min(max(eligible, min(MIN_COVERED, n_items)), max_movies, n_items)
    covered = np.sort(by_count[:n]).astype(np.int32)
    positions = np.full(n_items, -1, dtype=np.int32)
    positions[covered] = np.arange(n, dtype=np.int32)
    # Each user's covered positions (ascending, as item rows ascend within a user).
    history = positions[rated.indices]
    kept = history >= 0
    owners = np.repeat(np.arange(rated.n_users, dtype=np.int32), np.diff(rated.indptr))
    indptr = np.zeros(rated.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(owners[kept], minlength=rated.n_users), out=indptr[1:])
    del owners
    gram = _upper_gram(indptr, history[kept], n, 4 * numba.get_num_threads())
    del history, kept
    gram[np.diag_indices(n)] += regularization
    factor, info = lapack.dpotrf(gram, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise RankerError(f"EASE could not factorise its {n}x{n} matrix (LAPACK info {info}).")
    inverse, info = lapack.dpotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise RankerError(f"EASE could not invert its {n}x{n} matrix (LAPACK info {info}).")
    del gram, factor
    weights = _weights_from_inverse(inverse)
    del inverse
    n_users = max(rated.n_users, 1)
    popularity = (counts[covered] / n_users).astype(np.float32)
    return ItemRanker(items=covered, weights=weights, popularity=popularity, n_items=n_items)


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


@numba.njit(cache=True, nogil=True)
def _rank_user(indptr, indices, positions, weights, popularity, user, best_p, best_s):  # noqa: ANN001
    """One user row: sum the weight rows of its covered items, drop what it rated, keep the best k in place."""
    n, k = weights.shape[0], len(best_s)
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
    for p in range(n):  # insertion into a sorted top-k; equal scores keep the lower position first
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
