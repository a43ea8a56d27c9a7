"""Surprise's own algorithms, fitted by scikit-surprise and exported into the array model (never pickled).

``SVDpp``, ``NMF``, ``KNNBaseline``, ``BaselineOnly``, ``SlopeOne`` and ``CoClustering`` are
fitted by the Surprise class of that name; :func:`export` then reads the fitted object's own
attributes into a :class:`FactorModel` whose :meth:`~FactorModel.predict` gives what the object's
``predict`` gives -- the estimate, Surprise's fallback for an unknown user or movie, and the
clipping to the rating scale:

- ``SVDpp``: user vector ``p_u + |N(u)|^-1/2 * sum_{j in N(u)} y_j`` (``N(u)``: what u rated),
  movie vector ``q_i``, biases ``b_u``, ``b_i``; an unknown id's bias counts as 0.
- ``NMF``: ``p_u``, ``q_i``; biased: with ``mu + b_u + b_i``, an unknown id's bias counting 0;
  unbiased: ``q_i . p_u`` alone, and an unknown user or movie gets the trainset mean (Surprise's
  default prediction after its ``PredictionImpossible``).
- ``BaselineOnly``: no factors, ``mu + b_u + b_i``; an unknown id's bias counts as 0.
- ``CoClustering``: user vector = the row of the co-cluster means for the user's cluster, movie
  vector = one-hot of the movie's cluster, biases = user (movie) mean minus its cluster's mean;
  an unknown user or movie gets the trainset mean.
- ``KNNBaseline`` and ``SlopeOne`` average over the user's whole history, so every known
  (user, movie) pair's estimate is computed, vectorised, into a dense array from the similarity
  matrix, baselines and the trainset (KNNBaseline) or the deviation and frequency matrices and
  user means (SlopeOne). An unknown id: KNNBaseline gives the baseline (its bias 0), SlopeOne
  the trainset mean.

Surprise 1.1.5's SlopeOne and CoClustering read each rating into a C ``int`` while building their
deviations and cluster means (``cdef int r_ui`` in their source), so a 3.5 counts as 3 there;
the export reads their arrays and so reproduces that.

:func:`check_fits` refuses, before any fitting, an algorithm whose measured memory (see
:data:`MEMORY`) exceeds what the container has left, naming ``svd`` as the scalable choice.

Sources: https://surprise.readthedocs.io/en/stable/prediction_algorithms_package.html (and its
pages per algorithm), and the installed scikit-surprise 1.1.5 source
(``surprise/prediction_algorithms/*.py[x]``: ``estimate``, ``default_prediction``, ``predict``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from surprise import NMF, BaselineOnly, CoClustering, Dataset, KNNBaseline, Reader, SlopeOne, SVDpp, Trainset
from surprise.prediction_algorithms.algo_base import AlgoBase

from recommender.config import ModelParams
from recommender.model import FactorModel
from recommender.ratings import Ratings, RatingsError
from recommender.topk import RatedItems

log = logging.getLogger("recommender.surprise_models")

SURPRISE_ALGORITHMS = ("SVDpp", "NMF", "KNNBaseline", "BaselineOnly", "SlopeOne", "CoClustering")
_BLOCK_CELLS = 4_000_000  # similarity entries gathered per step of the KNNBaseline export (32 MB)


class TableTooLargeError(RatingsError):
    """A table the chosen Surprise algorithm cannot fit in the container's memory."""


@dataclass(frozen=True)
class MemoryCost:
    """Peak resident bytes a fit and export adds: fixed, per rating, per ``x^2`` (square matrices) and per cell."""

    per_rating: float
    per_square: float = 0.0  # x = users (user-based KNNBaseline) or movies (item-based, SlopeOne)
    per_cell: float = 0.0  # users x movies: the dense estimates of KNNBaseline and SlopeOne
    fixed: float = 32e6


# Measured by ``python -m bench.surprise_memory`` (2026-12, scikit-surprise 1.1.5, numpy 2.4.6, this 2-core machine):
# the peak resident set of a child process above its resident set before the fit, over ml-latest-small and three
# synthetic tables, fitted by non-negative least squares and rounded up. Per rating, Surprise's trainset of Python
# lists and dicts: 376-418 bytes fitted alone, 450 beside square matrices. Per x^2, Surprise's similarity arrays
# (msd 3, cosine and pearson_baseline 5, pearson 7 float64 matrices; measured 23, 39, 39, 56 bytes) or SlopeOne's
# dev and freq (measured 25 with the export). Per cell, the dense estimates of the export: measured 15 for SlopeOne;
# for KNNBaseline the fit found the similarity pass the peak (0 per cell) on these shapes, so its 16 counts the
# export's two float64 arrays, for tables with many more movies than users.
MEMORY: dict[str, MemoryCost] = {
    "SVDpp": MemoryCost(per_rating=420),
    "NMF": MemoryCost(per_rating=420),
    "BaselineOnly": MemoryCost(per_rating=420),
    "CoClustering": MemoryCost(per_rating=420),
    "SlopeOne": MemoryCost(per_rating=450, per_square=25, per_cell=15),
    "KNNBaseline pearson_baseline": MemoryCost(per_rating=450, per_square=40, per_cell=16),
    "KNNBaseline msd": MemoryCost(per_rating=450, per_square=24, per_cell=16),
    "KNNBaseline cosine": MemoryCost(per_rating=450, per_square=40, per_cell=16),
    "KNNBaseline pearson": MemoryCost(per_rating=450, per_square=56, per_cell=16),
}
HEADROOM = 1.25  # the estimate's margin: allocator slack and what the measurement did not see


def memory_key(params: ModelParams) -> str:
    """The entry of :data:`MEMORY` for ``params``: the algorithm, and KNNBaseline's similarity."""
    return f"KNNBaseline {params.similarity}" if params.algorithm == "KNNBaseline" else params.algorithm


def needed_bytes(params: ModelParams, n_ratings: int, n_users: int, n_items: int) -> int:
    """Measured estimate of the memory fitting and exporting ``params.algorithm`` adds, margin included."""
    cost = MEMORY[memory_key(params)]
    side = n_users if params.algorithm == "KNNBaseline" and params.user_based else n_items
    raw = cost.fixed + cost.per_rating * n_ratings + cost.per_square * side**2 + cost.per_cell * n_users * n_items
    return int(raw * HEADROOM)


def check_fits(ratings: Ratings, params: ModelParams, available_bytes: int) -> None:
    """Raise :class:`TableTooLargeError` when a Surprise ``params.algorithm`` needs more than ``available_bytes``."""
    if params.algorithm not in SURPRISE_ALGORITHMS:
        return
    needed = needed_bytes(params, len(ratings), ratings.n_users, ratings.n_items)
    log.info("%s needs about %.0f MB of the %.0f MB left", params.algorithm, needed / 1e6, available_bytes / 1e6)
    if needed > available_bytes:
        raise TableTooLargeError(
            f"Algorithm '{params.algorithm}' would need about {needed / 1e9:.1f} GB for {len(ratings):,} ratings of "
            f"{ratings.n_users:,} users on {ratings.n_items:,} movies, more than the {available_bytes / 1e9:.1f} GB "
            "this instance has left: train with algorithm 'svd', which scales to tens of millions of ratings, or on "
            "a larger instance or a smaller table."
        )


def trainset(ratings: Ratings, scale: tuple[float, float]) -> Trainset:
    """Surprise's trainset of ``ratings`` on the rating scale ``scale``."""
    frame = pd.DataFrame({"user": ratings.users, "item": ratings.items, "rating": ratings.values})
    return Dataset.load_from_df(frame, Reader(rating_scale=scale)).build_full_trainset()


def algorithm(params: ModelParams) -> AlgoBase:
    """The unfitted Surprise object for ``params`` (quiet: Surprise prints its progress unless told not to)."""
    name, seed = params.algorithm, params.random_state
    if name == "SVDpp":
        return SVDpp(
            n_factors=params.n_factors,
            n_epochs=params.n_epochs,
            init_std_dev=params.init_std_dev,
            lr_all=params.lr_all,
            reg_all=params.reg_all,
            random_state=seed,
        )
    if name == "NMF":
        return NMF(n_factors=params.n_factors, n_epochs=params.n_epochs, biased=params.biased, random_state=seed)
    if name == "KNNBaseline":
        return KNNBaseline(
            k=params.k,
            min_k=params.min_k,
            sim_options={"name": params.similarity, "user_based": params.user_based},
            bsl_options={"method": params.baseline_method},
            verbose=False,
        )
    if name == "BaselineOnly":
        return BaselineOnly(bsl_options={"method": params.baseline_method}, verbose=False)
    if name == "SlopeOne":
        return SlopeOne()
    if name == "CoClustering":
        return CoClustering(
            n_cltr_u=params.n_cltr_u, n_cltr_i=params.n_cltr_i, n_epochs=params.n_epochs, random_state=seed
        )
    raise ValueError(f"{name!r} is not a Surprise algorithm of this image")


def fit_surprise(ratings: Ratings, params: ModelParams, *, scale: tuple[float, float] | None = None) -> FactorModel:
    """Fit ``params.algorithm`` with Surprise on ``ratings`` and export it (``scale``: default the data's)."""
    fitted = algorithm(params).fit(trainset(ratings, scale or ratings.scale))
    return export(fitted, ratings)


def export(fitted: AlgoBase, ratings: Ratings) -> FactorModel:
    """The fitted Surprise object as a :class:`FactorModel` (``ratings``: what it was fitted on)."""
    ids = _Ids.of(fitted.trainset, ratings)
    name = type(fitted).__name__
    mu = float(fitted.trainset.global_mean)
    if name == "SVDpp":
        implicit = (_history(ids, ratings) @ fitted.yj)[ids.users]
        counts = np.bincount(ids.user_rows, minlength=ids.n_users)
        user_vectors = fitted.pu[ids.users] + implicit / np.sqrt(counts)[:, None]
        return ids.model(user_vectors, fitted.qi[ids.items], fitted.bu[ids.users], fitted.bi[ids.items], mu)
    if name == "NMF":
        if fitted.biased:
            return ids.model(fitted.pu[ids.users], fitted.qi[ids.items], fitted.bu[ids.users], fitted.bi[ids.items], mu)
        return ids.model(fitted.pu[ids.users], fitted.qi[ids.items], None, None, 0.0, unknown_estimate=mu)
    if name == "BaselineOnly":
        return ids.model(None, None, fitted.bu[ids.users], fitted.bi[ids.items], mu)
    if name == "CoClustering":
        clusters_u, clusters_i = fitted.cltr_u[ids.users], fitted.cltr_i[ids.items]
        user_vectors = fitted.avg_cocltr[clusters_u]
        item_vectors = np.eye(fitted.n_cltr_i)[clusters_i]
        user_bias = fitted.user_mean[ids.users] - fitted.avg_cltr_u[clusters_u]
        item_bias = fitted.item_mean[ids.items] - fitted.avg_cltr_i[clusters_i]
        return ids.model(user_vectors, item_vectors, user_bias, item_bias, 0.0, unknown_estimate=mu)
    if name == "KNNBaseline":
        estimates = _knn_baseline_estimates(fitted)[np.ix_(ids.users, ids.items)]
        return ids.model(None, None, fitted.bu[ids.users], fitted.bi[ids.items], mu, predictions=estimates)
    if name == "SlopeOne":
        estimates = _slope_one_estimates(fitted, _history(ids, ratings))[np.ix_(ids.users, ids.items)]
        return ids.model(None, None, None, None, mu, predictions=estimates)
    raise ValueError(f"Cannot export Surprise's {name}")


@dataclass(frozen=True)
class _Ids:
    """Surprise's inner ids in the model's row order (raw ids ascending), and the ratings' rows."""

    user_ids: np.ndarray  # raw, ascending
    item_ids: np.ndarray
    users: np.ndarray  # inner user id of each model row
    items: np.ndarray
    user_rows: np.ndarray  # model row of each rating's user and movie
    item_rows: np.ndarray
    scale: tuple[float, float]

    @classmethod
    def of(cls, trainset: Trainset, ratings: Ratings) -> _Ids:
        raw_users = np.array([trainset.to_raw_uid(u) for u in trainset.all_users()], dtype=np.int64)
        raw_items = np.array([trainset.to_raw_iid(i) for i in trainset.all_items()], dtype=np.int64)
        users, items = np.argsort(raw_users, kind="stable"), np.argsort(raw_items, kind="stable")
        user_ids, item_ids = raw_users[users], raw_items[items]
        low, high = trainset.rating_scale
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            users=users,
            items=items,
            user_rows=np.searchsorted(user_ids, ratings.users),
            item_rows=np.searchsorted(item_ids, ratings.items),
            scale=(float(low), float(high)),
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def model(
        self,
        user_vectors: np.ndarray | None,
        item_vectors: np.ndarray | None,
        user_bias: np.ndarray | None,
        item_bias: np.ndarray | None,
        global_mean: float,
        *,
        unknown_estimate: float | None = None,
        predictions: np.ndarray | None = None,
    ) -> FactorModel:
        """A model on these rows; None: no factors (width 0) or zero biases."""
        width = 0 if user_vectors is None else user_vectors.shape[1]
        return FactorModel(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            user_factors=np.zeros((self.n_users, width)) if user_vectors is None else _double(user_vectors),
            item_factors=np.zeros((self.n_items, width)) if item_vectors is None else _double(item_vectors),
            user_bias=np.zeros(self.n_users) if user_bias is None else np.asarray(user_bias, dtype=np.float64),
            item_bias=np.zeros(self.n_items) if item_bias is None else np.asarray(item_bias, dtype=np.float64),
            global_mean=global_mean,
            rating_min=self.scale[0],
            rating_max=self.scale[1],
            rated=RatedItems.from_pairs(self.user_rows, self.item_rows, self.n_users),
            unknown_estimate=unknown_estimate,
            # float32 like our SVD's factors: the dense array is what dominates the model's memory
            predictions=None if predictions is None else np.ascontiguousarray(predictions, dtype=np.float32),
        )


def _double(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)


def _history(ids: _Ids, ratings: Ratings) -> sparse.csr_matrix:
    """Ratings per (inner user, inner item), as counts: duplicates count as often as Surprise's lists hold them."""
    return sparse.csr_matrix(
        (np.ones(len(ratings)), (ids.users[ids.user_rows], ids.items[ids.item_rows])), shape=(ids.n_users, ids.n_items)
    )


def _knn_baseline_estimates(fitted: KNNBaseline) -> np.ndarray:
    """KNNBaseline's estimate of every (inner user, inner item) pair, as its ``estimate`` computes it.

    For the pair (x, y) -- (user, item) when user-based, else (item, user) -- the neighbours are
    the x2 who rated y (``yr[y]``, in trainset order); the ``k`` with the highest similarity to x
    are kept (``heapq.nlargest``: on ties, the earlier in ``yr[y]``), and of those the ones with a
    similarity above 0 count. With at least ``min_k`` of them, the baseline gets their
    similarity-weighted mean of ``r - (mu + b_x2 + b_y)``; otherwise the baseline alone.
    """
    trainset, k, min_k = fitted.trainset, fitted.k, fitted.min_k
    mu, sim = trainset.global_mean, fitted.sim
    bx, by = fitted.bx, fitted.by
    n_x = sim.shape[0]
    n_y = len(by)
    correction = np.zeros((n_x, n_y))
    for y in range(n_y):
        neighbours = fitted.yr[y]
        others = np.fromiter((x2 for x2, _ in neighbours), dtype=np.int64, count=len(neighbours))
        ratings = np.fromiter((r for _, r in neighbours), dtype=np.float64, count=len(neighbours))
        residuals = ratings - (mu + bx[others] + by[y])
        m = len(others)
        step = max(1, _BLOCK_CELLS // max(m, 1))
        for start in range(0, n_x, step):
            block = sim[start : start + step][:, others]
            chosen = _nearest(block, k) & (block > 0)
            weights = np.where(chosen, block, 0.0)
            total = weights.sum(axis=1)
            enough = chosen.sum(axis=1) >= min_k
            correction[start : start + step, y] = np.divide(
                weights @ residuals, total, out=np.zeros(len(total)), where=enough & (total != 0)
            )
    estimates = correction if fitted.sim_options["user_based"] else correction.T
    estimates += (mu + fitted.bu)[:, None]
    estimates += fitted.bi[None, :]
    return estimates


def _nearest(block: np.ndarray, k: int) -> np.ndarray:
    """Per row, the ``k`` largest entries (ties: the leftmost first), as ``heapq.nlargest`` picks them."""
    m = block.shape[1]
    if m <= k:
        return np.ones(block.shape, dtype=bool)
    kth = np.partition(block, m - k, axis=1)[:, m - k : m - k + 1]
    above, tied = block > kth, block == kth
    room = k - above.sum(axis=1, keepdims=True)
    return above | (tied & (np.cumsum(tied, axis=1) <= room))


def _slope_one_estimates(fitted: SlopeOne, history: sparse.csr_matrix) -> np.ndarray:
    """SlopeOne's estimate of every (inner user, inner item): ``mu_u + mean(dev[i, j] for j in R_i(u))``.

    ``R_i(u)``: what u rated (each rating, as Surprise lists them) that shares a user with i.
    ``dev`` is antisymmetric and ``freq`` symmetric, so both sums are products with the matrices
    as they are (no transposed copy): ``sum_j h[u, j] dev[i, j] = -(h @ dev)[u, i]``.
    """
    related = fitted.freq > 0
    deviations = np.where(related, fitted.dev, 0.0)  # dev is NaN where no user rated both
    total = history @ deviations
    del deviations
    count = history.astype(np.float32) @ related.astype(np.float32)
    del related
    np.negative(total, out=total)
    np.divide(total, count, out=total, where=count > 0)
    total[count == 0] = 0.0
    total += np.asarray(fitted.user_mean)[:, None]
    return total
