"""The PySpark ALS job in local mode (one module-scoped SparkSession, a few hundred synthetic ratings)."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession

from spark_training import als_job


@pytest.fixture(scope="module")
def spark():
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def written(spark, tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [
        (int(u), int(m), float(rng.integers(1, 11)) / 2)
        for u in range(1, 41)
        for m in rng.choice(np.arange(1, 31), size=int(rng.integers(3, 25)), replace=False)
    ]
    rows.append((99, 7, 9.0))  # off the scale: left out
    root = tmp_path_factory.mktemp("tables")
    spark.createDataFrame(rows, ["userId", "movieId", "rating"]).write.parquet(str(root / "DB.S.RATINGS"))
    settings = als_job.AlsSettings(input_table="DB.S.RATINGS", output_table="DB.S.RECS", rank=5, max_iter=5, blocks=1)
    metrics = als_job.run(spark, als_job.ParquetTables(spark, root), settings)
    out = {r["USERID"]: r for r in spark.read.parquet(str(root / "DB.S.RECS")).collect()}
    return rows, metrics, out, root


def test_each_user_gets_their_top_10_unrated_movies_best_first(written):
    import json

    rows, metrics, out, _ = written
    rated: dict[int, set[int]] = {}
    for user, movie, rating in rows:
        if rating <= 5:
            rated.setdefault(user, set()).add(movie)
    assert set(out) == set(rated)  # the off-scale rating's user is not there
    for user, movies in rated.items():
        listed = json.loads(out[user]["RECOMMENDATIONS"])
        predicted = json.loads(out[user]["PREDICTED_RATINGS"])
        assert len(listed) == min(10, 30 - len(movies))
        assert not set(listed) & movies
        assert all(0.5 <= p <= 5.0 for p in predicted)
    assert metrics["users"] == len(rated)
    assert metrics["validation:rmse"] > 0


def test_the_output_table_was_swapped_in_whole(written):
    root = written[3]
    assert sorted(p.name for p in root.iterdir()) == ["DB.S.RATINGS", "DB.S.RECS"]


def test_replace_statements_delete_and_insert_in_one_transaction():
    statements = als_job.replace_statements("DB.S.RECS", "DB.S.RECS_SPARK_STAGING")
    assert statements[1:3] == ["BEGIN", "DELETE FROM DB.S.RECS"] and statements[4] == "COMMIT"
    with pytest.raises(als_job.JobError):
        als_job.replace_statements("DB.S.RECS; DROP TABLE X", "DB.S.STAGE")


@pytest.mark.parametrize(
    "name",
    [
        "RATINGS",
        "db.s.ratings",
        "_A$1.B.C",
        "A" * 255,
        "A" * 256,
        "1DB.S.T",
        "$A",
        "A.B.C.D",
        'DB."S".T',
        "DB.S.T;DROP",
        "DB..T",
        "DB.S.T ",
        "DB S.T",
        "",
    ],
)
def test_the_uploaded_job_copies_the_table_name_rule_exactly(name: str) -> None:
    """The job is one uploaded file, so it keeps its own copy of pipeline_shared.identifiers' rule: the same one."""
    from pipeline_shared.identifiers import InvalidIdentifierError, TableName

    try:
        TableName.parse(name)
        shared = True
    except InvalidIdentifierError:
        shared = False
    assert bool(als_job._TABLE.fullmatch(name)) is (shared and name == name.strip())
