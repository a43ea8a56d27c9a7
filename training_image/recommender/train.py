"""The SageMaker training program: Snowflake ratings in, model and top-k recommendations out.

Steps: read and validate hyperparameters, fetch credentials, read ratings (Arrow), refuse a Surprise
algorithm the container's memory cannot hold, fit the model (the ``algorithm`` for ratings -- SVD by
default -- and EASE for the lists unless ``ranking=predicted_rating``) on a seeded per-user
split and print the ``validation:...=`` metric lines (rating error and top-10 quality), fit on
all ratings, compute every user's top-k, save the model, swap the top-k into the output table.
On failure the reason goes to ``/opt/ml/output/failure`` and stderr, and the exit is non-zero.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_shared import first_line
from pipeline_shared.credentials import (
    CredentialsError,
    fetch_credentials,
    password_secret_allowed,
    workload_identity,
)
from pipeline_shared.settings import WORKLOAD_IDENTITY
from recommender import __version__, ranking
from recommender.config import HyperparameterError, JobConfig, load_hyperparameters
from recommender.ease import RankerError
from recommender.fitting import fit_model
from recommender.memory import memory_left
from recommender.model import ARRAYS_FILE, METADATA_FILE, FactorModel, ModelFormatError
from recommender.paths import OptMl, SystemFiles
from recommender.ratings import Ratings, RatingsError
from recommender.snowflake_io import (
    RecommendationsFile,
    SnowflakeError,
    check_output_table,
    connect,
    read_ratings,
    replace_recommendations,
)
from recommender.surprise_models import check_fits
from recommender.svd import evaluate

log = logging.getLogger("recommender.train")


class Stopped(BaseException):
    """SageMaker is stopping the job (SIGTERM; SIGKILL follows 120 s later)."""


def _stop(signum: int, frame: object) -> None:
    raise Stopped(
        "The job was stopped (SIGTERM) before it finished; nothing was written: the output table and the "
        "previous model stay as they were."
    )


class QualityError(RuntimeError):
    """What the job was about to publish is not sound; nothing was published."""


KEPT = "nothing was written: the output table and the previous model stay as they were."
EXPECTED_ERRORS = (HyperparameterError, CredentialsError, SnowflakeError, RatingsError, RankerError, QualityError)
FAILURE_LIMIT = 1024  # SageMaker keeps this many characters as FailureReason


@contextmanager
def step(name: str) -> Iterator[None]:
    started = time.perf_counter()
    log.info("%s ...", name)
    yield
    log.info("%s done in %.2f s", name, time.perf_counter() - started)


def run(paths: OptMl) -> None:
    """One training job, end to end. Raises one of ``EXPECTED_ERRORS`` on bad input."""
    config = load_hyperparameters(paths.hyperparameters)
    log.info("configuration: %s", config.describe())
    settings = config.snowflake
    if settings.auth == WORKLOAD_IDENTITY:
        # The connector signs for the region it reads from the environment; SageMaker sets none.
        if settings.aws_region:
            os.environ.setdefault("AWS_REGION", settings.aws_region)
        credentials = workload_identity()
    else:  # a password (secret or SNOWFLAKE_PASSWORD) only for a loopback stand-in, RECOMMENDER_LOCAL_STANDIN=1
        credentials = fetch_credentials(
            settings.secret_arn, region=settings.aws_region, allow_password=password_secret_allowed(settings.host)
        )
    log.info("credentials: %s", credentials.kind)
    model_version = os.environ.get("TRAINING_JOB_NAME") or f"local-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"

    # Snowflake ends idle sessions (4 h at most, minutes under a session policy) and a fit can outlast
    # that: one session reads, another one -- opened when the lists are ready -- writes.
    with connect(settings, credentials) as connection:
        check_output_table(connection, config.output_table)
        with step(f"reading {config.input_table}"):
            ratings = read_ratings(connection, config.input_table)
    ratings, left_out = ratings.within(*config.scale)
    if left_out:
        log.warning(
            "left out %d ratings outside the rating scale %g-%g (options rating_min, rating_max)",
            left_out,
            *config.scale,
        )
    if len(ratings) == 0:
        raise RatingsError(
            f"Input table {config.input_table} has no rating from {config.rating_min:g} to {config.rating_max:g}: "
            "set the options rating_min and rating_max to the table's scale."
        )
    log.info(
        "ratings: %d from %d users on %d movies, scale %g-%g",
        len(ratings),
        ratings.n_users,
        ratings.n_items,
        *config.scale,
    )
    left = memory_left(SystemFiles.from_env())
    if left is not None:  # before any fit: a Surprise algorithm that cannot fit is refused in seconds, not hours
        check_fits(ratings, config.model, left)
    metrics = validate(ratings, config)
    with step("fitting the model on all ratings"):
        model = fit_model(ratings, config.model, config.ranking, scale=config.scale)
    try:
        model.check_sound()
    except ModelFormatError as exc:
        raise QualityError(f"The trained model failed its quality gate ({exc}); {KEPT}") from None
    with tempfile.TemporaryDirectory(prefix="recommendations-") as scratch:
        data = write_top_k(model, config.top_k, Path(scratch) / "recommendations.csv")
        # The model is saved before the swap: once the recommendations are replaced, nothing
        # left can fail, so a failed job never leaves new recommendations without its model.
        with step(f"saving the model to {paths.model_dir}"):
            model.save(paths.model_dir, model_metadata(config, ratings, metrics, model_version, left_out))
        log.info("each write statement may run %s", settings.describe_write_limit(data.rows))
        try:
            with step(f"replacing the contents of {config.output_table}"), connect(settings, credentials) as connection:
                limit = settings.write_limit
                rows = replace_recommendations(
                    connection, config.output_table, data, model_version=model_version, write_timeout=limit
                )
        except BaseException:  # not published: leave no model behind either
            for name in (ARRAYS_FILE, METADATA_FILE):
                (paths.model_dir / name).unlink(missing_ok=True)
            raise
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # published: a stop now would only cut the last log line
    log.info("wrote top-%d recommendations for %d users to %s", config.top_k, rows, config.output_table)


def validate(ratings: Ratings, config: JobConfig) -> dict[str, float] | None:
    """Fit on a seeded per-user split and print the holdout metrics (rating error, top-10 quality) for SageMaker.

    Beyond ``validation_users`` users, a random sample of that many users takes part.
    """
    if config.validation_fraction <= 0:
        log.info("validation skipped (validation_fraction=0)")
        return None
    train, holdout = ratings.split_by_user(
        config.validation_fraction, config.model.random_state, max_users=config.validation_users
    )
    if len(holdout) == 0 or len(train) == 0:
        log.warning("validation skipped: too few ratings to hold %s out", config.validation_fraction)
        return None
    sample = "" if ratings.n_users <= config.validation_users else f" (a sample of {config.validation_users} users)"
    with step(f"validating on {len(holdout)} held-out ratings{sample}"):
        model = fit_model(train, config.model, config.ranking, scale=config.scale)
        errors = evaluate(model, holdout)
    metrics = {"validation:rmse": errors.rmse, "validation:mae": errors.mae}
    with step(f"ranking the held-out users' top-{ranking.K}"):
        quality = ranking.ranking_metrics(model, holdout, catalogue=ratings.n_items)
    if quality is not None:
        metrics.update(quality.as_dict())
    for name, value in metrics.items():
        print(f"{name}={value:.6f}", flush=True)
    return metrics


def write_top_k(model: FactorModel, k: int, path: Path) -> RecommendationsFile:
    """Every user's top-k unrated movies, best first, as a CSV ready for bulk loading.

    The quality gate: every list is full -- ``k`` movies, or every ranked movie the user has not
    rated when fewer are left -- and every predicted rating is a finite number on the scale; at
    least one movie is listed. Otherwise :class:`QualityError`, before anything is published.
    """
    data = RecommendationsFile(path)
    capacity = np.minimum(model.list_capacity(), k)
    started, reported = time.perf_counter(), 0.0
    try:
        for first, block in model.iter_all_top_k(k):
            rows = np.arange(first, first + len(block.items))
            listed = block.items >= 0
            predicted = model.predicted_for_lists(rows, block.items)
            _check_lists(model, rows, listed, predicted, capacity[rows])
            movies = model.item_ids[np.maximum(block.items, 0)]
            data.add(model.user_ids[rows], movies, predicted, listed)
            elapsed = time.perf_counter() - started
            if elapsed - reported >= 5 or data.rows == model.n_users:
                reported = elapsed
                log.info("top-%d: %d/%d users (%.1f s)", k, data.rows, model.n_users, elapsed)
    finally:
        data.close()
    if not capacity.any():
        raise QualityError(
            f"No user has a ranked movie left that they have not rated, so every list would be empty; {KEPT}"
        )
    return data


def _check_lists(
    model: FactorModel, rows: np.ndarray, listed: np.ndarray, predicted: np.ndarray, capacity: np.ndarray
) -> None:
    short = np.flatnonzero(listed.sum(axis=1) != capacity)
    if len(short):
        user = int(model.user_ids[rows[short[0]]])
        raise QualityError(
            f"User {user}'s list has {int(listed[short[0]].sum())} movies where {int(capacity[short[0]])} were due "
            f"({len(short)} such users in this block); {KEPT}"
        )
    values = predicted[listed]
    if not (np.isfinite(values).all() and (values >= model.rating_min).all() and (values <= model.rating_max).all()):
        raise QualityError(f"A predicted rating is not a finite number on the rating scale; {KEPT}")


def model_metadata(
    config: JobConfig, ratings: Ratings, metrics: dict[str, float] | None, model_version: str, left_out: int = 0
) -> dict[str, Any]:
    def package(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "model_version": model_version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hyperparameters": {
            **config.model.options(),
            **config.ranking.as_options(),
            "top_k": config.top_k,
            "validation_fraction": config.validation_fraction,
            "validation_users": config.validation_users,
            "rating_min": config.rating_min,
            "rating_max": config.rating_max,
        },
        "algorithm": config.model.algorithm,
        "metrics": metrics,
        "data": {
            "source_table": config.input_table.sql,
            "ratings": len(ratings),
            "users": ratings.n_users,
            "movies": ratings.n_items,
            "left_out_outside_scale": left_out,
            "sha256": ratings.fingerprint(),
        },
        "libraries": {
            "recommender": __version__,
            "python": platform.python_version(),
            **{
                name: package(name)
                for name in ("numpy", "scipy", "numba", "scikit-surprise", "snowflake-connector-python")
            },
        },
    }


def record_failure(paths: OptMl, message: str) -> None:
    """Write the reason where SageMaker reads FailureReason, and to stderr."""
    print(message, file=sys.stderr, flush=True)
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(message[:FAILURE_LIMIT], encoding="utf-8")
    except OSError as exc:
        print(f"could not write {paths.failure_file}: {exc}", file=sys.stderr)


def connector_lines(record: logging.LogRecord) -> bool:
    """The connector logs each retry with a traceback: keep one line per record, which the job's log can hold."""
    if record.name.startswith("snowflake.connector"):
        line = (record.getMessage().strip().splitlines() or [""])[0]
        record.msg, record.args = f"Snowflake connector: {line}", None
        record.exc_info = record.exc_text = record.stack_info = None
    return True


def connector_thread_errors(args: threading.ExceptHookArgs) -> None:
    """The connector's own threads (its cancel timer, say) fail on a lost Snowflake too: one line, no traceback."""
    if args.exc_type.__module__.startswith("snowflake.connector") and args.exc_value is not None:
        log.error("Snowflake connector (%s): %s", getattr(args.thread, "name", "thread"), first_line(args.exc_value))
    else:
        threading.__excepthook__(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="train",
        description=(
            "Train the SVD recommender on a Snowflake ratings table and write every user's "
            "top-k movies back. Reads $OPT_ML/input/config/hyperparameters.json "
            "(OPT_ML defaults to /opt/ml); writes the model to $OPT_ML/model."
        ),
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("snowflake.connector").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(connector_lines)
    threading.excepthook = connector_thread_errors
    paths = OptMl.from_env()
    paths.failure_file.unlink(missing_ok=True)  # a reason left by an earlier local run
    signal.signal(signal.SIGTERM, _stop)  # unwinds: an open swap rolls back, sessions close, the reason is kept
    try:
        with step("training job"):
            run(paths)
    except Stopped as exc:
        record_failure(paths, str(exc))
        return 143
    except EXPECTED_ERRORS as exc:
        record_failure(paths, str(exc))
        return 1
    except Exception as exc:  # the job must always leave a reason behind
        traceback.print_exc()
        record_failure(paths, f"Training failed unexpectedly ({type(exc).__name__}): {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
