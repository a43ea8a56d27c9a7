"""The seed guide's methods, re-implemented as baselines for the benchmarks (never used by the product).

What the seed did (see ../shared/docs/FACTS.md section 1):
- bulk top-10: Surprise ``build_anti_testset`` + ``test`` over every unrated pair, then a
  per-user Python sort;
- training job: ``select *`` from the table, 5-fold ``cross_validate`` of ``SVD()`` with
  ``rating_scale=(1, 5)``, the bulk top-10 above, and one INSERT whose VALUES list is built
  by string concatenation;
- serving: ``iterrows`` over the request and ``np.append`` of one ``predict`` per row.
"""

from __future__ import annotations

import io
from collections import defaultdict

import numpy as np
import pandas as pd
from surprise import SVD, Dataset, Reader
from surprise.model_selection import cross_validate


def seed_top_n(algo: SVD, trainset: object, n: int = 10) -> dict[int, list[tuple[int, float]]]:
    """Score every unrated (user, movie) pair one by one, then sort per user."""
    predictions = algo.test(trainset.build_anti_testset())  # type: ignore[attr-defined]
    top: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for uid, iid, _, est, _ in predictions:
        top[uid].append((iid, est))
    for uid, ranked in top.items():
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        top[uid] = ranked[:n]
    return top


def seed_training_job(cursor: object, input_table: str, output_table: str) -> int:
    """The seed's whole job against an open cursor; returns the number of users written."""
    cursor.execute(f"select * from {input_table}")  # type: ignore[attr-defined]
    frame = cursor.fetch_pandas_all()  # type: ignore[attr-defined]
    data = Dataset.load_from_df(frame[["USERID", "MOVIEID", "RATING"]], Reader(rating_scale=(1, 5)))
    algo = SVD()
    cross_validate(algo, data, measures=["RMSE", "MAE"], cv=5, verbose=False)
    top = seed_top_n(algo, data.build_full_trainset())
    values = ",".join(f"({int(uid)}, '{[int(iid) for iid, _ in ranked]}')" for uid, ranked in top.items())
    cursor.execute(f"INSERT INTO {output_table} select column1, parse_json(column2) from values {values}")  # type: ignore[attr-defined]
    return len(top)


def seed_predict_csv(algo: SVD, body: str) -> np.ndarray:
    """The seed's /invocations loop for a CSV body of ``user,movie`` lines."""
    data = pd.read_csv(io.StringIO(body), header=None)
    predictions = np.array([])
    for _, row in data.iterrows():
        predictions = np.append(predictions, algo.predict(row[0], row[1]).est)
    return predictions
