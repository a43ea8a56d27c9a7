"""The training program end to end against fakesnow, and each way it refuses bad input."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from snowflake.connector import SnowflakeConnection

from local_mode.running_statements import announced
from local_mode.standins import Server, fakesnow_connection, fakesnow_server, free_port
from pipeline_shared.bulk_load import LOST
from recommender.model import FactorModel
from snowflake_sql.movielens import MovieLens, load_ratings
from tests.conftest import DATABASE, SCHEMA
from tests.integration.conftest import (
    INPUT_TABLE,
    OUTPUT_TABLE,
    TrainedJob,
    connection_hyperparameters,
    run_training,
    start_training,
    wait_for_line,
)

pytestmark = pytest.mark.integration


def recommendations(connection: SnowflakeConnection, table: str) -> dict[int, tuple[list[int], list[float]]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT USERID, TOP_10_RECOMMENDATIONS, PREDICTED_RATINGS FROM {table}")
        return {int(u): (json.loads(r), json.loads(p)) for u, r, p in cursor.fetchall()}


def test_metric_lines_match_sagemaker_regexes(trained_job: TrainedJob) -> None:
    rmse = re.search(r"^validation:rmse=([0-9.]+)$", trained_job.run.stdout, re.MULTILINE)
    mae = re.search(r"^validation:mae=([0-9.]+)$", trained_job.run.stdout, re.MULTILINE)
    assert rmse and mae, trained_job.run.stdout
    assert 0.5 < float(rmse.group(1)) < 1.0
    assert 0.3 < float(mae.group(1)) < float(rmse.group(1))
    assert trained_job.metadata["metrics"]["validation:rmse"] == pytest.approx(float(rmse.group(1)), abs=1e-6)


def test_every_job_reports_top_10_quality_on_the_holdout(trained_job: TrainedJob) -> None:
    """Precision, recall and NDCG at 10 and catalogue coverage: printed for SageMaker and kept in metadata."""
    for name in ("precision_at_10", "recall_at_10", "ndcg_at_10", "coverage"):
        line = re.search(rf"^validation:{name}=([0-9.]+)$", trained_job.run.stdout, re.MULTILINE)
        assert line, trained_job.run.stdout
        value = float(line.group(1))
        assert 0.0 <= value <= 1.0 and (name != "coverage" or value > 0), (name, value)
        assert trained_job.metadata["metrics"][f"validation:{name}"] == pytest.approx(value, abs=1e-6)


def test_every_user_gets_k_distinct_unrated_movies(
    trained_job: TrainedJob, snowflake_db: SnowflakeConnection, movielens: MovieLens
) -> None:
    stored = recommendations(snowflake_db, OUTPUT_TABLE)
    ratings = movielens.ratings
    assert set(stored) == set(ratings.userId.unique())
    rated = ratings.groupby("userId").movieId.agg(set).to_dict()
    catalogue = set(ratings.movieId)
    for user, (movies, predicted) in stored.items():
        assert len(movies) == 10 and len(set(movies)) == 10
        assert not set(movies) & rated[user]
        assert set(movies) <= catalogue
        assert len(predicted) == 10 and all(0.5 <= p <= 5.0 for p in predicted)


def test_stored_recommendations_are_the_models_own(trained_job: TrainedJob, snowflake_db: SnowflakeConnection) -> None:
    """Every user's stored list is what the saved model (as an endpoint loads it) recommends, ratings included."""
    stored = recommendations(snowflake_db, OUTPUT_TABLE)
    users = np.array(sorted(stored))
    model = trained_job.model
    assert model.ranking == "graded_ease"
    assert model.recommend(users, 10) == [stored[int(u)][0] for u in users]
    for user in users[:20]:
        movies, predicted = stored[int(user)]
        expected = model.predict(np.full(len(movies), user), np.array(movies))
        np.testing.assert_allclose(predicted, np.round(expected, 4), atol=1e-9)


def test_the_seeds_ordering_remains_an_option(
    trained_job: TrainedJob, snowflake_db: SnowflakeConnection, tmp_path, aws_env
) -> None:
    """ranking=predicted_rating: lists by predicted rating, best first, as the seed guide ranked them."""
    table = f"{DATABASE}.{SCHEMA}.RECS_BY_RATING"
    hyperparameters = {**trained_job.hyperparameters, "output_table": table, "ranking": "predicted_rating"}
    run = run_training(tmp_path, hyperparameters, aws_env)
    assert run.returncode == 0, run.stderr
    model, metadata = FactorModel.load(run.opt_ml / "model")
    assert model.ranker is None and metadata["ranking"] == "predicted_rating"
    assert metadata["hyperparameters"]["ranking"] == "predicted_rating"
    stored = recommendations(snowflake_db, table)
    for _, predicted in stored.values():
        assert predicted == sorted(predicted, reverse=True)
    users = np.array(sorted(stored))
    assert model.recommend(users, 10) == [stored[int(u)][0] for u in users]
    # the same rating model, ranked two ways: the top-10 quality differs, the rating error does not
    ours, seeds = trained_job.metadata["metrics"], metadata["metrics"]
    assert ours["validation:rmse"] == pytest.approx(seeds["validation:rmse"], abs=1e-6)
    assert ours["validation:ndcg_at_10"] > 2 * seeds["validation:ndcg_at_10"]


def test_output_rows_carry_model_version_and_time(snowflake_db: SnowflakeConnection, trained_job: TrainedJob) -> None:
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT MODEL_VERSION, GENERATED_AT IS NOT NULL FROM {OUTPUT_TABLE}")
        assert cursor.fetchall() == [("movielens-test-job", True)]


def test_model_files_are_arrays_and_json(trained_job: TrainedJob, movielens: MovieLens) -> None:
    model_dir = trained_job.run.opt_ml / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["metadata.json", "model.npz"]
    meta = trained_job.metadata
    assert meta["format_version"] == 3 and meta["model_version"] == "movielens-test-job"
    assert meta["ranking"] == "graded_ease" and 0 < meta["liked_view_movies"] < meta["ranked_movies"] <= meta["n_items"]
    assert meta["hyperparameters"]["ranking"] == "graded_ease"
    assert meta["hyperparameters"]["ranking_liked_weight"] == 0.5
    assert meta["data"]["ratings"] == len(movielens.ratings)
    assert meta["data"]["users"] == movielens.ratings.userId.nunique()
    assert len(meta["data"]["sha256"]) == 64
    assert meta["rating_scale"] == [movielens.ratings.rating.min(), movielens.ratings.rating.max()]
    assert meta["hyperparameters"]["n_factors"] == 100
    assert meta["libraries"]["numba"] == "0.68.1"
    assert trained_job.model.n_users == movielens.ratings.userId.nunique()
    assert "pw" not in (model_dir / "metadata.json").read_text()


def test_the_write_statements_limit_grows_with_the_rows_written(trained_job: TrainedJob, movielens: MovieLens):
    """By default each write statement may run snowflake_timeout (180 s) plus 1 s per 1,000 rows written."""
    users = movielens.ratings.userId.nunique()
    limit = 180 + -(-users // 1000)
    stderr = trained_job.run.stderr
    assert f"each write statement may run {limit} s (snowflake_timeout 180 s + 1 s per 1,000 of {users:,} rows)" in (
        stderr
    )
    for step in ("copying recommendations.csv into staging", f"clearing {OUTPUT_TABLE}", f"writing {OUTPUT_TABLE}"):
        assert re.search(rf"{re.escape(step)}: [0-9.]+ s of its {limit} s limit \({users} rows\)", stderr), step


def test_logs_hold_no_secret(trained_job: TrainedJob) -> None:
    assert '"pw"' not in trained_job.run.stderr and "'pw'" not in trained_job.run.stderr
    assert "credentials: password" in trained_job.run.stderr


def test_rerun_replaces_rather_than_appends(
    trained_job: TrainedJob, snowflake_db: SnowflakeConnection, tmp_path, aws_env
) -> None:
    hyperparameters = {**trained_job.hyperparameters, "n_epochs": "2", "validation_fraction": "0", "top_k": "5"}
    run = run_training(tmp_path, hyperparameters, aws_env)
    assert run.returncode == 0, run.stderr
    assert "validation:rmse" not in run.stdout
    with snowflake_db.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT USERID), MIN(ARRAY_SIZE(TOP_10_RECOMMENDATIONS)) FROM {OUTPUT_TABLE}"
        )
        count, users, smallest = cursor.fetchone()
    assert count == users == trained_job.model.n_users
    assert smallest == 5


@pytest.fixture
def job(fakesnow: Server, tmp_path, snowflake_secret: str):
    """Hyperparameters of a small, fast job writing to its own table."""
    base = {
        "input_table": INPUT_TABLE,
        "output_table": f"{DATABASE}.{SCHEMA}.RECS_{tmp_path.name.upper().replace('-', '_')[-40:]}",
        **connection_hyperparameters(fakesnow),
        "n_epochs": "2",
        "validation_fraction": "0",
    }
    return base


def refused(run, *fragments: str) -> str:
    """Assert the run failed with one clear reason, written to the failure file and stderr."""
    assert run.returncode != 0
    assert run.failure is not None, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    for fragment in fragments:
        assert fragment in run.failure, run.failure
    assert run.failure.strip() in run.stderr
    return run.failure


def table_rows(connection: SnowflakeConnection, table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
        return cursor.fetchall()


@pytest.fixture
def previous_output(snowflake_db: SnowflakeConnection, job: dict[str, str]) -> list[tuple]:
    """The output table already holds recommendations that a failed run must leave intact."""
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {job['output_table']} (USERID NUMBER, TOP_10_RECOMMENDATIONS VARIANT)")
        cursor.execute(f"INSERT INTO {job['output_table']} SELECT 1, PARSE_JSON('[1, 2, 3]')")
    return table_rows(snowflake_db, job["output_table"])


def test_empty_input_table(snowflake_db, job, previous_output, tmp_path) -> None:
    with snowflake_db.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE TABLE {DATABASE}.{SCHEMA}.EMPTY_RATINGS (USERID INT, MOVIEID INT, RATING FLOAT)"
        )
    run = run_training(
        tmp_path, {**job, "input_table": f"{DATABASE}.{SCHEMA}.EMPTY_RATINGS"}, {"SNOWFLAKE_PASSWORD": "pw"}
    )
    refused(run, "EMPTY_RATINGS has no ratings")
    assert table_rows(snowflake_db, job["output_table"]) == previous_output


def test_a_diverging_fit_publishes_nothing(snowflake_db, job, previous_output, tmp_path) -> None:
    """A learning rate of 1 without regularisation sends the factors to infinity: the gate stops the job."""
    run = run_training(
        tmp_path, {**job, "lr_all": "1.0", "reg_all": "0", "n_epochs": "30"}, {"SNOWFLAKE_PASSWORD": "pw"}
    )
    refused(run, "quality gate", "not a finite number", "nothing was written")
    assert table_rows(snowflake_db, job["output_table"]) == previous_output
    assert not (tmp_path / "model" / "model.npz").exists()


def test_lists_that_would_all_be_empty_are_not_published(snowflake_db, job, previous_output, tmp_path) -> None:
    """Everyone has rated every movie: replacing the table with empty lists would lose what was there."""
    table = f"{DATABASE}.{SCHEMA}.EVERYTHING_RATED"
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE OR REPLACE TABLE {table} (USERID INT, MOVIEID INT, RATING FLOAT)")
        cursor.execute(
            f"INSERT INTO {table} SELECT u.v, m.v, 3 + (u.v + m.v) % 3 "
            "FROM (SELECT column1 AS v FROM VALUES (1), (2), (3)) u, (SELECT column1 AS v FROM VALUES (10), (20)) m"
        )
    run = run_training(tmp_path, {**job, "input_table": table}, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "every list would be empty", "nothing was written")
    assert table_rows(snowflake_db, job["output_table"]) == previous_output


def test_ratings_outside_the_scale_are_left_out_and_counted(snowflake_db, job, tmp_path) -> None:
    table = f"{DATABASE}.{SCHEMA}.WITH_OUTLIERS"
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT USERID, MOVIEID, RATING FROM {INPUT_TABLE}")
        cursor.execute(f"INSERT INTO {table} VALUES (1, 1, 1e9), (2, 1, -3), (3, 1, 99)")
    run = run_training(tmp_path, {**job, "input_table": table}, {"SNOWFLAKE_PASSWORD": "pw"})
    assert run.returncode == 0, run.stderr
    assert "left out 3 ratings outside the rating scale 0.5-5" in run.stderr
    model, metadata = FactorModel.load(tmp_path / "model")
    assert metadata["data"]["left_out_outside_scale"] == 3
    assert (model.rating_min, model.rating_max) == (0.5, 5.0)
    stored = recommendations(snowflake_db, job["output_table"])
    assert all(0.5 <= p <= 5.0 for _, predicted in stored.values() for p in predicted)


def test_a_table_on_another_scale_needs_the_scale_declared(snowflake_db, job, previous_output, tmp_path) -> None:
    table = f"{DATABASE}.{SCHEMA}.SHIFTED_SCALE"
    with snowflake_db.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT USERID, MOVIEID, RATING + 10 AS RATING FROM {INPUT_TABLE}"
        )
    run = run_training(tmp_path, {**job, "input_table": table}, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "SHIFTED_SCALE has no rating from 0.5 to 5", "set the options rating_min and rating_max")
    assert table_rows(snowflake_db, job["output_table"]) == previous_output
    declared = run_training(
        tmp_path / "declared", {**job, "input_table": table, "rating_min": "10.5", "rating_max": "15"},
        {"SNOWFLAKE_PASSWORD": "pw"},
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr
    assert "left out" not in declared.stderr


def test_missing_column(snowflake_db, job, tmp_path) -> None:
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE OR REPLACE TABLE {DATABASE}.{SCHEMA}.NO_RATING (USERID INT, MOVIEID INT, STARS FLOAT)")
        cursor.execute(f"INSERT INTO {DATABASE}.{SCHEMA}.NO_RATING VALUES (1, 1, 4.0)")
    run = run_training(tmp_path, {**job, "input_table": f"{DATABASE}.{SCHEMA}.NO_RATING"}, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "has no column RATING")


def test_missing_input_table(job, tmp_path) -> None:
    run = run_training(tmp_path, {**job, "input_table": f"{DATABASE}.{SCHEMA}.NOPE"}, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "NOPE does not exist")


@pytest.mark.parametrize("table", ["x; drop table y", 'MOVIELENS.PUBLIC."RATINGS"', "RATINGS -- comment", "A.B.C.D"])
def test_unsafe_identifier_is_never_used(job, tmp_path, table: str) -> None:
    run = run_training(tmp_path, {**job, "input_table": table}, {"SNOWFLAKE_PASSWORD": "pw"})
    failure = refused(run, "input_table", "not a plain Snowflake identifier")
    assert table not in failure


def test_unreachable_snowflake(job, tmp_path) -> None:
    run = run_training(tmp_path, {**job, "snowflake_port": str(free_port())}, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "Cannot connect to Snowflake")


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"n_factors": "many"}, "'n_factors' must be a whole number"),
        ({"lr_all": "0"}, "'lr_all' must be a number above 0"),
        ({"top_k": "0"}, "'top_k' must be a whole number from 1 to 1000"),
        ({"n_factor": "10"}, "Unknown hyperparameter 'n_factor'"),
        ({"output_table": ""}, "'output_table' is required"),
        ({"snowflake_timeout": "60", "snowflake_lock_timeout": "60"}, "must be below snowflake_timeout (60)"),
        (
            {"snowflake_write_timeout": "30", "snowflake_lock_timeout": "30"},
            "snowflake_lock_timeout (30) must be below snowflake_write_timeout (30)",
        ),
        ({"snowflake_write_timeout": "4"}, "'snowflake_write_timeout' must be a whole number from 5 to 172800"),
    ],
)
def test_bad_hyperparameters(job, tmp_path, override: dict[str, str], fragment: str) -> None:
    run = run_training(tmp_path, {**job, **override}, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, fragment)


def test_missing_hyperparameters_file(tmp_path) -> None:
    refused(run_training(tmp_path, None, {}), "No hyperparameters file")


def test_no_credentials(job, tmp_path) -> None:
    refused(run_training(tmp_path, job, {}), "No Snowflake credentials")


def test_unknown_secret(job, tmp_path, aws_env) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist"
    run = run_training(tmp_path, {**job, "snowflake_secret_arn": arn}, aws_env)
    refused(run, "Cannot read secret", "ResourceNotFoundException")


def test_a_privatelink_host_refuses_a_password_secret(job, tmp_path, aws_env, snowflake_secret) -> None:
    """Issue 23: snowflake_host (PrivateLink) used to admit a password secret; only loopback stand-ins do."""
    host = {"snowflake_host": "myorg-myaccount.privatelink.snowflakecomputing.com", "snowflake_port": "443"}
    run = run_training(tmp_path, {**job, **host, "snowflake_secret_arn": snowflake_secret}, aws_env)
    refused(run, "holds a password, which only a local stand-in accepts here")


def test_incompatible_output_table(snowflake_db, job, tmp_path) -> None:
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {job['output_table']} (USERID NUMBER, RECS VARIANT)")
    run = run_training(tmp_path, job, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "exists without column TOP_10_RECOMMENDATIONS")


def test_failed_swap_rolls_back(snowflake_db, job, tmp_path) -> None:
    """The write fails inside the transaction (JSON into a NUMBER column): old rows survive."""
    table = job["output_table"]
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (USERID NUMBER, TOP_10_RECOMMENDATIONS NUMBER)")
        cursor.execute(f"INSERT INTO {table} VALUES (1, 42)")
    run = run_training(tmp_path, job, {"SNOWFLAKE_PASSWORD": "pw"})
    refused(run, "Snowflake failed while writing")
    assert table_rows(snowflake_db, table) == [(1, 42)]
    assert list((tmp_path / "model").iterdir()) == []  # not published: no model left behind either


def test_a_stopped_job_leaves_everything_as_it_was(snowflake_db, job, previous_output, tmp_path) -> None:
    """SageMaker's StopTrainingJob sends SIGTERM: the job gives its reason and exits; the next job runs."""
    process = start_training(tmp_path / "stopped", {**job, "n_epochs": "400"}, {"SNOWFLAKE_PASSWORD": "pw"})
    try:
        wait_for_line(process, "fitting the model on all ratings")
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143
    assert time.monotonic() - stopped_at < 30  # well inside SageMaker's 120 s before SIGKILL
    assert "Traceback" not in stderr
    failure = (tmp_path / "stopped" / "output" / "failure").read_text()
    assert failure.startswith("The job was stopped (SIGTERM) before it finished; nothing was written")
    assert table_rows(snowflake_db, job["output_table"]) == previous_output
    assert not (tmp_path / "stopped" / "model" / "model.npz").exists()
    again = run_training(tmp_path / "again", job, {"SNOWFLAKE_PASSWORD": "pw"})
    assert again.returncode == 0, again.stderr


def hold_table_lock(fakesnow: Server, table: str) -> SnowflakeConnection:
    """A session in the middle of a swap of ``table``: it has cleared it and not committed (its lock held)."""
    holder = fakesnow_connection(fakesnow.port, host=fakesnow.host, database=DATABASE, schema=SCHEMA)
    holder.cursor().execute("BEGIN")
    holder.cursor().execute(f"DELETE FROM {table}")
    return holder


def test_overlapping_jobs_leave_one_jobs_lists(fakesnow: Server, snowflake_db, job, tmp_path) -> None:
    """Two jobs writing one table at once: the second swap waits for the first, then replaces its rows whole."""
    table = job["output_table"]
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (USERID NUMBER, TOP_10_RECOMMENDATIONS VARIANT, MODEL_VERSION VARCHAR)")
        cursor.execute(f"INSERT INTO {table} SELECT 1, PARSE_JSON('[1, 2, 3]'), 'before'")
    holder = hold_table_lock(fakesnow, table)
    jobs = [
        start_training(
            tmp_path / f"job{k}", {**job, "top_k": str(k)}, {"SNOWFLAKE_PASSWORD": "pw", "TRAINING_JOB_NAME": f"job{k}"}
        )
        for k in (3, 5)
    ]
    try:
        deadline = time.monotonic() + 120
        while fakesnow.log.read_text().count(f'"lock_wait": {{"table": "{table}"') < 2:
            assert time.monotonic() < deadline and all(p.poll() is None for p in jobs), "both jobs should wait"
            time.sleep(0.1)
        holder.cursor().execute("ROLLBACK")
        outcomes = [p.communicate(timeout=120) for p in jobs]
    finally:
        for process in jobs:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in jobs] == [0, 0], [err for _, err in outcomes]
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"SELECT MODEL_VERSION, ARRAY_SIZE(TOP_10_RECOMMENDATIONS), COUNT(*) FROM {table} GROUP BY 1, 2")
        groups = cursor.fetchall()
    assert len(groups) == 1, groups  # one job's lists, never a mixture
    version, size, count = groups[0]
    assert (version, size) in (("job3", 3), ("job5", 5))
    assert count == len(table_rows(snowflake_db, table)) > 1


def test_a_table_locked_past_the_lock_timeout_is_left_unchanged(
    fakesnow: Server, snowflake_db, job, previous_output, tmp_path
):
    holder = hold_table_lock(fakesnow, job["output_table"])
    try:
        run = run_training(tmp_path, {**job, "snowflake_lock_timeout": "1"}, {"SNOWFLAKE_PASSWORD": "pw"})
    finally:
        holder.cursor().execute("ROLLBACK")
    failure = refused(run, "another transaction kept the table locked too long", "left unchanged")
    assert "\n" not in failure.strip()
    assert table_rows(snowflake_db, job["output_table"]) == previous_output
    assert list((tmp_path / "model").iterdir()) == []


def test_a_write_outlasting_snowflake_timeout_completes_within_the_write_limit(
    fakesnow: Server, snowflake_db, job, previous_output, tmp_path
) -> None:
    """Another writer holds the table past snowflake_timeout (5 s): the swap's DELETE waits within its write limit.

    Before, snowflake_timeout was every statement's limit: the connector cancelled the DELETE at 5 s.
    """
    table = job["output_table"]
    settings = {"snowflake_timeout": "5", "snowflake_lock_timeout": "100", "snowflake_write_timeout": "120"}
    holder = hold_table_lock(fakesnow, table)
    process = start_training(tmp_path, {**job, **settings}, {"SNOWFLAKE_PASSWORD": "pw"})
    try:
        deadline = time.monotonic() + 120
        while not any(  # the stand-in still answers "running" for the DELETE well past 5 s
            r["sql"] == f"DELETE FROM {table}" and r["seconds"] > 8
            for r in announced(fakesnow.log.read_text(), "running")
        ):
            assert time.monotonic() < deadline and process.poll() is None, "the job's DELETE should be waiting"
            time.sleep(0.1)
    finally:
        holder.cursor().execute("ROLLBACK")
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "each write statement may run 120 s (snowflake_write_timeout)" in stderr
    assert not any(a["sql"].startswith(f"DELETE FROM {table}") for a in announced(fakesnow.log.read_text(), "abort"))
    rows = table_rows(snowflake_db, table)
    assert len(rows) > 1 and rows != previous_output


def test_a_write_outlasting_its_write_limit_is_cancelled_and_changes_nothing(
    tmp_path, movielens, snowflake_secret, aws_env
) -> None:
    """A warehouse that never gets to the swap's INSERT (the stand-in keeps it queued): the connector cancels it
    at the write limit (15 s, well past snowflake_timeout), the stand-in ends it with Snowflake's error 604, and
    the job fails with one sentence, the table and the model as they were."""
    queued = f"--queue-forever=^INSERT INTO {re.escape(OUTPUT_TABLE)} \\("  # the swap's INSERT names its columns
    data, log = tmp_path / "fakesnow", tmp_path / "fakesnow.log"
    with own_snowflake(data, log, free_port(), movielens, queued) as (server, connection):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {OUTPUT_TABLE} (USERID NUMBER, TOP_10_RECOMMENDATIONS VARIANT)")
            cursor.execute(f"INSERT INTO {OUTPUT_TABLE} SELECT 1, PARSE_JSON('[1, 2, 3]')")
        before = table_rows(connection, OUTPUT_TABLE)
        settings = {"snowflake_timeout": "5", "snowflake_lock_timeout": "3", "snowflake_write_timeout": "15"}
        hyperparameters = secret_job(server, snowflake_secret, n_epochs="2", validation_fraction="0", **settings)
        run = run_training(tmp_path / "job", hyperparameters, aws_env)
        failure = refused(run, f"{OUTPUT_TABLE} was left unchanged.")
        assert failure.strip() == (
            f"Snowflake failed while writing {OUTPUT_TABLE}: the statement was cancelled: it ran longer than the "
            f"client's timeout (or someone cancelled it); {OUTPUT_TABLE} was left unchanged."
        )
        assert table_rows(connection, OUTPUT_TABLE) == before
        aborts = announced(log.read_text(), "abort")
        assert [a["sql"].split(" (")[0] for a in aborts] == [f"INSERT INTO {OUTPUT_TABLE}"]
        assert aborts[0]["seconds"] > 5  # cancelled at the write limit, not at snowflake_timeout
    assert list((tmp_path / "job" / "model").iterdir()) == []


def test_seed_shaped_output_table_is_filled(snowflake_db, job, previous_output, tmp_path) -> None:
    run = run_training(tmp_path, job, {"SNOWFLAKE_PASSWORD": "pw"})
    assert run.returncode == 0, run.stderr
    rows = table_rows(snowflake_db, job["output_table"])
    assert len(rows) > 1 and all(len(row) == 2 for row in rows)
    assert rows != previous_output


@contextlib.contextmanager
def own_snowflake(
    data: Path, log: Path, port: int, movielens: MovieLens, *options: str
) -> Iterator[tuple[Server, SnowflakeConnection]]:
    """A fakesnow server of the test's own (to restart, kill or freeze; started with ``options``), ratings loaded."""
    with fakesnow_server(data, log, port=port, options=options) as server:
        connection = fakesnow_connection(server.port, host=server.host)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.{SCHEMA}")
        load_ratings(connection, INPUT_TABLE, movielens.ratings)
        yield server, connection


def secret_job(server: Server, secret: str, **extra: str) -> dict[str, str]:
    """Hyperparameters of a job on ``server`` that reads its password from the moto secret."""
    return {
        "input_table": INPUT_TABLE,
        "output_table": OUTPUT_TABLE,
        **connection_hyperparameters(server),
        "snowflake_secret_arn": secret,
        "aws_region": "us-east-1",
        **extra,
    }


def test_the_write_survives_the_reading_session_being_gone(tmp_path, movielens, snowflake_secret, aws_env) -> None:
    """Snowflake ends idle sessions: restart the stand-in (every session lost) between read and write."""
    data, port = tmp_path / "fakesnow", free_port()
    with own_snowflake(data, tmp_path / "first.log", port, movielens) as (first, connection):
        connection.close()
        job = start_training(tmp_path / "job", secret_job(first, snowflake_secret), aws_env)
        lines = wait_for_line(job, f"reading {INPUT_TABLE} done")
    # the reading session is gone with the first server; the job is still fitting
    with fakesnow_server(data, tmp_path / "second.log", port=port) as second:
        _, stderr = job.communicate(timeout=300)
        assert job.returncode == 0, "".join(lines) + stderr
        connection = fakesnow_connection(second.port, host=second.host)
        assert len(recommendations(connection, OUTPUT_TABLE)) == movielens.ratings["userId"].nunique()
        connection.close()


def test_losing_snowflake_mid_swap_is_one_sentence_and_changes_nothing(tmp_path, movielens, snowflake_secret, aws_env):
    """The stand-in dies (SIGKILL) while the job's swap waits on its DELETE, and comes back without its sessions."""
    data, port = tmp_path / "fakesnow", free_port()
    with own_snowflake(data, tmp_path / "first.log", port, movielens) as (first, connection):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {OUTPUT_TABLE} (USERID NUMBER, TOP_10_RECOMMENDATIONS VARIANT)")
            cursor.execute(f"INSERT INTO {OUTPUT_TABLE} SELECT 1, PARSE_JSON('[1, 2, 3]')")
        before = table_rows(connection, OUTPUT_TABLE)
        connection.close()
        hold_table_lock(first, OUTPUT_TABLE)
        hyperparameters = secret_job(first, snowflake_secret, n_epochs="2", validation_fraction="0")
        job = start_training(tmp_path / "job", hyperparameters, aws_env)
        deadline = time.monotonic() + 120
        while f'"lock_wait": {{"table": "{OUTPUT_TABLE}"' not in first.log.read_text():
            assert time.monotonic() < deadline and job.poll() is None, "the job should be waiting in its swap"
            time.sleep(0.1)
        first.process.kill()  # mid-swap: the DELETE's answer never comes
        first.process.wait()
    with fakesnow_server(data, tmp_path / "second.log", port=port) as second:
        _, stderr = job.communicate(timeout=300)
        connection = fakesnow_connection(second.port, host=second.host, database=DATABASE, schema=SCHEMA)
        assert table_rows(connection, OUTPUT_TABLE) == before
    assert job.returncode not in (0, None)
    failure = (tmp_path / "job" / "output" / "failure").read_text().strip()
    assert "\n" not in failure and "Traceback" not in stderr, stderr
    assert failure.startswith(f"Snowflake failed while clearing {OUTPUT_TABLE}:"), failure
    assert failure.endswith(f"{OUTPUT_TABLE} was left unchanged."), failure
    assert LOST in failure
    for raw in ("HTTPConnectionPool", "requestId", "Max retries", "250003", "Unauthorized", "query-request"):
        assert raw not in failure


def test_a_snowflake_that_stops_answering_mid_swap_fails_the_job_within_its_timeout(
    fakesnow: Server, snowflake_db, job, previous_output, tmp_path
) -> None:
    """The stand-in is frozen (SIGSTOP) while the job's DELETE waits: no answer, no error, no closed socket."""
    holder = hold_table_lock(fakesnow, job["output_table"])
    # the DELETE's limit, and so its requests' retry window: 5 s + 1 s for the 610 rows; frozen before 3 s pass
    settings = {"snowflake_timeout": "5", "snowflake_lock_timeout": "3"}
    process = start_training(tmp_path, {**job, **settings}, {"SNOWFLAKE_PASSWORD": "pw"})
    try:
        deadline = time.monotonic() + 120
        while fakesnow.log.read_text().count(f'"lock_wait": {{"table": "{job["output_table"]}"') < 1:
            assert time.monotonic() < deadline and process.poll() is None, "the job should be waiting in its swap"
            time.sleep(0.1)
        fakesnow.process.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            _, stderr = process.communicate(timeout=120)
            failed_after = time.monotonic() - frozen_at
        finally:
            fakesnow.process.send_signal(signal.SIGCONT)
    finally:
        if process.poll() is None:
            process.kill()
        holder.cursor().execute("ROLLBACK")
    assert process.returncode not in (0, None) and "Traceback" not in stderr
    failure = (tmp_path / "output" / "failure").read_text().strip()
    assert (
        failure
        == f"Snowflake failed while clearing {job['output_table']}: {LOST}; {job['output_table']} was left unchanged."
    )
    assert failed_after < 30  # the timeout, plus one logout attempt; never a retry of the rollback or cleanup
    assert "Snowflake connector: " in stderr  # its retries, one line each
    assert table_rows(snowflake_db, job["output_table"]) == previous_output


def logins(server: Server) -> list[dict]:
    """What the stand-in's login history shows (one JSON line per login in its log)."""
    lines = server.log.read_text().splitlines()
    return [json.loads(line)["login"] for line in lines if line.startswith('{"login"')]


def test_workload_identity_signs_in_without_any_secret(fakesnow: Server, snowflake_db, job, tmp_path, aws_env):
    """snowflake_auth=wif: the job's AWS role signs in (a signed GetCallerIdentity), no secret is read."""
    hyperparameters = {**job, "snowflake_auth": "wif", "snowflake_host": "localhost"}
    assert "snowflake_secret_arn" not in hyperparameters
    env = {
        **aws_env,
        "AWS_REGION": "us-east-1",
        # the connector sends a workload attestation only to Snowflake hosts; admit the stand-in's
        "SNOWFLAKE_WIF_ALLOWED_HOST_SUFFIXES": "localhost",
    }
    run = run_training(tmp_path, hyperparameters, env)
    assert run.returncode == 0, run.stderr
    assert "credentials: workload identity" in run.stderr
    mine = [entry for entry in logins(fakesnow) if entry["user"] == "SAGEMAKER_SVC"]
    assert mine and mine[-1] == {
        "user": "SAGEMAKER_SVC",
        "authenticator": "WORKLOAD_IDENTITY",
        "provider": "AWS",
        "attested": True,
    }
