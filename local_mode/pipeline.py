"""Local mode: the whole pipeline, end to end, on loopback stand-ins.

Snowflake is the fakesnow server (data kept in ``<workdir>/fakesnow``), AWS is the moto server,
the API Gateway is :class:`LocalApiGateway` in front of the real Lambda handlers, SQL calls to
external functions go through :class:`SnowflakeCaller`, and SageMaker's work -- training jobs
and endpoints -- is done by :class:`LocalSageMaker` with the real training and serve programs.
Every process started here is stopped on success, failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from snowflake.connector import SnowflakeConnection
from snowflake.connector.cursor import SnowflakeCursor

from external_functions.aws import reset_clients
from local_mode.gateway import LocalApiGateway, SnowflakeCaller
from local_mode.sagemaker import ACCOUNT, LocalSageMaker, RuntimeRoute, TrainingRun
from local_mode.standins import Server, fakesnow_connection, fakesnow_server, moto_server, standin_address
from pipeline_shared.credentials import STANDIN_ENV
from pipeline_shared.training_options import NDCG_AT_10, RMSE
from snowflake_sql import templates
from snowflake_sql.load import load_movielens
from snowflake_sql.movielens import MovieLens
from stacks.config import PipelineConfig

REGION = "us-east-1"
MODEL = "movielens"
LOCAL_PASSWORD = "local"  # noqa: S105 -- the stand-in accepts any password; Snowflake itself gets key-pair auth
Print = Callable[[str], None]


@dataclass
class StepClock:
    """Numbered, timed progress lines: ``[3/9] loading MovieLens ... done in 0.4 s``."""

    total: int
    emit: Print
    timings: list[tuple[str, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        number = len(self.timings) + 1
        self.emit(f"\n[{number}/{self.total}] {title}")
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.timings.append((title, elapsed))
        self.emit(f"      done in {elapsed:.1f} s")


@dataclass(frozen=True)
class Names:
    """Fully qualified Snowflake names for this run, from the pipeline config (as the SQL files use)."""

    database: str
    schema: str

    def table(self, name: str) -> str:
        return f"{self.database}.{self.schema}.{name}"


class LocalPipeline:
    """Runs every step of the pipeline against the stand-ins, printing what a user would see."""

    STEPS = 9

    def __init__(self, config: PipelineConfig, data: MovieLens, source: str, workdir: Path, emit: Print) -> None:
        self.config, self.data, self.source, self.workdir, self.emit = config, data, source, workdir, emit
        self.names = Names(config.snowflake.database, config.snowflake.schema)
        self.clock = StepClock(self.STEPS, emit)

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.emit("Local mode: Snowflake -> SageMaker movie recommender, on loopback stand-ins")
        with contextlib.ExitStack() as stack:
            with self.clock.step("starting the stand-ins: fakesnow, moto, SageMaker runtime, API gateway"):
                fakesnow, moto, route, gateway = self._start(stack)
                self.emit(f"      fakesnow {fakesnow.url} (data in {self.workdir / 'fakesnow'}), moto {moto.url}")
                self.emit(f"      API gateway {gateway.url} -> the Lambda handlers (logs: {self.workdir / 'logs'})")
            connection = stack.enter_context(contextlib.closing(self._connect(fakesnow)))
            aws = self._aws(moto, route)
            sagemaker = stack.enter_context(
                LocalSageMaker(
                    aws["sagemaker"], aws["s3"], self.workdir / "sagemaker", route,
                    {k: v for k, v in os.environ.items() if k.startswith("AWS_")},
                    snowflake=standin_address(fakesnow),
                )
            )  # fmt: skip
            caller = SnowflakeCaller(gateway.url)
            summary = self._steps(connection, caller, sagemaker)
        summary["seconds"] = round(time.perf_counter() - started, 1)
        self._report_timings(summary["seconds"])
        return summary

    def _steps(self, connection: SnowflakeConnection, caller: SnowflakeCaller, sagemaker: LocalSageMaker) -> dict:
        ratings_table = self.names.table("RATINGS")
        recs_table = self.names.table(templates.DEFAULT_RECOMMENDATIONS_TABLE)
        with self.clock.step("applying snowflake_sql/ to the stand-in"):
            self._apply_sql(connection)
        with self.clock.step(f"loading MovieLens from {self.source}"):
            counts = load_movielens(
                connection, self.data, database=self.names.database, schema=self.names.schema,
                progress=lambda line: self.emit(f"      {line}"),
            )  # fmt: skip
        with self.clock.step(f"select train_and_get_recommendations('{ratings_table}', '{recs_table}')"):
            first = self._train(caller, sagemaker, ratings_table, recs_table)
        with self.clock.step(f"top-10 recommendations read back from {recs_table}"):
            shown = self._show_recommendations(connection, recs_table)
        with self.clock.step(f"select deploy_model('{MODEL}', 'latest')"):
            deployed = self._deploy(caller, sagemaker)
        with self.clock.step("the seed's query: no_ratings pairs with titles and invoke_model(...)"):
            predictions = self._seed_query(connection, caller)
        with self.clock.step("new ratings arrive: the retraining task's statement runs, then the redeploy"):
            second, redeployed = self._retrain_and_redeploy(connection, caller, sagemaker, ratings_table, recs_table)
        with self.clock.step(f"select pipeline_status(...) for the job and '{MODEL}'"):
            statuses = caller.call("PIPELINE_STATUS", [[second.job_name], [MODEL]])
            for status in statuses:
                detail = status.get("endpoint_config") or ""
                self.emit(f"      {status['kind']:<13} {status['name']:<40} {status['status']:<10} {detail}")
                if status["kind"] == "training_job":
                    for line in describe_metrics(status.get("metrics") or {}):
                        self.emit(f"        {line}")
        return {
            "loaded": counts,
            "training_jobs": [first.job_name, second.job_name],
            "metrics": self._metrics(first),
            "users_shown": shown,
            "deployments": [deployed, redeployed],
            "predictions": predictions,
            "statuses": statuses,
        }

    # -- stand-ins --------------------------------------------------------------------------------

    def _start(self, stack: contextlib.ExitStack) -> tuple[Server, Server, RuntimeRoute, LocalApiGateway]:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        fakesnow = stack.enter_context(fakesnow_server(self.workdir / "fakesnow", logs / "fakesnow.log"))
        moto = stack.enter_context(moto_server(logs / "moto.log"))
        route = stack.enter_context(RuntimeRoute())
        gateway = stack.enter_context(LocalApiGateway(logs / "lambda.log"))
        return fakesnow, moto, route, gateway

    def _connect(self, fakesnow: Server) -> SnowflakeConnection:
        return fakesnow_connection(
            fakesnow.port, host=fakesnow.host, user=self.config.snowflake.user, network_timeout=120
        )

    def _aws(self, moto: Server, route: RuntimeRoute) -> dict[str, Any]:
        """Point boto3 at the stand-ins and give the Lambda handlers the environment CDK would."""
        aws = {
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": route.url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        os.environ.update(aws)
        clients: dict[str, Any] = {name: boto3.client(name) for name in ("sagemaker", "s3", "secretsmanager")}
        bucket = f"{self.config.resource_prefix}-artifacts"
        clients["s3"].create_bucket(Bucket=bucket)
        secret = clients["secretsmanager"].create_secret(
            Name=f"{self.config.resource_prefix}/snowflake", SecretString=json.dumps({"password": LOCAL_PASSWORD})
        )["ARN"]
        environment = self.config.lambda_environment(
            image_uri=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/recommender:local",
            sagemaker_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{self.config.resource_prefix}-sagemaker",
            hosting_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{self.config.resource_prefix}-sagemaker-hosting",
            bucket=bucket,
            secret_arn=secret,
        )
        os.environ.update(environment)
        # The stand-in's password secret is accepted only with this flag (the stack never sets it).
        os.environ[STANDIN_ENV] = "1"
        reset_clients()  # the in-process handlers build their clients for the stand-ins
        return clients

    # -- steps ------------------------------------------------------------------------------------

    def _apply_sql(self, connection: SnowflakeConnection) -> None:
        values = templates.template_values(self.config, model_name=MODEL)
        with connection.cursor() as cursor:
            for path in templates.SQL_FILES:
                rendered = templates.statements(templates.render(path.read_text(), values))
                runnable = [s for s in rendered if _runs_on_the_stand_in(path.name, s)]
                for statement in runnable:
                    cursor.execute(statement)
                skipped = len(rendered) - len(runnable)
                note = f" ({skipped} need Snowflake itself: streams, tasks, external-function calls)" if skipped else ""
                self.emit(f"      {path.name}: {len(runnable)} statements{note}")

    def _train(
        self, caller: SnowflakeCaller, sagemaker: LocalSageMaker, ratings_table: str, recs_table: str
    ) -> TrainingRun:
        [job] = caller.call("TRAIN_AND_GET_RECOMMENDATIONS", [[ratings_table, recs_table]])
        self.emit(f"      -> {json.dumps(job)}")
        self.emit("      SageMaker (local): running the training job's container program ...")
        run = sagemaker.run_training_job(job["training_job_name"])
        if run.returncode != 0:
            raise RuntimeError(f"training job {run.job_name} failed: {run.failure}")
        [status] = caller.call("PIPELINE_STATUS", [[run.job_name]])
        for line in describe_metrics(status.get("metrics") or {}):
            self.emit(f"      {line}")
        self.emit(f"      model at {run.model_artifact}")
        return run

    @staticmethod
    def _metrics(run: TrainingRun) -> dict[str, float]:
        """The metric lines the job printed (what SageMaker's MetricDefinitions capture)."""
        return {name: float(value) for name, value in re.findall(r"^(validation:\w+)=([0-9.]+)$", run.stdout, re.M)}

    def _show_recommendations(self, connection: SnowflakeConnection, recs_table: str, users: int = 3) -> list[int]:
        movies = self.names.table("MOVIES")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*), MIN(MODEL_VERSION) FROM {recs_table}")
            count, version = _one_row(cursor)
            self.emit(f"      {count} users have a top-10 (model {version})")
            cursor.execute(
                f"SELECT r.USERID, f.index + 1 AS RANK, m.TITLE, r.PREDICTED_RATINGS[f.index]::FLOAT "
                f"FROM {recs_table} r, LATERAL FLATTEN(input => r.TOP_10_RECOMMENDATIONS) f "
                f"JOIN {movies} m ON m.MOVIEID = f.value::NUMBER "
                f"WHERE r.USERID IN (SELECT USERID FROM {recs_table} ORDER BY USERID LIMIT {users}) "
                "ORDER BY r.USERID, RANK"
            )
            rows = cursor.fetchall()
        shown = []
        for user, rank, title, predicted in rows:
            if rank == 1:
                shown.append(int(user))
                self.emit(f"      user {user}:")
            self.emit(f"        {rank:>2}. {title[:60]:<60} {predicted:.2f}")
        return shown

    def _deploy(self, caller: SnowflakeCaller, sagemaker: LocalSageMaker, *arguments: Any) -> dict[str, Any]:
        [deployed] = caller.call("DEPLOY_MODEL", [[MODEL, *(arguments or ("latest",))]])
        if deployed["action"] == "refused":
            self.emit(f"      {deployed['message']}")
            return deployed
        sagemaker.sync_endpoints()
        self.emit(
            f"      endpoint {deployed['endpoint_name']} {deployed['action']} with {deployed['endpoint_config_name']} "
            f"(from {deployed['source']}), now served on loopback"
        )
        return deployed

    def _seed_query(self, connection: SnowflakeConnection, caller: SnowflakeCaller, limit: int = 10) -> list[dict]:
        """``select nr.USERID, nr.MOVIEID, m.TITLE, invoke_model(...) from no_ratings nr, movies m ...``.

        The stand-in cannot call external functions, so the query runs without the call and the
        call is made for the rows the way Snowflake makes it: in batches, through the gateway.
        """
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT nr.USERID, nr.MOVIEID, m.TITLE FROM {self.names.table('NO_RATINGS')} nr "
                f"JOIN {self.names.table('MOVIES')} m ON nr.MOVIEID = m.MOVIEID ORDER BY nr.USERID, nr.MOVIEID"
            )
            rows = cursor.fetchall()
        ratings = caller.call("INVOKE_MODEL", [[MODEL, user, movie] for user, movie, _ in rows])
        self.emit(f"      {len(rows)} unrated (user, movie) pairs scored; the first {limit}:")
        self.emit(f"      {'USERID':>6} {'MOVIEID':>7}  {'TITLE':<55} PREDICTED")
        for (user, movie, title), rating in list(zip(rows, ratings, strict=True))[:limit]:
            self.emit(f"      {user:>6} {movie:>7}  {title[:55]:<55} {rating:.2f}")
        return [
            {"userid": int(u), "movieid": int(m), "title": t, "predicted": r}
            for (u, m, t), r in zip(rows, ratings, strict=True)
        ]

    def _retrain_and_redeploy(
        self,
        connection: SnowflakeConnection,
        caller: SnowflakeCaller,
        sagemaker: LocalSageMaker,
        ratings_table: str,
        recs_table: str,
    ) -> tuple[TrainingRun, dict[str, Any]]:
        user = int(self.data.ratings.userId.min())
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ratings_table} SELECT %s, MOVIEID, 5.0, CURRENT_TIMESTAMP()::TIMESTAMP_NTZ "
                f"FROM {self.names.table('MOVIES')} WHERE MOVIEID NOT IN "
                f"(SELECT MOVIEID FROM {ratings_table} WHERE USERID = %s) ORDER BY MOVIEID LIMIT 5",
                (user, user),
            )
            added = _one_row(cursor)[0]
        self.emit(f"      user {user} rated {added} more movies (the stream on RATINGS now has data)")
        self.emit(
            "      task RETRAIN_RECOMMENDER: INSERT INTO RETRAINING_RUNS SELECT ..., train_and_get_recommendations(...)"
        )
        second = self._train(caller, sagemaker, ratings_table, recs_table)
        scoped, guard = f"latest:{recs_table}", {"min_ndcg_gain": 0.0}
        self.emit(f"      task REDEPLOY_RECOMMENDER: deploy_model('{MODEL}', '{scoped}', {guard})")
        redeployed = self._deploy(caller, sagemaker, scoped, guard)
        if redeployed["action"] == "refused":  # held-out figures move a little with every change of the data
            self.emit(f"      an operator who accepts that difference: deploy_model('{MODEL}', '{scoped}')")
            redeployed = self._deploy(caller, sagemaker, scoped)
        [rating] = caller.call("INVOKE_MODEL", [[MODEL, user, int(self.data.movies.movieId.iloc[0])]])
        self.emit(f"      the endpoint kept answering through the switch: invoke_model(...) = {rating:.2f}")
        return second, redeployed

    def _report_timings(self, total: float) -> None:
        self.emit("\nTimings")
        for title, seconds in self.clock.timings:
            self.emit(f"  {seconds:6.1f} s  {title[:90]}")
        self.emit(f"  {total:6.1f} s  in all; every process started here has been stopped")


def _runs_on_the_stand_in(file_name: str, statement: str) -> bool:
    """fakesnow runs plain DDL; streams, tasks and external-function calls need Snowflake itself."""
    text = statement.strip().upper()
    if file_name.startswith("04_"):
        return text.startswith("CREATE TABLE")
    if file_name.startswith("05_"):
        return text.startswith("CREATE OR REPLACE VIEW") or text.startswith("CREATE VIEW")
    return True


def local_config(config: PipelineConfig) -> PipelineConfig:
    """The environment's names, with a resource prefix of its own for local runs."""
    return dataclasses.replace(config, name="local", resource_prefix="movielens-local")


def describe_metrics(metrics: dict[str, float]) -> list[str]:
    """A training job's final metrics as two readable lines (what users see first, then rating error)."""
    lines = []
    if NDCG_AT_10 in metrics:
        lines.append(
            "top-10 on held-out ratings: "
            f"NDCG {metrics[NDCG_AT_10]:.3f}, "
            f"precision {metrics.get('validation:precision_at_10', 0):.3f}, "
            f"recall {metrics.get('validation:recall_at_10', 0):.3f}, "
            f"catalogue coverage {100 * metrics.get('validation:coverage', 0):.1f}%"
        )
    if RMSE in metrics:
        lines.append(
            f"rating error on held-out ratings: RMSE {metrics[RMSE]:.4f}, MAE {metrics.get('validation:mae', 0):.4f}"
        )
    return lines or ["no metrics reported"]


def _one_row(cursor: SnowflakeCursor) -> tuple[Any, ...]:
    """The row of an aggregate or DML statement (Snowflake answers both with exactly one)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"Snowflake answered {cursor.query} with no row.")
    return tuple(row)
