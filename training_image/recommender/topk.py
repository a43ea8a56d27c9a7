"""Exact top-k items per user from latent factors, in bounded memory.

Scores are ``item_bias[i] + user_factors[u] . item_factors[i]`` -- the SVD estimate without
the per-user constant ``global_mean + user_bias[u]``, so the ranking is the model's. Items the
user already rated are excluded. Ties are broken by the lower item index (the model keeps
items sorted by movie id, so: the lower movie id first).

Users are processed in blocks whose score matrix fits ``memory_budget_bytes``; within a block,
one matrix product scores every item (the item bias rides along as an extra factor, see
:func:`scoring_matrix`), and a
lower bound on each row's k-th best score (the k-th largest of the row's group maxima) leaves
only a handful of candidates to sort exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_MEMORY_BUDGET = 256 * 1024 * 1024
_GROUP = 16  # columns per group for the threshold bound


@dataclass(frozen=True)
class RatedItems:
    """Which items each user rated, as CSR rows: ``indices[indptr[u]:indptr[u + 1]]``."""

    indptr: np.ndarray  # int64, n_users + 1
    indices: np.ndarray  # int32, sorted within each row

    @classmethod
    def from_pairs(cls, user_index: np.ndarray, item_index: np.ndarray, n_users: int) -> RatedItems:
        """Build from (user, item) index pairs; duplicates are collapsed."""
        order = np.lexsort((item_index, user_index))
        users, items = user_index[order], item_index[order]
        if len(users):
            fresh = np.ones(len(users), dtype=bool)
            fresh[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
            users, items = users[fresh], items[fresh]
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
        return cls(indptr=indptr, indices=items.astype(np.int32))

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``rows``, item index) for every item rated by each of ``rows``.

        A row of -1 (an unknown user) contributes nothing.
        """
        rows = np.asarray(rows, dtype=np.int64)
        known = rows >= 0
        starts = np.where(known, self.indptr[np.where(known, rows, 0)], 0)
        lengths = np.where(known, self.indptr[np.where(known, rows, 0) + 1] - starts, 0)
        positions = np.repeat(np.arange(len(rows)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return positions, self.indices[np.repeat(starts, lengths) + offsets]


@dataclass(frozen=True)
class TopK:
    """Per-user ranked item indices (padded with -1) and their ranking scores (padded -inf)."""

    items: np.ndarray  # (n, k) int64
    scores: np.ndarray  # (n, k) float32


def block_rows(n_items: int, memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Users per block so that one block's scores and masks stay within the budget."""
    per_user = n_items * 4 + (n_items // _GROUP + 1) * 5
    return max(1, memory_budget_bytes // max(per_user, 1))


def iter_top_k(
    user_vectors: np.ndarray,
    user_rows: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
    rated: RatedItems,
    k: int,
    *,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    scoring_items: np.ndarray | None = None,
) -> Iterator[tuple[int, TopK]]:
    """Yield ``(first_position, TopK)`` for consecutive blocks of the given users.

    ``user_vectors[j]`` is user j's factor vector (zeros for an unknown user, whose ranking is
    then by item bias alone) and ``user_rows[j]`` its row in ``rated`` (-1 when unknown).
    ``scoring_items`` is :func:`scoring_matrix` of the items, when the caller keeps one.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    n_items, n_factors = item_factors.shape
    items_t = scoring_matrix(item_factors, item_bias) if scoring_items is None else scoring_items
    step = block_rows(n_items, memory_budget_bytes)
    rows = min(step, len(user_vectors))
    users = np.empty((rows, n_factors + 1), dtype=np.float32)
    users[:, n_factors] = 1.0
    buffer = np.empty((rows, n_items), dtype=np.float32)  # reused: no page faults per block
    for start in range(0, len(user_vectors), step):
        stop = min(start + step, len(user_vectors))
        block = users[: stop - start]
        block[:, :n_factors] = user_vectors[start:stop]
        scores = np.matmul(block, items_t, out=buffer[: stop - start])
        positions, items = rated.gather(user_rows[start:stop])
        scores[positions, items] = -np.inf
        yield start, _select(scores, k)


def scoring_matrix(item_factors: np.ndarray, item_bias: np.ndarray) -> np.ndarray:
    """``[q_i, b_i]`` as float32 columns: ``[p_u, 1] @ it = b_i + p_u . q_i``, the bias at no extra pass."""
    n_items, n_factors = item_factors.shape
    items_t = np.empty((n_factors + 1, n_items), dtype=np.float32)
    items_t[:n_factors] = item_factors.T
    items_t[n_factors] = item_bias
    return items_t


def top_k(
    user_vectors: np.ndarray,
    user_rows: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
    rated: RatedItems,
    k: int,
    **options: Any,
) -> TopK:
    """All blocks of :func:`iter_top_k` (same arguments and options) joined."""
    parts = [block for _, block in iter_top_k(user_vectors, user_rows, item_factors, item_bias, rated, k, **options)]
    if not parts:
        return TopK(np.empty((0, k), dtype=np.int64), np.empty((0, k), dtype=np.float32))
    return TopK(np.concatenate([p.items for p in parts]), np.concatenate([p.scores for p in parts]))


def _select(scores: np.ndarray, k: int) -> TopK:
    """Exact top-k of each row of ``scores`` (ties: lower column first); -inf never selected."""
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    rows, cols, threshold = _candidates(scores, kk)
    values = scores[rows, cols]
    wanted = values >= threshold[rows]
    rows, cols, values = rows[wanted], cols[wanted], values[wanted]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
    keep = (rank < kk) & (values > -np.inf)
    items = np.full((n_rows, k), -1, dtype=np.int64)
    best = np.full((n_rows, k), -np.inf, dtype=np.float32)
    items[rows[keep], rank[keep]] = cols[keep]
    best[rows[keep], rank[keep]] = values[keep]
    return TopK(items, best)


def _candidates(scores: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols) of entries that may be in their row's top kk, and a per-row lower bound.

    Columns are split into disjoint groups (column ``s * groups + t`` is in group ``t``). The
    group maxima are distinct entries of the row, so the kk-th largest maximum is a lower
    bound on the row's kk-th largest score, and every entry at or above it sits in a group
    whose maximum is at or above it, or in the few leftover columns. Small rows are
    partitioned directly.
    """
    n_rows, n_cols = scores.shape
    groups = n_cols // _GROUP
    if groups < 4 * kk:
        threshold = np.partition(scores, n_cols - kk, axis=1)[:, n_cols - kk]
        rows, cols = np.nonzero(scores >= threshold[:, None])
        return rows, cols, threshold
    maxima = scores[:, : groups * _GROUP].reshape(n_rows, _GROUP, groups).max(axis=1)
    threshold = np.partition(maxima, groups - kk, axis=1)[:, groups - kk]
    group_rows, group_cols = np.nonzero(maxima >= threshold[:, None])
    rows = np.repeat(group_rows, _GROUP)
    cols = (np.repeat(group_cols, _GROUP).reshape(-1, _GROUP) + np.arange(_GROUP) * groups).ravel()
    leftover = np.arange(groups * _GROUP, n_cols)
    if len(leftover):
        rows = np.concatenate([rows, np.repeat(np.arange(n_rows), len(leftover))])
        cols = np.concatenate([cols, np.tile(leftover, n_rows)])
    return rows, cols, threshold


def iter_dense_top_k(
    predictions: np.ndarray,
    unknown_scores: np.ndarray,
    user_rows: np.ndarray,
    rated: RatedItems,
    k: int,
    *,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
) -> Iterator[tuple[int, TopK]]:
    """:func:`iter_top_k` for a model that keeps every known pair's estimate (``predictions``, users x items).

    A known user's items are scored by its row of ``predictions``; an unknown user's (row -1) by
    ``unknown_scores``. Rated items are excluded; ties: the lower item index first.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    step = block_rows(predictions.shape[1], memory_budget_bytes)
    for start in range(0, len(user_rows), step):
        rows = np.asarray(user_rows[start : start + step], dtype=np.int64)
        known = rows >= 0
        scores = predictions[np.where(known, rows, 0)].astype(np.float32)
        scores[~known] = unknown_scores
        positions, items = rated.gather(rows)
        scores[positions, items] = -np.inf
        yield start, _select(scores, k)
