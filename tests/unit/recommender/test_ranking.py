"""recommender.ranking: top-10 quality on held-out ratings, checked against hand-computed values."""

import math

import numpy as np
import pytest

from recommender.model import FactorModel
from recommender.ranking import RankingMetrics, ranking_metrics
from recommender.ratings import Ratings
from recommender.topk import RatedItems


def model_ranking(order: list[int], *, n_items: int = 12) -> FactorModel:
    """One user (id 1) whose scores rank item ids ``order`` first, best first; nothing rated in training."""
    scores = np.zeros(n_items)
    for position, item in enumerate(order):
        scores[item - 1] = 100 - position
    return FactorModel(
        user_ids=np.array([1]),
        item_ids=np.arange(1, n_items + 1),
        user_factors=np.ones((1, 1)),
        item_factors=scores.reshape(-1, 1),
        user_bias=np.zeros(1),
        item_bias=np.zeros(n_items),
        global_mean=3.0,
        rating_min=0.5,
        rating_max=5.0,
        rated=RatedItems.from_pairs(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 1),
    )


def holdout(pairs: list[tuple[int, float]]) -> Ratings:
    users = np.ones(len(pairs), dtype=np.int64)
    items = np.array([p[0] for p in pairs], dtype=np.int64)
    return Ratings(users, items, np.array([p[1] for p in pairs], dtype=np.float64))


def test_hits_at_known_positions_give_the_textbook_values():
    model = model_ranking([3, 5, 7, 1, 2, 4, 6, 8, 9, 10])
    # relevant held-out: 5 (rank 2) and 9 (rank 9) and 12 (not in the list); 3 is held out but rated 2.0
    metrics = ranking_metrics(model, holdout([(5, 4.0), (9, 5.0), (12, 4.5), (3, 2.0)]), catalogue=12)
    dcg = 1 / math.log2(3) + 1 / math.log2(10)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics == RankingMetrics(
        precision=0.2, recall=2 / 3, ndcg=pytest.approx(dcg / idcg), coverage=10 / 12, users=1
    )
    assert metrics.lines()[0] == "validation:precision_at_10=0.200000"


def test_no_relevant_held_out_rating_means_no_ranking_metrics():
    assert ranking_metrics(model_ranking([1, 2, 3]), holdout([(1, 3.5)]), catalogue=12) is None


def test_the_printed_metrics_are_the_ones_the_job_declares():
    from pipeline_shared.training_options import METRIC_NAMES

    printed = [*RankingMetrics(0.1, 0.2, 0.3, 0.4, users=1).as_dict(), "validation:rmse", "validation:mae"]
    assert sorted(printed) == sorted(METRIC_NAMES)
