"""The whole model a job trains: Surprise's SVD for ratings plus, by default, EASE for the lists."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from recommender.config import ModelParams, RankingParams
from recommender.ease import fit_ease
from recommender.model import FactorModel
from recommender.ratings import Ratings
from recommender.svd import fit_svd

log = logging.getLogger("recommender.fitting")


def fit_model(
    ratings: Ratings, params: ModelParams, ranking: RankingParams, *, scale: tuple[float, float] | None = None
) -> FactorModel:
    """SVD fitted on ``ratings``, with an EASE ranker when ``ranking.method`` is ``ease``."""
    started = time.perf_counter()
    model = fit_svd(ratings, params, scale=scale)
    log.info("SVD: %d factors, %d epochs in %.1f s", params.n_factors, params.n_epochs, time.perf_counter() - started)
    if ranking.method != "ease":
        return model
    started = time.perf_counter()
    ranker = fit_ease(
        model.rated,
        model.n_items,
        regularization=ranking.regularization,
        min_ratings=ranking.min_ratings,
        max_movies=ranking.max_movies,
    )
    log.info("EASE: %d of %d movies ranked in %.1f s", ranker.n_covered, model.n_items, time.perf_counter() - started)
    return dataclasses.replace(model, ranker=ranker)


def warm_up() -> None:
    """Compile every numba kernel on a tiny model so it is cached; the image runs this at build time."""
    rng = np.random.default_rng(0)
    ratings = Ratings(
        users=np.repeat(np.arange(1, 21, dtype=np.int64), 5),
        items=rng.permutation(np.tile(np.arange(1, 26, dtype=np.int64), 4)),
        values=rng.integers(1, 11, 100) / 2.0,
    )
    model = fit_model(ratings, ModelParams(n_factors=2, n_epochs=1), RankingParams(min_ratings=1))
    for _ in model.iter_all_top_k(3):  # the parallel kernel
        pass
    model.recommend(model.user_ids[:2], 3)  # the serial one


if __name__ == "__main__":
    warm_up()
