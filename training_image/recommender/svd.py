"""The rating model (Surprise's SVD): fitting into a :class:`FactorModel`, and holdout rating error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.config import ModelParams
from recommender.model import FactorModel
from recommender.ratings import Ratings
from recommender.sgd import fit_biased_mf
from recommender.topk import RatedItems


@dataclass(frozen=True)
class Metrics:
    rmse: float
    mae: float


def fit_svd(ratings: Ratings, params: ModelParams, *, scale: tuple[float, float] | None = None) -> FactorModel:
    """Fit Surprise's SVD model on ``ratings`` (by :mod:`recommender.sgd`) and return it as a FactorModel.

    ``scale`` (default: the data's own min and max) bounds the predictions.
    """
    low, high = scale or ratings.scale
    fitted = fit_biased_mf(
        ratings.users,
        ratings.items,
        ratings.values,
        n_factors=params.n_factors,
        n_epochs=params.n_epochs,
        lr=params.lr_all,
        reg=params.reg_all,
        init_std_dev=params.init_std_dev,
        random_state=params.random_state,
    )
    user_order, item_order = np.argsort(fitted.user_ids), np.argsort(fitted.item_ids)
    user_ids, item_ids = fitted.user_ids[user_order], fitted.item_ids[item_order]
    rated = RatedItems.from_pairs(
        np.searchsorted(user_ids, ratings.users), np.searchsorted(item_ids, ratings.items), len(user_ids)
    )
    return FactorModel(
        user_ids=user_ids,
        item_ids=item_ids,
        user_factors=fitted.user_factors[user_order],
        item_factors=fitted.item_factors[item_order],
        user_bias=fitted.user_bias[user_order],
        item_bias=fitted.item_bias[item_order],
        global_mean=fitted.global_mean,
        rating_min=float(low),
        rating_max=float(high),
        rated=rated,
    )


def evaluate(model: FactorModel, holdout: Ratings) -> Metrics:
    """RMSE and MAE of the model's (clipped) predictions on held-out ratings."""
    errors = model.predict(holdout.users, holdout.items) - holdout.values
    return Metrics(rmse=float(np.sqrt(np.mean(errors**2))), mae=float(np.mean(np.abs(errors))))
