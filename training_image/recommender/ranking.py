"""Top-k quality on held-out ratings: what users see, not the RMSE of single predictions.

For every user with at least one relevant held-out rating (``>= 0.8`` of the scale's top, i.e. 4
of 5), the model ranks the movies the user did not rate in training; a hit is a relevant held-out
movie in its top ``k``. Reported, averaged over those users: precision@k, recall@k (hits over the
user's relevant movies) and NDCG@k (binary gains); and coverage, the share of the catalogue that
appears in some evaluated user's list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.model import FactorModel
from recommender.ratings import Ratings

K = 10
RELEVANT_SHARE = 0.8  # of the scale's maximum: 4 of 5
_USERS_PER_BLOCK = 2048


@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    coverage: float
    users: int  # users evaluated

    def lines(self) -> list[str]:
        """The metric lines SageMaker's MetricDefinitions match."""
        return [
            f"validation:precision_at_{K}={self.precision:.6f}",
            f"validation:recall_at_{K}={self.recall:.6f}",
            f"validation:ndcg_at_{K}={self.ndcg:.6f}",
            f"validation:coverage={self.coverage:.6f}",
        ]

    def as_dict(self) -> dict[str, float]:
        return {line.split("=")[0]: float(line.split("=")[1]) for line in self.lines()}


def ranking_metrics(model: FactorModel, holdout: Ratings, catalogue: int, k: int = K) -> RankingMetrics | None:
    """Ranking quality of ``model`` (fitted without ``holdout``) over ``catalogue`` movies; None: no user qualifies."""
    relevant = holdout.values >= RELEVANT_SHARE * model.rating_max
    user_rows = model.user_rows(holdout.users[relevant])
    item_rows = model.item_rows(holdout.items[relevant])
    known = user_rows >= 0  # a movie unknown to the model is relevant but can never be recommended
    users = np.unique(user_rows[known])
    if len(users) == 0:
        return None
    relevant_count = np.bincount(user_rows[known], minlength=model.n_users)
    wanted = set(zip(user_rows[known].tolist(), item_rows[known].tolist(), strict=True))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision = recall = ndcg = 0.0
    shown: set[int] = set()
    for start in range(0, len(users), _USERS_PER_BLOCK):
        block = users[start : start + _USERS_PER_BLOCK]
        ranked = model.top_k_rows(block, k, parallel=True).items
        shown.update(ranked[ranked >= 0].tolist())
        for user, row in zip(block.tolist(), ranked.tolist(), strict=True):
            hits = np.array([item >= 0 and (user, item) in wanted for item in row], dtype=bool)
            n_relevant = int(relevant_count[user])
            precision += hits.sum() / k
            recall += hits.sum() / n_relevant
            ndcg += float(discounts[hits].sum() / discounts[: min(k, n_relevant)].sum())
    n = len(users)
    return RankingMetrics(float(precision / n), float(recall / n), float(ndcg / n), len(shown) / max(catalogue, 1), n)
