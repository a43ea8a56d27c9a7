"""Surprise itself: the reference our SVD trainer is checked against."""

from __future__ import annotations

import pandas as pd
from surprise import SVD, Dataset, Reader

from recommender.config import ModelParams


def surprise_svd(frame: pd.DataFrame, params: ModelParams, scale: tuple[float, float]) -> SVD:
    """Surprise's SVD with ``params``, fitted on a (user, item, rating) frame."""
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=scale)).build_full_trainset()
    algo = SVD(
        n_factors=params.n_factors,
        n_epochs=params.n_epochs,
        lr_all=params.lr_all,
        reg_all=params.reg_all,
        init_std_dev=params.init_std_dev,
        random_state=params.random_state,
    )
    algo.fit(trainset)
    return algo
