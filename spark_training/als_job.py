"""ALS on Spark: ratings in, every user's top-k unrated movies and the holdout RMSE out.

The distributed counterpart of the training image's job (``engine=spark``, see docs/scaling.md),
run by ``spark-submit`` -- on EMR Serverless, one file uploaded as the job's entry point, so it
imports nothing of this project and keeps its own copy of the few rules it shares with the image:

- ratings outside ``[rating_min, rating_max]`` are left out; none left is an error;
- the holdout is per user: ``round(n * validation_fraction)`` of each user's n ratings, seeded;
- each list holds the user's best-scored movies they have **not rated**, ``min(k, unrated)`` of
  them, ties to the lower movie id, predicted ratings clipped to the scale and rounded to 4 places;
  a list that comes up short fails the job before anything is written (the image's quality gate);
- the output table gets ``USERID, TOP_10_RECOMMENDATIONS, PREDICTED_RATINGS, MODEL_VERSION,
  GENERATED_AT`` (the image's columns), written aside and then swapped in whole.

Fit: ``pyspark.ml.recommendation.ALS`` with explicit ratings
(https://spark.apache.org/docs/latest/ml-collaborative-filtering.html). Its ``recommendForUserSubset``
ranks every movie, rated or not, so each user is asked for ``k + (movies they rated)`` -- exact,
because at most that many of the best can be rated -- in two bands so that a few heavy raters do not
make every user's request long.

Snowflake, through the Snowflake Spark connector (format ``snowflake``; options ``sfURL``,
``sfUser``, ``pem_private_key``, ``sfDatabase``, ``sfSchema``, ``sfWarehouse``, ``sfRole``,
``dbtable``, ``postactions``: https://docs.snowflake.com/en/user-guide/spark-connector-use). The
lists are written to a staging table (``<OUTPUT>_SPARK_STAGING``, VARCHAR JSON columns, as the image's
bulk load does), and the connector's ``postactions`` -- run in the same session only after the
write succeeded -- replace the output table's rows with them in one transaction and drop the staging
table: readers see the old lists or the new ones, never a mix, and a failed run leaves the old ones.
DELETE + INSERT rather than ``ALTER TABLE ... SWAP WITH``: a swap moves the table object, and with it
its grants (https://docs.snowflake.com/en/sql-reference/sql/alter-table), where analysts' SELECT
grants on the output table must stay. The private key comes from Secrets Manager, never from the
job's arguments. Locally (tests, no connector jar) :class:`ParquetTables` reads and writes
directories with the same write-aside-then-swap order.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 -- pyspark's own convention

COLUMNS = ("USERID", "MOVIEID", "RATING")
RECOMMENDATIONS_COLUMN = "TOP_10_RECOMMENDATIONS"
OUTPUT_COLUMNS = ("USERID", RECOMMENDATIONS_COLUMN, "PREDICTED_RATINGS", "MODEL_VERSION", "GENERATED_AT")
LIGHT_RATER = 200  # users with at most this many ratings share one request length: k + LIGHT_RATER
MAX_ID = 2**31 - 1  # ALS keeps ids as Spark integers
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}(\.[A-Za-z_][A-Za-z0-9_$]{0,254}){0,2}")


class JobError(RuntimeError):
    """Input the job cannot use; the message names it and what to do. Nothing was written."""


@dataclass(frozen=True)
class AlsSettings:
    """One run's options, already checked by the train Lambda (``pipeline_shared.training_options``)."""

    input_table: str
    output_table: str
    top_k: int = 10
    rank: int = 20
    max_iter: int = 10
    reg_param: float = 0.1
    seed: int = 42
    validation_fraction: float = 0.2
    rating_min: float = 0.5
    rating_max: float = 5.0
    model_version: str = "local"
    blocks: int = 10  # ALS's user and item blocks (Spark's default); 1 for a local test

    def __post_init__(self) -> None:
        for what, name in (("input table", self.input_table), ("output table", self.output_table)):
            if not _TABLE.fullmatch(name):
                raise JobError(f"The {what} {name[:60]!r} is not a plain Snowflake name: use DATABASE.SCHEMA.TABLE.")
        if not self.rating_min < self.rating_max:
            raise JobError(f"rating_min ({self.rating_min}) must be below rating_max ({self.rating_max}).")

    @property
    def staging_table(self) -> str:
        return f"{self.output_table}_SPARK_STAGING"


class Tables(Protocol):
    """Where ratings come from and lists go: Snowflake through the connector, or local files."""

    def read(self, table: str) -> DataFrame: ...

    def replace(self, table: str, staging: str, rows: DataFrame) -> None: ...


def within_scale(ratings: DataFrame, settings: AlsSettings) -> DataFrame:
    """``USERID, MOVIEID, RATING`` on the scale, ids as Spark integers; :class:`JobError` if unusable."""
    columns = {name.upper(): name for name in ratings.columns}
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise JobError(
            f"Input table {settings.input_table} has no column {missing[0]}: it needs USERID, MOVIEID and RATING."
        )
    ratings = ratings.select(*(F.col(columns[c]).alias(c) for c in COLUMNS))
    bounds = ratings.agg(*(F.max(F.abs(F.col(c))).alias(c) for c in COLUMNS[:2])).first()
    for column in COLUMNS[:2]:
        if bounds is not None and bounds[column] is not None and bounds[column] > MAX_ID:
            raise JobError(
                f"Input table {settings.input_table} has {column} values beyond {MAX_ID}, which Spark's ALS cannot "
                "index: renumber them or use the default engine."
            )
    kept = ratings.where(F.col("RATING").between(settings.rating_min, settings.rating_max)).select(
        F.col("USERID").cast("int"), F.col("MOVIEID").cast("int"), F.col("RATING").cast("double")
    )
    if kept.isEmpty():
        raise JobError(
            f"Input table {settings.input_table} has no rating from {settings.rating_min:g} to "
            f"{settings.rating_max:g}: set the options rating_min and rating_max to the table's scale."
        )
    return kept


def split_by_user(ratings: DataFrame, fraction: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """Seeded per-user (train, holdout): ``round(n * fraction)`` of each user's n ratings held out at random."""
    order = Window.partitionBy("USERID").orderBy(F.rand(seed), "MOVIEID")
    numbered = ratings.withColumn("_N", F.row_number().over(order)).withColumn(
        "_HELD", F.bround(F.count("*").over(Window.partitionBy("USERID")) * fraction)
    )
    held = F.col("_N") <= F.col("_HELD")
    return numbered.where(~held).drop("_N", "_HELD"), numbered.where(held).drop("_N", "_HELD")


def fit(ratings: DataFrame, settings: AlsSettings) -> ALSModel:
    """ALS on explicit ratings; users or movies unseen in the fit get no prediction (``coldStartStrategy=drop``)."""
    als = ALS(
        rank=settings.rank,
        maxIter=settings.max_iter,
        regParam=settings.reg_param,
        seed=settings.seed,
        userCol="USERID",
        itemCol="MOVIEID",
        ratingCol="RATING",
        implicitPrefs=False,
        coldStartStrategy="drop",
        numUserBlocks=settings.blocks,
        numItemBlocks=settings.blocks,
    )
    return als.fit(ratings)


def holdout_rmse(ratings: DataFrame, settings: AlsSettings) -> float | None:
    """RMSE of clipped predictions on the per-user holdout of a fit on the rest; None when nothing is held out."""
    if settings.validation_fraction <= 0:
        return None
    train, holdout = split_by_user(ratings, settings.validation_fraction, settings.seed)
    if holdout.isEmpty() or train.isEmpty():
        return None
    predicted = fit(train, settings).transform(holdout).withColumn("prediction", _clipped("prediction", settings))
    if predicted.isEmpty():  # every held-out user or movie was unseen in the fit
        return None
    return RegressionEvaluator(metricName="rmse", labelCol="RATING", predictionCol="prediction").evaluate(predicted)


def top_k(model: ALSModel, ratings: DataFrame, settings: AlsSettings) -> DataFrame:
    """``USERID, MOVIES (array<int>), PREDICTED (array<double>)``: every rating user's top-k unrated movies.

    Best first; ties to the lower movie id; a user who rated every movie gets empty arrays.
    """
    k = settings.top_k
    rated = ratings.groupBy("USERID").agg(F.count("*").alias("RATED")).cache()
    heaviest = (rated.agg(F.max("RATED")).first() or [0])[0] or 0  # one row, even over no users
    bands = [(rated.where(F.col("RATED") <= LIGHT_RATER), k + min(heaviest, LIGHT_RATER))]
    if heaviest > LIGHT_RATER:
        bands.append((rated.where(F.col("RATED") > LIGHT_RATER), k + heaviest))
    candidates = None
    for users, length in bands:
        found = model.recommendForUserSubset(users.select("USERID"), length).select(
            "USERID", F.explode("recommendations").alias("R")
        )
        candidates = found if candidates is None else candidates.unionByName(found)
    assert candidates is not None
    unrated = candidates.select("USERID", F.col("R.MOVIEID").alias("MOVIEID"), F.col("R.rating").alias("SCORE")).join(
        ratings.select("USERID", "MOVIEID"), ["USERID", "MOVIEID"], "left_anti"
    )
    best = Window.partitionBy("USERID").orderBy(F.desc("SCORE"), F.asc("MOVIEID"))
    listed = (
        unrated.withColumn("RANK", F.row_number().over(best))
        .where(F.col("RANK") <= k)
        .withColumn("PREDICTED", F.round(_clipped("SCORE", settings), 4))
        .groupBy("USERID")
        .agg(F.sort_array(F.collect_list(F.struct("RANK", "MOVIEID", "PREDICTED"))).alias("ENTRIES"))
    )
    return rated.join(listed, "USERID", "left").select(
        "USERID",
        F.coalesce(F.col("ENTRIES.MOVIEID"), F.array().cast("array<int>")).alias("MOVIES"),
        F.coalesce(F.col("ENTRIES.PREDICTED"), F.array().cast("array<double>")).alias("PREDICTED"),
    )


def check_lists(lists: DataFrame, ratings: DataFrame, settings: AlsSettings) -> None:
    """The quality gate: each list holds ``min(k, movies the user has not rated)`` movies; else :class:`JobError`."""
    movies = ratings.select("MOVIEID").distinct().count()
    due = ratings.groupBy("USERID").agg(F.least(F.lit(settings.top_k), F.lit(movies) - F.count("*")).alias("DUE"))
    short = lists.join(due, "USERID").where(F.size("MOVIES") != F.col("DUE")).select("USERID", "DUE", "MOVIES")
    first = short.first()
    if first is not None:
        raise JobError(
            f"User {first['USERID']}'s list has {len(first['MOVIES'])} movies where {first['DUE']} were due "
            f"(of {movies} movies); the output table was left as it was."
        )
    if lists.where(F.size("MOVIES") > 0).isEmpty():
        raise JobError("No user has a movie left that they have not rated; the output table was left as it was.")


def output_rows(lists: DataFrame, model_version: str, generated_at: datetime) -> DataFrame:
    """The staging table's rows: ids, the two lists as JSON text, the model version and time (as text)."""
    return lists.select(
        F.col("USERID").cast("long").alias("USERID"),
        F.to_json("MOVIES").alias("RECOMMENDATIONS"),
        F.to_json("PREDICTED").alias("PREDICTED_RATINGS"),
        F.lit(model_version).alias("MODEL_VERSION"),
        F.lit(generated_at.strftime("%Y-%m-%d %H:%M:%S")).alias("GENERATED_AT"),
    )


def replace_statements(table: str, staging: str) -> list[str]:
    """The SQL that makes the staged rows the whole of ``table`` in one transaction, then drops the staging table.

    Both names are plain identifiers (checked by :class:`AlsSettings`), never caller text in quotes.
    """
    for name in (table, staging):
        if not _TABLE.fullmatch(name):
            raise JobError(f"{name[:60]!r} is not a plain Snowflake table name.")
    columns = ", ".join(OUTPUT_COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} (USERID NUMBER, {RECOMMENDATIONS_COLUMN} VARIANT, "
        "PREDICTED_RATINGS VARIANT, MODEL_VERSION VARCHAR, GENERATED_AT TIMESTAMP_NTZ)",
        "BEGIN",
        f"DELETE FROM {table}",
        f"INSERT INTO {table} ({columns}) SELECT USERID, PARSE_JSON(RECOMMENDATIONS), PARSE_JSON(PREDICTED_RATINGS), "
        f"MODEL_VERSION, GENERATED_AT::TIMESTAMP_NTZ FROM {staging}",
        "COMMIT",
        f"DROP TABLE IF EXISTS {staging}",
    ]


@dataclass(frozen=True)
class SnowflakeTables:
    """Snowflake through the Snowflake Spark connector (``net.snowflake:spark-snowflake`` on the classpath)."""

    spark: SparkSession
    options: dict[str, str]

    @classmethod
    def connect(
        cls,
        spark: SparkSession,
        *,
        account: str,
        user: str,
        private_key_pem: str,
        database: str,
        schema: str,
        warehouse: str,
        role: str | None = None,
    ) -> SnowflakeTables:
        """Connector options for key-pair sign-in; ``pem_private_key`` is the key's base64 body, one line."""
        body = "".join(line for line in private_key_pem.strip().splitlines() if not line.startswith("-----"))
        options = {
            "sfURL": f"{account}.snowflakecomputing.com",
            "sfUser": user,
            "pem_private_key": body,
            "sfDatabase": database,
            "sfSchema": schema,
            "sfWarehouse": warehouse,
        }
        if role:
            options["sfRole"] = role
        return cls(spark, options)

    def __repr__(self) -> str:  # the options hold the private key
        return f"SnowflakeTables(user={self.options.get('sfUser')!r})"

    def read(self, table: str) -> DataFrame:
        return self.spark.read.format("snowflake").options(**self.options).option("dbtable", table).load()

    def replace(self, table: str, staging: str, rows: DataFrame) -> None:
        (
            rows.write.format("snowflake")
            .options(**self.options)
            .option("dbtable", staging)
            .option("postactions", ";".join(replace_statements(table, staging)))
            .mode("overwrite")
            .save()
        )


@dataclass(frozen=True)
class ParquetTables:
    """Tables as Parquet directories under ``root`` (``root/<TABLE NAME>``): the local stand-in for Snowflake.

    ``replace`` writes the staging directory whole, then swaps it in: the old table is renamed
    aside and removed only after the new one took its name.
    """

    spark: SparkSession
    root: Path

    def read(self, table: str) -> DataFrame:
        path = self.root / table
        if not path.exists():
            raise JobError(f"Input table {table} does not exist under {self.root}: write it there first.")
        return self.spark.read.parquet(str(path))

    def replace(self, table: str, staging: str, rows: DataFrame) -> None:
        target, aside = self.root / table, self.root / f"{staging}.{uuid.uuid4().hex}"
        rows.write.mode("overwrite").parquet(str(self.root / staging))
        old = self.root / f"{table}.old.{uuid.uuid4().hex}"
        if target.exists():
            target.rename(old)
        (self.root / staging).rename(aside)
        aside.rename(target)
        shutil.rmtree(old, ignore_errors=True)


def run(spark: SparkSession, tables: Tables, settings: AlsSettings) -> dict[str, float]:
    """One job: read, validate on the holdout, fit on all ratings, check every list, replace the output table."""
    ratings = within_scale(tables.read(settings.input_table), settings).cache()
    metrics: dict[str, float] = {}
    rmse = holdout_rmse(ratings, settings)
    if rmse is not None:
        metrics["validation:rmse"] = rmse
        print(f"validation:rmse={rmse:.6f}", flush=True)
    model = fit(ratings, settings)
    lists = top_k(model, ratings, settings).cache()
    check_lists(lists, ratings, settings)
    tables.replace(
        settings.output_table,
        settings.staging_table,
        output_rows(lists, settings.model_version, datetime.now(UTC)),
    )
    metrics["users"] = float(lists.count())
    return metrics


def private_key_from_secret(secret_arn: str, region: str | None) -> str:
    """The PEM in the Secrets Manager secret (PEM text, or JSON with ``private_key``); never logged."""
    import boto3  # on EMR's images; only the real run needs it

    text = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_arn)["SecretString"]
    if not text.strip().startswith("-----BEGIN"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("private_key"), str):
            raise JobError(f"Secret {secret_arn} holds no PEM private key: store the Snowflake user's RSA key in it.")
        if document.get("private_key_passphrase"):
            raise JobError(
                f"Secret {secret_arn} holds an encrypted key, which the Spark connector's pem_private_key cannot "
                "take: store the unencrypted PKCS#8 PEM."
            )
        text = document["private_key"]
    return text


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fit ALS on Snowflake ratings and write every user's top-k back.")
    parser.add_argument("--input-table", required=True)
    parser.add_argument("--output-table", required=True)
    for name, kind, default in (
        ("top-k", int, 10),
        ("rank", int, 20),
        ("max-iter", int, 10),
        ("reg-param", float, 0.1),
        ("seed", int, 42),
        ("validation-fraction", float, 0.2),
        ("rating-min", float, 0.5),
        ("rating-max", float, 5.0),
    ):
        parser.add_argument(f"--{name}", type=kind, default=default)
    parser.add_argument("--model-version", default="spark")
    parser.add_argument("--local-dir", type=Path, help="read and write Parquet tables here instead of Snowflake")
    for name in ("account", "user", "role", "warehouse", "database", "schema", "secret-arn", "region"):
        parser.add_argument(f"--snowflake-{name}")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(sys.argv[1:] if argv is None else argv)
    spark = SparkSession.builder.appName(f"recommender-als-{args.model_version}").getOrCreate()
    try:
        settings = AlsSettings(
            input_table=args.input_table,
            output_table=args.output_table,
            top_k=args.top_k,
            rank=args.rank,
            max_iter=args.max_iter,
            reg_param=args.reg_param,
            seed=args.seed,
            validation_fraction=args.validation_fraction,
            rating_min=args.rating_min,
            rating_max=args.rating_max,
            model_version=args.model_version,
        )
        tables: Tables
        if args.local_dir:
            tables = ParquetTables(spark, args.local_dir)
        else:
            needed = {"account": args.snowflake_account, "user": args.snowflake_user}
            needed |= {"secret-arn": args.snowflake_secret_arn, "warehouse": args.snowflake_warehouse}
            needed |= {"database": args.snowflake_database, "schema": args.snowflake_schema}
            missing = [name for name, value in needed.items() if not value]
            if missing:
                raise JobError(f"--snowflake-{missing[0]} is missing: give it, or --local-dir for local tables.")
            tables = SnowflakeTables.connect(
                spark,
                account=args.snowflake_account,
                user=args.snowflake_user,
                private_key_pem=private_key_from_secret(args.snowflake_secret_arn, args.snowflake_region),
                database=args.snowflake_database,
                schema=args.snowflake_schema,
                warehouse=args.snowflake_warehouse,
                role=args.snowflake_role,
            )
        metrics = run(spark, tables, settings)
    except JobError as exc:
        print(f"recommender-als: {exc}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    print(f"wrote top-{settings.top_k} lists for {int(metrics['users'])} users to {settings.output_table}", flush=True)
    return 0


def _clipped(column: str, settings: AlsSettings) -> Any:
    return F.least(F.greatest(F.col(column), F.lit(settings.rating_min)), F.lit(settings.rating_max))


if __name__ == "__main__":
    sys.exit(main())
