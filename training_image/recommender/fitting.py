"""The whole model a job trains: a rating model (our SVD or a Surprise algorithm) and, by default, graded EASE."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Protocol

import numpy as np

from recommender.config import ModelParams, RankingParams
from recommender.ease import ItemRanker, fit_ease, fit_graded_ease, ratings_of_rated
from recommender.model import FactorModel
from recommender.ranking import RELEVANT_SHARE
from recommender.ratings import Ratings
from recommender.surprise_models import fit_surprise
from recommender.svd import fit_svd
from recommender.topk import RatedItems

log = logging.getLogger("recommender.fitting")


def fit_model(
    ratings: Ratings, params: ModelParams, ranking: RankingParams, *, scale: tuple[float, float] | None = None
) -> FactorModel:
    """``params.algorithm`` fitted on ``ratings``, with the ranker ``ranking.method`` names (none: predicted_rating)."""
    low, high = scale or ratings.scale
    model = _rating_model(ratings, params, (low, high))
    if ranking.method == "predicted_rating":
        return model
    return dataclasses.replace(model, ranker=_timed_ranker(model, ratings, ranking, rating_max=high))


def _rating_model(ratings: Ratings, params: ModelParams, scale: tuple[float, float]) -> FactorModel:
    started = time.perf_counter()
    if params.algorithm == "svd":
        model = fit_svd(ratings, params, scale=scale)
        log.info(
            "SVD: %d factors, %d epochs in %.1f s", params.n_factors, params.n_epochs, time.perf_counter() - started
        )
        return model
    model = fit_surprise(ratings, params, scale=scale)
    log.info("Surprise's %s %s in %.1f s", params.algorithm, params.options(), time.perf_counter() - started)
    return model


def _timed_ranker(index: Rated, ratings: Ratings, ranking: RankingParams, *, rating_max: float) -> ItemRanker:
    started = time.perf_counter()
    ranker = fit_ranker(index, ratings, ranking, rating_max=rating_max)
    view = "" if ranker.liked is None else f", the liked view on {len(ranker.liked.items)}"
    log.info(
        "EASE: %d of %d movies ranked (%s%s) in %.1f s",
        ranker.n_covered, index.n_items, ranker.method, view, time.perf_counter() - started,
    )  # fmt: skip
    return ranker


class Rated(Protocol):
    """What a ranker reads of a model: who rated what, and the rows of raw ids (a :class:`FactorModel`)."""

    @property
    def rated(self) -> RatedItems: ...

    @property
    def n_items(self) -> int: ...

    def user_rows(self, user_ids: np.ndarray) -> np.ndarray: ...

    def item_rows(self, item_ids: np.ndarray) -> np.ndarray: ...


def fit_ranker(index: Rated, ratings: Ratings, ranking: RankingParams, *, rating_max: float) -> ItemRanker:
    """The ``ease`` or ``graded_ease`` ranker over ``index``'s rated lists (``ratings``, scale up to ``rating_max``)."""
    coverage = {"min_ratings": ranking.min_ratings, "max_movies": ranking.max_movies}
    if ranking.method == "ease":
        return fit_ease(index.rated, index.n_items, regularization=ranking.regularization, **coverage)
    values = ratings_of_rated(
        index.rated, index.user_rows(ratings.users), index.item_rows(ratings.items), ratings.values
    )
    return fit_graded_ease(
        index.rated,
        values,
        index.n_items,
        regularization=ranking.regularization,
        **coverage,
        rating_weight=ranking.rating_weight,
        liked_weight=ranking.liked_weight,
        liked_regularization=ranking.liked_regularization,
        popularity_exponent=ranking.popularity_exponent,
        liked_share=ranking.liked_share,
        liked_threshold=RELEVANT_SHARE * rating_max,  # what the top-10 metrics count as relevant
    )


def warm_up() -> None:
    """Compile every numba kernel on a tiny model so it is cached; the image runs this at build time."""
    rng = np.random.default_rng(0)
    ratings = Ratings(
        users=np.repeat(np.arange(1, 21, dtype=np.int64), 5),
        items=rng.permutation(np.tile(np.arange(1, 26, dtype=np.int64), 4)),
        values=rng.integers(1, 11, 100) / 2.0,
    )
    for method in ("graded_ease", "ease"):
        model = fit_model(ratings, ModelParams(n_factors=2, n_epochs=1), RankingParams(method=method, min_ratings=1))
        for _ in model.iter_all_top_k(3):  # the parallel kernel
            pass
        model.recommend(model.user_ids[:2], 3)  # the serial one


if __name__ == "__main__":
    warm_up()
