"""Surprise SVD: fitting, conversion to a :class:`FactorModel`, and holdout metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from surprise import SVD, Dataset, Reader

from recommender.config import ModelParams
from recommender.model import FactorModel
from recommender.ratings import Ratings
from recommender.topk import RatedItems


@dataclass(frozen=True)
class Metrics:
    rmse: float
    mae: float


def fit_svd(ratings: Ratings, params: ModelParams, *, scale: tuple[float, float] | None = None) -> FactorModel:
    """Fit Surprise's SVD on ``ratings`` and return the learned factors as a FactorModel.

    ``scale`` (default: the data's own min and max) bounds the predictions.
    """
    low, high = scale or ratings.scale
    frame = pd.DataFrame({"user": ratings.users, "item": ratings.items, "rating": ratings.values})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(low, high))).build_full_trainset()
    algo = SVD(
        n_factors=params.n_factors,
        n_epochs=params.n_epochs,
        lr_all=params.lr_all,
        reg_all=params.reg_all,
        init_std_dev=params.init_std_dev,
        random_state=params.random_state,
    )
    algo.fit(trainset)

    raw_users = np.array([trainset.to_raw_uid(u) for u in range(trainset.n_users)], dtype=np.int64)
    raw_items = np.array([trainset.to_raw_iid(i) for i in range(trainset.n_items)], dtype=np.int64)
    user_order, item_order = np.argsort(raw_users), np.argsort(raw_items)
    user_ids, item_ids = raw_users[user_order], raw_items[item_order]
    rated = RatedItems.from_pairs(
        np.searchsorted(user_ids, ratings.users), np.searchsorted(item_ids, ratings.items), len(user_ids)
    )
    return FactorModel(
        user_ids=user_ids,
        item_ids=item_ids,
        user_factors=algo.pu[user_order].astype(np.float32),
        item_factors=algo.qi[item_order].astype(np.float32),
        user_bias=algo.bu[user_order].astype(np.float64),
        item_bias=algo.bi[item_order].astype(np.float64),
        global_mean=float(trainset.global_mean),
        rating_min=float(low),
        rating_max=float(high),
        rated=rated,
    )


def evaluate(model: FactorModel, holdout: Ratings) -> Metrics:
    """RMSE and MAE of the model's (clipped) predictions on held-out ratings."""
    errors = model.predict(holdout.users, holdout.items) - holdout.values
    return Metrics(rmse=float(np.sqrt(np.mean(errors**2))), mae=float(np.mean(np.abs(errors))))
