"""The external-function Lambdas against moto, with real serve processes behind the endpoints.

Handlers are called in-process with API Gateway proxy events shaped like Snowflake's calls.
boto3 reaches moto through ``AWS_ENDPOINT_URL`` and the local SageMaker-runtime route through
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``; no code of ours is replaced. Where a refusal moto cannot
produce is needed (IAM's AccessDenied, say), :func:`aws_refuses` answers one operation with AWS's
error document at the HTTP edge of the handlers' own client (botocore's ``before-send`` event).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from external_functions import aws, handlers, log_retention, scoring
from external_functions.training import METRICS
from local_mode.sagemaker import PING_FAILED, LocalSageMaker, RuntimeRoute, report_endpoint, report_training_job
from local_mode.snowflake_calls import answer_values, proxy_event
from local_mode.standins import LoopbackHttpServer, QuietHandler, standin_address
from pipeline_shared.catalogue import BY_PATH
from tests.conftest import DATABASE, SCHEMA
from tests.integration.conftest import (
    BUCKET,
    IMAGE,
    INPUT_TABLE,
    OUTPUT_TABLE,
    PREFIX,
    ROLE,
    TrainedJob,
    connection_hyperparameters,
)
from tests.support.training_jobs import training_job_names

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sent_requests(lambda_env: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every SageMaker API call the Lambdas send, as (operation, parameters), seen on the wire side."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    aws.sagemaker().meta.events.register("provide-client-params.sagemaker.*", record)
    return calls


@pytest.fixture(scope="module")
def local_sagemaker(lambda_env, route: RuntimeRoute, aws_client, tmp_path_factory) -> Iterator[LocalSageMaker]:
    env = {k: v for k, v in lambda_env.items() if k.startswith("AWS_")}
    with LocalSageMaker(
        aws_client("sagemaker"), aws_client("s3"), tmp_path_factory.mktemp("local-sagemaker"), route, env
    ) as local:
        yield local


def call(handler: Any, function: str, rows: list[list[Any]], **kwargs: Any) -> dict[str, Any]:
    return handler(proxy_event(function, rows, **kwargs), None)


def values(handler: Any, function: str, rows: list[list[Any]], **kwargs: Any) -> list[Any]:
    return answer_values(call(handler, function, rows, **kwargs))


def log_lines(capsys) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@contextlib.contextmanager
def aws_refuses(client: Any, operation: str, code: str, message: str, *, status: int = 400) -> Iterator[str]:
    """``client``'s ``operation`` answered with AWS's JSON error document; yields the answer's request id."""
    rid = str(uuid.uuid4())
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"x-amzn-RequestId": rid, "x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}

    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, headers, _Body(body))

    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, answer)
    try:
        yield rid
    finally:
        client.meta.events.unregister(event, answer)


def upload_model(trained_job: TrainedJob, aws_client, tmp_path_factory, name: str) -> str:
    """The trained model, packed as SageMaker packs /opt/ml/model, in the pipeline's bucket under ``name``."""
    archive = tmp_path_factory.mktemp("artifact") / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted((trained_job.run.opt_ml / "model").iterdir()):
            tar.add(path, arcname=path.name)
    key = f"{PREFIX}/models/{name}/output/model.tar.gz"
    aws_client("s3").upload_file(str(archive), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


@pytest.fixture(scope="module")
def model_uri(trained_job: TrainedJob, aws_client, tmp_path_factory) -> str:
    return upload_model(trained_job, aws_client, tmp_path_factory, "manual")


@pytest.fixture(scope="module")
def newer_model_uri(trained_job: TrainedJob, aws_client, tmp_path_factory) -> str:
    """A second artifact (as a later training job would produce)."""
    return upload_model(trained_job, aws_client, tmp_path_factory, "manual-2")


# -- train ------------------------------------------------------------------------------


def test_training_job_has_image_role_hyperparameters_and_metrics(lambda_env, sent_requests, aws_client) -> None:
    options = {"n_epochs": 30, "top_k": 20}
    [job] = values(
        handlers.train_handler,
        "train_and_get_recommendations",
        [["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.RECS", options]],
        batch_id="batch-train-1",
    )
    assert job["training_job_name"].startswith(f"{PREFIX}-train-")
    assert job["status"] in ("InProgress", "Completed")
    described = aws_client("sagemaker").describe_training_job(TrainingJobName=job["training_job_name"])
    assert described["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert described["RoleArn"] == ROLE
    hyperparameters = described["HyperParameters"]
    assert hyperparameters["input_table"] == "MOVIELENS.PUBLIC.RATINGS"
    assert hyperparameters["output_table"] == "MOVIELENS.PUBLIC.RECS"
    assert hyperparameters["n_epochs"] == "30" and hyperparameters["top_k"] == "20"
    # the rating model and the ranker are named even when defaulted, so pipeline_status can say what wrote a table
    assert (hyperparameters["algorithm"], hyperparameters["ranking"]) == ("svd", "graded_ease")
    assert hyperparameters["snowflake_secret_arn"] == lambda_env["SNOWFLAKE_SECRET_ARN"]
    assert all(isinstance(v, str) for v in hyperparameters.values())
    assert described["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/{PREFIX}/models/"
    # the stand-in keeps the caller's MetricDefinitions, as SageMaker does
    [sent] = [params for operation, params in sent_requests if operation == "CreateTrainingJob"]
    assert (
        described["AlgorithmSpecification"]["MetricDefinitions"] == sent["AlgorithmSpecification"]["MetricDefinitions"]
    )
    metrics = {m["Name"]: m["Regex"] for m in described["AlgorithmSpecification"]["MetricDefinitions"]}
    assert set(metrics) == {
        "validation:rmse",
        "validation:mae",
        "validation:precision_at_10",
        "validation:recall_at_10",
        "validation:ndcg_at_10",
        "validation:coverage",
    }
    assert re.search(metrics["validation:ndcg_at_10"], "validation:ndcg_at_10=0.034512")[1] == "0.034512"
    assert json.dumps(sent).find("private_key") == -1


def test_same_batch_twice_starts_one_job(lambda_env, aws_client) -> None:
    rows = [["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.RECS"], ["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.R2"]]
    first = values(handlers.train_handler, "train_and_get_recommendations", rows, batch_id="batch-retry")
    again = values(handlers.train_handler, "train_and_get_recommendations", rows, batch_id="batch-retry")
    assert [j["training_job_name"] for j in first] == [j["training_job_name"] for j in again]
    assert len({j["training_job_name"] for j in first}) == 2
    listed = training_job_names(aws_client("sagemaker"), NameContains=f"{PREFIX}-train-")
    assert sum(name in {r["training_job_name"] for r in first} for name in listed) == 2


def test_rows_writing_one_table_start_one_job(lambda_env, aws_client) -> None:
    """Two jobs swapping one table would race: a batch naming the same output table twice starts one."""
    rows = [
        ["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.SAME"],
        ["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.OTHER"],
        ["MOVIELENS.PUBLIC.RATINGS_V2", "movielens.public.same"],
    ]
    before = set(training_job_names(aws_client("sagemaker")))
    answers = values(handlers.train_handler, "train_and_get_recommendations", rows, batch_id="batch-one-writer")
    assert answers[0] == answers[2] and answers[0]["training_job_name"] != answers[1]["training_job_name"]
    after = set(training_job_names(aws_client("sagemaker")))
    assert len(after - before) == 2


def test_unsafe_table_name_starts_nothing(lambda_env, aws_client) -> None:
    before = len(training_job_names(aws_client("sagemaker")))
    rows = [["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.RECS"], ["x; drop table y", "MOVIELENS.PUBLIC.RECS"]]
    response = call(handlers.train_handler, "train_and_get_recommendations", rows)
    assert response["statusCode"] == 400
    assert response["body"].startswith("Row 1:") and "drop table" not in response["body"]
    assert len(training_job_names(aws_client("sagemaker"))) == before


# -- deploy -----------------------------------------------------------------------------


def test_deploy_then_redeploy_updates_the_endpoint(
    lambda_env, model_uri: str, newer_model_uri: str, aws_client, sent_requests
) -> None:
    [created] = values(handlers.deploy_handler, "deploy_model", [["Redeployed", model_uri]], batch_id="deploy-1")
    assert created["action"] == "created" and created["endpoint_name"] == f"{PREFIX}-redeployed"
    [updated] = values(handlers.deploy_handler, "deploy_model", [["redeployed", newer_model_uri]], batch_id="deploy-2")
    assert updated["action"] == "updated"
    assert updated["endpoint_config_name"] != created["endpoint_config_name"]
    assert updated["previous_endpoint_config_name"] == created["endpoint_config_name"]
    sagemaker = aws_client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=f"{PREFIX}-redeployed")
    assert endpoint["EndpointConfigName"] == updated["endpoint_config_name"]
    assert endpoint["EndpointStatus"] == "InService"
    updates = [p for op, p in sent_requests if op == "UpdateEndpoint"]
    assert updates[-1] == {
        "EndpointName": f"{PREFIX}-redeployed",
        "EndpointConfigName": updated["endpoint_config_name"],
    }
    config = sagemaker.describe_endpoint_config(EndpointConfigName=updated["endpoint_config_name"])
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.m5.large" and variant["InitialInstanceCount"] == 1
    tags = sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]
    assert {"Key": "recommender:pipeline", "Value": PREFIX} in tags
    # a Snowflake retry, or a later deploy of the same artifact, converges instead of rolling the endpoint
    for batch in ("deploy-2", "deploy-3"):
        [again] = values(handlers.deploy_handler, "deploy_model", [["redeployed", newer_model_uri]], batch_id=batch)
        assert again["action"] == "unchanged" and again["endpoint_config_name"] == updated["endpoint_config_name"]


def test_latest_resolves_to_the_newest_completed_job(lambda_env, aws_client) -> None:
    """Jobs are InProgress until they end (as in SageMaker); a newer failed job is passed over."""
    logs, jobs = aws_client("logs"), []
    for i, outcome in enumerate(("Completed", "Completed", "Failed")):
        [job] = values(
            handlers.train_handler, "train_and_get_recommendations", [["A.B.R", "A.B.O"]], batch_id=f"latest-{i}"
        )
        assert job["status"] == "InProgress" and "note" not in job
        report_training_job(logs, job["training_job_name"], outcome)
        jobs.append(job["training_job_name"])
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["newest", "latest"]], batch_id="deploy-latest")
    assert deployed["source"] == jobs[1]
    sagemaker = aws_client("sagemaker")
    artifact = sagemaker.describe_training_job(TrainingJobName=jobs[1])["ModelArtifacts"]["S3ModelArtifacts"]
    assert deployed["model_data"] == artifact


def test_a_running_job_is_returned_instead_of_a_second_writer_of_its_table(lambda_env, aws_client) -> None:
    [first] = values(handlers.train_handler, "train_and_get_recommendations", [["A.B.R", "A.B.ONE"]], batch_id="one-0")
    later = [["A.B.R2", "a.b.one"], ["A.B.R", "A.B.TWO"]]  # the same table as Snowflake resolves it; another table
    again, other = values(handlers.train_handler, "train_and_get_recommendations", later, batch_id="one-1")
    assert again["training_job_name"] == first["training_job_name"] and again["status"] == "InProgress"
    assert "A.B.ONE is already running" in again["note"]
    assert other["training_job_name"] != first["training_job_name"] and "note" not in other
    report_training_job(aws_client("logs"), first["training_job_name"], "Failed", failure_reason="AlgorithmError: x")
    [after] = values(handlers.train_handler, "train_and_get_recommendations", [["A.B.R", "A.B.ONE"]], batch_id="one-2")
    assert after["training_job_name"] not in (first["training_job_name"], other["training_job_name"])
    report_training_job(aws_client("logs"), other["training_job_name"], "Completed")
    report_training_job(aws_client("logs"), after["training_job_name"], "Completed")


def test_a_tuning_jobs_best_training_job_is_deployed(
    lambda_env, local_sagemaker, aws_client, fakesnow, snowflake_db, snowflake_secret
) -> None:
    """deploy_model(m, '<tuning job>'): local mode runs the tuning job's training jobs; its best one is served."""
    sagemaker, name = aws_client("sagemaker"), f"{PREFIX}-tune-0123456789ab"
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:ndcg_at_10"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "n_factors", "MinValue": "5", "MaxValue": "40"}],
                "ContinuousParameterRanges": [
                    {"Name": "reg_all", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"}
                ],
            },
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {
                "input_table": INPUT_TABLE,
                "output_table": f"{DATABASE}.{SCHEMA}.TUNED_RECS",
                **connection_hyperparameters(fakesnow),
                "snowflake_secret_arn": snowflake_secret,
                "aws_region": "us-east-1",
                "n_epochs": "3",
            },
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": METRICS,
            },
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{PREFIX}/models/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        Tags=[{"Key": "recommender:pipeline", "Value": PREFIX}],
    )
    too_soon = call(handlers.deploy_handler, "deploy_model", [["tuned", name]])
    assert too_soon["statusCode"] == 400 and "is InProgress and has no best training job yet" in too_soon["body"]
    best = local_sagemaker.run_tuning_job(name)
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["BestTrainingJob"]["TrainingJobName"] == best and best.startswith(f"{name}-")
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["tuned", name]], batch_id="deploy-tuned")
    assert deployed["source"] == best
    artifact = sagemaker.describe_training_job(TrainingJobName=best)["ModelArtifacts"]["S3ModelArtifacts"]
    assert deployed["model_data"] == artifact
    assert f"{PREFIX}-tuned" in local_sagemaker.sync_endpoints()


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([["movielens", "s3://some-other-bucket/model.tar.gz"]], "under s3://recsys-artifacts/recsys/models/"),
        # the hosting role may read only <prefix>/models/: SageMaker could not load it from elsewhere in the bucket
        (
            [["movielens", "s3://recsys-artifacts/recsys/elsewhere/model.tar.gz"]],
            "under s3://recsys-artifacts/recsys/models/",
        ),
        ([["movielens", "recsys-train-000000000000"]], "no training job named"),
        ([["movielens", "someone-elses-job"]], "nor a tuning job (recsys-tune-...) of this pipeline"),
        ([["movielens", "recsys-tune-000000000000"]], "there is no tuning job named recsys-tune-000000000000"),
        # SageMaker's ResourceNotFound reads "can't find": the code decides, not the wording
        ([["movielens", "recsys-tune-missing"]], "there is no tuning job named recsys-tune-missing."),
        ([["bad_name!", "latest"]], "model name must be"),
        ([["movielens", None]], "model_ref must be"),
    ],
)
def test_deploy_rejects_bad_references(lambda_env, rows, fragment: str) -> None:
    response = call(handlers.deploy_handler, "deploy_model", rows)
    assert response["statusCode"] == 400
    assert fragment in response["body"] and response["body"].startswith("Row 0:")


# -- invoke and recommend, answered by real serve processes ------------------------------


@pytest.fixture(scope="module")
def two_models(lambda_env, model_uri: str, local_sagemaker: LocalSageMaker) -> list[str]:
    values(handlers.deploy_handler, "deploy_model", [["movielens", model_uri], ["second", model_uri]])
    local_sagemaker.sync_endpoints()
    return ["movielens", "second"]


def test_invoke_batch_mixing_models_keeps_rows_in_place(two_models, trained_job: TrainedJob) -> None:
    model = trained_job.model
    rng = np.random.default_rng(11)
    n = 3000
    users, movies = rng.choice(model.user_ids, n), rng.choice(model.item_ids, n)
    rows: list[list[Any]] = [
        [two_models[i % 2], int(u), str(m)] for i, (u, m) in enumerate(zip(users, movies, strict=True))
    ]
    rows[5] = ["movielens", None, 1]
    rows[7] = [None, 1, 1]
    answer = values(handlers.invoke_handler, "invoke_model", rows, first_row=40)
    expected = model.predict(users, movies)
    assert answer[5] is None and answer[7] is None
    keep = [i for i in range(n) if i not in (5, 7)]
    np.testing.assert_allclose([answer[i] for i in keep], expected[keep], atol=5e-5)


def test_invoke_single_row_uncompressed(two_models, trained_job: TrainedJob) -> None:
    user, movie = int(trained_job.model.user_ids[3]), int(trained_job.model.item_ids[8])
    [rating] = values(handlers.invoke_handler, "invoke_model", [["MovieLens", user, movie]], compress=False)
    assert rating == pytest.approx(float(trained_job.model.predict([user], [movie])[0]), abs=5e-5)


def test_recommend_matches_the_model(two_models, trained_job: TrainedJob) -> None:
    users = [int(u) for u in trained_job.model.user_ids[:25]]
    rows = [["movielens", u, 5] for u in users] + [["second", users[0], None], ["movielens", None, 5]]
    answer = values(handlers.recommend_handler, "recommend", rows)
    assert answer[:25] == trained_job.model.recommend(np.array(users), 5)
    assert answer[25] == trained_job.model.recommend(np.array(users[:1]), 10)[0]
    assert answer[26] is None


def test_recommend_from_the_endpoint_is_the_list_the_table_holds(
    two_models, trained_job: TrainedJob, snowflake_db
) -> None:
    """recommend(model, user, 10) through API Gateway, Lambda, SageMaker runtime and the serve process, every user."""
    with snowflake_db.cursor() as cursor:
        cursor.execute(
            f"SELECT USERID, TOP_10_RECOMMENDATIONS FROM {OUTPUT_TABLE} WHERE MODEL_VERSION = %s ORDER BY USERID",
            (trained_job.metadata["model_version"],),
        )
        stored = [(int(user), json.loads(movies)) for user, movies in cursor.fetchall()]
    assert len(stored) == trained_job.model.n_users  # the table still holds this model's lists
    answer = values(handlers.recommend_handler, "recommend", [["movielens", user, 10] for user, _ in stored])
    assert answer == [movies for _, movies in stored]


def test_10000_shuffled_rows_are_each_answered_by_one_deployed_model(two_models, trained_job) -> None:
    """Issue 22 reported rows after about 5,400 answered "no model named 'movielens' is deployed". Every row is the
    serve process's answer for its own user (and movie), in batches as Snowflake sends them: invoke_model's
    10,000 rows in one (MAX_BATCH_ROWS 20,000), recommend's in batches of its MAX_BATCH_ROWS."""
    model = trained_job.model
    rng = np.random.default_rng(22)
    users, movies = rng.choice(model.user_ids, 10_000), rng.choice(model.item_ids, 10_000)
    order = rng.permutation(10_000)
    users, movies = users[order], movies[order]
    pairs = [["movielens", int(u), int(m)] for u, m in zip(users, movies, strict=True)]
    rated = values(handlers.invoke_handler, "invoke_model", pairs)
    np.testing.assert_allclose(rated, model.predict(users, movies), atol=5e-5)
    per_batch, lists = BY_PATH["recommend"].max_batch_rows, []
    for first in range(0, len(users), per_batch):
        rows = [["movielens", int(u), 10] for u in users[first : first + per_batch]]
        lists += values(handlers.recommend_handler, "recommend", rows, first_row=first)
    assert lists == model.recommend(users, 10)
    # One batch of all 10,000 at k=37 takes two InvokeEndpoint calls (200,000 cells each: 5,405 users, then
    # 4,595): the second model lookup and call must find the same endpoint.
    assert len(users) > scoring.RECOMMEND_CELLS // 37
    lists = values(handlers.recommend_handler, "recommend", [["movielens", int(u), 37] for u in users])
    assert lists == model.recommend(users, 37)


def test_unknown_model_is_a_clear_400(two_models) -> None:
    response = call(handlers.invoke_handler, "invoke_model", [["movielens", 1, 1], ["nosuchmodel", 1, 1]])
    assert response["statusCode"] == 400
    assert (
        response["body"]
        == "Row 1: no model named 'nosuchmodel' is deployed: run deploy_model('nosuchmodel', 'latest') first."
    )


def test_redeploy_switches_serving_without_a_gap(
    two_models, newer_model_uri: str, local_sagemaker, trained_job
) -> None:
    before = local_sagemaker.serving["recsys-movielens"].config
    [updated] = values(handlers.deploy_handler, "deploy_model", [["movielens", newer_model_uri]])
    assert updated["action"] == "updated"
    assert local_sagemaker.sync_endpoints() == ["recsys-movielens"]
    assert local_sagemaker.serving["recsys-movielens"].config == updated["endpoint_config_name"] != before
    user, movie = int(trained_job.model.user_ids[0]), int(trained_job.model.item_ids[0])
    assert values(handlers.invoke_handler, "invoke_model", [["movielens", user, movie]])[0] is not None


# -- status -----------------------------------------------------------------------------


def test_status_of_a_training_job_and_an_endpoint(two_models, lambda_env, local_sagemaker) -> None:
    options = {"algorithm": "baselineonly", "ranking": "ease"}
    [job] = values(
        handlers.train_handler, "train_and_get_recommendations", [["A.B.R", "A.B.S", options]], batch_id="status"
    )
    job_status, endpoint_status, nothing = values(
        handlers.status_handler, "pipeline_status", [[job["training_job_name"]], ["movielens"], [None]]
    )
    assert job_status["kind"] == "training_job" and job_status["status"] == "InProgress" and "ended" not in job_status
    assert job_status["input_table"] == "A.B.R" and job_status["model_artifact"].endswith("model.tar.gz")
    assert (job_status["algorithm"], job_status["ranking"]) == ("BaselineOnly", "ease")  # what wrote A.B.S
    assert endpoint_status["kind"] == "endpoint" and endpoint_status["status"] == "InService"
    assert endpoint_status["model_data"].endswith("model.tar.gz")
    assert nothing is None
    run = local_sagemaker.run_training_job(job["training_job_name"])  # the stack's secret is not in moto
    [failed] = values(handlers.status_handler, "pipeline_status", [[job["training_job_name"]]])
    assert failed["status"] == "Failed" and failed["ended"]
    assert run.failure.startswith(f"Cannot read secret {lambda_env['SNOWFLAKE_SECRET_ARN']} ")
    # SQL callers get SageMaker's reason without ARNs or account ids
    assert failed["failure_reason"] == "AlgorithmError: " + run.failure.replace(
        lambda_env["SNOWFLAKE_SECRET_ARN"], "<arn>"
    )
    assert "123456789012" not in json.dumps(failed) and "arn:" not in failed["failure_reason"]


def test_a_stopped_job_that_never_ran_ends_stopped(lambda_env, local_sagemaker, aws_client) -> None:
    [job] = values(handlers.train_handler, "train_and_get_recommendations", [["A.B.R", "A.B.T"]], batch_id="stop")
    sagemaker = aws_client("sagemaker")
    sagemaker.stop_training_job(TrainingJobName=job["training_job_name"])
    assert sagemaker.describe_training_job(TrainingJobName=job["training_job_name"])["TrainingJobStatus"] == "Stopping"
    with pytest.raises(ClientError, match="in status Stopping"):
        sagemaker.stop_training_job(TrainingJobName=job["training_job_name"])
    time.sleep(0.6)
    assert sagemaker.describe_training_job(TrainingJobName=job["training_job_name"])["TrainingJobStatus"] == "Stopped"
    assert local_sagemaker.run_training_job(job["training_job_name"]).returncode == -1  # never run once stopped


def test_status_of_an_unknown_name(lambda_env) -> None:
    response = call(handlers.status_handler, "pipeline_status", [["no-such-thing"]])
    assert response["statusCode"] == 400
    assert "no training job or deployed model named 'no-such-thing'" in response["body"]


def test_missing_configuration_names_the_variable(lambda_env, monkeypatch) -> None:
    monkeypatch.delenv("TRAINING_IMAGE_URI")
    response = call(handlers.deploy_handler, "deploy_model", [["movielens", "latest"]])
    assert response["statusCode"] == 400
    assert "TRAINING_IMAGE_URI is missing" in response["body"]


def test_local_training_job_runs_the_real_program(
    lambda_env, local_sagemaker, fakesnow, snowflake_db, aws_client
) -> None:
    """A job started by the Lambda runs the training program locally and its model is deployable.

    The Lambda names only the account (issue 23: a forwarded host could point a job anywhere); the
    SageMaker stand-in adds the Snowflake stand-in's address, as local mode does.
    """
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_HOST": fakesnow.host,
            "SNOWFLAKE_PORT": str(fakesnow.port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_DATABASE": "MOVIELENS",
            "SNOWFLAKE_SCHEMA": "PUBLIC",
        }.items():  # fmt: skip  -- host/port/protocol set here must not reach the job
            patch.setenv(key, value)
        patch.delenv("SNOWFLAKE_SECRET_ARN")
        patch.delenv("SNOWFLAKE_ROLE")
        patch.delenv("SNOWFLAKE_WAREHOUSE")
        options = {"n_epochs": 3, "validation_fraction": 0}
        [job] = values(
            handlers.train_handler,
            "train_and_get_recommendations",
            [["MOVIELENS.PUBLIC.RATINGS", "MOVIELENS.PUBLIC.LOCAL_RECS", options]],
        )
    sent = aws_client("sagemaker").describe_training_job(TrainingJobName=job["training_job_name"])["HyperParameters"]
    assert not {"snowflake_host", "snowflake_port", "snowflake_protocol"} & set(sent)
    local_sagemaker.env["SNOWFLAKE_PASSWORD"] = "local"
    local_sagemaker.snowflake = standin_address(fakesnow)
    run = local_sagemaker.run_training_job(job["training_job_name"])
    assert run.returncode == 0, run.stderr[-2000:]
    bucket, key = run.model_artifact.removeprefix("s3://").split("/", 1)
    assert aws_client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    with snowflake_db.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MIN(MODEL_VERSION) FROM MOVIELENS.PUBLIC.LOCAL_RECS")
        assert cursor.fetchone() == (trained_job_users(snowflake_db), job["training_job_name"])


def trained_job_users(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(DISTINCT USERID) FROM MOVIELENS.PUBLIC.RATINGS")
        return cursor.fetchone()[0]


def test_route_answers_like_sagemaker_runtime_for_unknown_endpoints(route: RuntimeRoute) -> None:
    request = urllib.request.Request(f"{route.url}/endpoints/nope/invocations", data=b"1,1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-ErrorType"] == "ValidationError"


def test_serverless_endpoints_by_configuration(lambda_env, model_uri: str, aws_client, monkeypatch) -> None:
    monkeypatch.setenv("ENDPOINT_TYPE", "serverless")
    monkeypatch.setenv("SERVERLESS_MEMORY_MB", "3072")
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["lean", model_uri]])
    config = aws_client("sagemaker").describe_endpoint_config(EndpointConfigName=deployed["endpoint_config_name"])
    variant = config["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
    assert "InstanceType" not in variant


# -- SageMaker as it answers ---------------------------------------------------------------------


def test_the_stand_in_answers_like_sagemaker_right_after_create_endpoint_config(aws_client) -> None:
    """The premise of the retry: a brand-new config is not yet visible to CreateEndpoint."""
    sagemaker = aws_client("sagemaker")
    sagemaker.create_model(ModelName=f"{PREFIX}-ec-model", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    variant = {"VariantName": "AllTraffic", "ModelName": f"{PREFIX}-ec-model", "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=f"{PREFIX}-ec-config", ProductionVariants=[variant])
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find endpoint configuration"):
        sagemaker.create_endpoint(EndpointName=f"{PREFIX}-ec", EndpointConfigName=f"{PREFIX}-ec-config")


def test_deploy_waits_for_a_new_config_to_become_visible(lambda_env, model_uri: str, sent_requests) -> None:
    sent_requests.clear()
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["patient", model_uri]])
    assert deployed["action"] == "created"
    creates = [op for op, _ in sent_requests if op == "CreateEndpoint"]
    assert len(creates) >= 2  # refused while invisible, then accepted: never a 400 to the SQL user


def test_switching_endpoint_type_recreates_the_endpoint(lambda_env, model_uri: str, aws_client, monkeypatch) -> None:
    """UpdateEndpoint cannot switch real-time <-> serverless: the endpoint is deleted, then created anew."""
    [first] = values(handlers.deploy_handler, "deploy_model", [["switch", model_uri]])
    assert first["action"] == "created"
    monkeypatch.setenv("ENDPOINT_TYPE", "serverless")
    [switched] = values(handlers.deploy_handler, "deploy_model", [["switch", model_uri]])
    assert switched["action"] == "recreating"
    assert "cannot switch between real-time and serverless in place" in switched["message"]
    [again] = values(handlers.deploy_handler, "deploy_model", [["switch", model_uri]])  # once it is gone
    assert again["action"] == "created"
    config = aws_client("sagemaker").describe_endpoint_config(EndpointConfigName=again["endpoint_config_name"])
    assert "ServerlessConfig" in config["ProductionVariants"][0]


def test_the_stand_in_refuses_to_switch_endpoint_type_in_place(lambda_env, model_uri, aws_client, monkeypatch):
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["inplace", model_uri]])
    monkeypatch.setenv("ENDPOINT_TYPE", "serverless")
    sagemaker = aws_client("sagemaker")
    variant = {"VariantName": "AllTraffic", "ModelName": deployed["model_name"], "ServerlessConfig": {
        "MemorySizeInMB": 2048, "MaxConcurrency": 5}}  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName=f"{PREFIX}-inplace-srv", ProductionVariants=[variant])
    time.sleep(0.5)  # past the stand-in's visibility delay
    with pytest.raises(sagemaker.exceptions.ClientError, match="between instance-based and serverless"):
        sagemaker.update_endpoint(EndpointName=deployed["endpoint_name"], EndpointConfigName=f"{PREFIX}-inplace-srv")


# -- another pipeline's objects are never touched ----------------------------------------------------


@pytest.fixture(scope="module")
def foreign_endpoint(aws_client) -> str:
    """An endpoint named like this pipeline's but tagged by another one (or made by hand)."""
    sagemaker = aws_client("sagemaker")
    tags = [{"Key": "recommender:pipeline", "Value": "someone-else"}]
    sagemaker.create_model(
        ModelName=f"{PREFIX}-foreign-model", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE, Tags=tags
    )
    variant = {"VariantName": "AllTraffic", "ModelName": f"{PREFIX}-foreign-model", "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=f"{PREFIX}-foreign-config", ProductionVariants=[variant])
    time.sleep(0.5)  # past the stand-in's visibility delay
    sagemaker.create_endpoint(
        EndpointName=f"{PREFIX}-foreign", EndpointConfigName=f"{PREFIX}-foreign-config", Tags=tags
    )
    return f"{PREFIX}-foreign"


def test_deploy_leaves_another_pipelines_endpoint_alone(lambda_env, foreign_endpoint, model_uri, aws_client) -> None:
    answer = call(handlers.deploy_handler, "deploy_model", [["foreign", model_uri]])
    assert answer["statusCode"] == 400
    assert "belongs to another pipeline" in answer["body"] and "choose another model name" in answer["body"]
    endpoint = aws_client("sagemaker").describe_endpoint(EndpointName=foreign_endpoint)
    assert endpoint["EndpointConfigName"] == f"{PREFIX}-foreign-config"  # not updated


def test_invoke_never_calls_another_pipelines_endpoint(lambda_env, foreign_endpoint) -> None:
    answer = call(handlers.invoke_handler, "invoke_model", [["foreign", 1, 2]])
    assert answer["statusCode"] == 400 and "belongs to another pipeline" in answer["body"]


def test_deploy_refuses_another_pipelines_training_job(lambda_env, aws_client) -> None:
    sagemaker = aws_client("sagemaker")
    job = f"{PREFIX}-train-f0e1d2c3b4a5"
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/{PREFIX}/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        Tags=[{"Key": "recommender:pipeline", "Value": "someone-else"}],
    )
    answer = call(handlers.deploy_handler, "deploy_model", [["stolen", job]])
    assert answer["statusCode"] == 400 and f"training job {job} belongs to another pipeline" in answer["body"]
    # and 'latest' passes over it: it is the newest Completed job named like ours, but not ours
    [latest] = values(handlers.deploy_handler, "deploy_model", [["stolen", "latest"]])
    assert latest["source"] != job


# -- SageMaker's own log groups get the stack's retention ---------------------------------------------


def retention(aws_client, group: str) -> int | None:
    groups = aws_client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    [found] = [g for g in groups if g["logGroupName"] == group]
    return found.get("retentionInDays")


def test_a_deployed_endpoints_log_group_gets_the_stacks_retention(lambda_env, model_uri, aws_client, monkeypatch):
    monkeypatch.setenv("LOG_RETENTION_DAYS", "14")
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["logged", model_uri]])
    assert retention(aws_client, f"/aws/sagemaker/Endpoints/{deployed['endpoint_name']}") == 14


def test_the_shared_training_log_group_keeps_a_policy_someone_else_set(lambda_env, aws_client) -> None:
    logs = aws_client("logs")
    group = log_retention.TRAINING_LOG_GROUP
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    values(handlers.train_handler, "train_and_get_recommendations", [["DB.S.RATINGS", "DB.S.RECS_LOGS"]])
    assert retention(aws_client, group) == 7


def test_the_training_log_group_gets_the_retention_when_the_pipeline_creates_it(lambda_env, aws_client) -> None:
    logs = aws_client("logs")
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=log_retention.TRAINING_LOG_GROUP)
    log_retention.keep_training_logs(logs, 30)
    assert retention(aws_client, log_retention.TRAINING_LOG_GROUP) == 30


# -- endpoints SageMaker could not bring up -------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_model_uri(aws_client, tmp_path_factory) -> str:
    """An artifact whose model the serving container refuses at start (garbage where metadata.json should be)."""
    archive = tmp_path_factory.mktemp("broken") / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        garbage = b"{not a model"
        member = tarfile.TarInfo("metadata.json")
        member.size = len(garbage)
        tar.addfile(member, io.BytesIO(garbage))
    key = f"{PREFIX}/models/broken/output/model.tar.gz"
    aws_client("s3").upload_file(str(archive), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def test_a_failed_endpoint_is_deleted_and_created_anew_never_unchanged(
    lambda_env, broken_model_uri, local_sagemaker, aws_client
) -> None:
    """A Failed endpoint accepts only DeleteEndpoint (DescribeEndpoint's EndpointStatus, SageMaker API reference).

    Local mode marks the endpoint Failed, with SageMaker's FailureReason, when its container cannot start;
    deploying the same artifact again used to answer "unchanged" for ever.
    """
    [created] = values(handlers.deploy_handler, "deploy_model", [["broken", broken_model_uri]])
    assert created["action"] == "created"
    assert f"{PREFIX}-broken" not in local_sagemaker.sync_endpoints()
    [status] = values(handlers.status_handler, "pipeline_status", [["broken"]])
    assert status["status"] == "Failed" and status["failure_reason"] == PING_FAILED

    [again] = values(handlers.deploy_handler, "deploy_model", [["broken", broken_model_uri]])
    assert again["action"] == "recreating" and again["endpoint_name"] == f"{PREFIX}-broken"
    assert again["failure_reason"] == PING_FAILED
    assert again["previous_endpoint_config_name"] == created["endpoint_config_name"]
    assert (
        "call deploy_model('broken', ...) again once pipeline_status('broken') no longer finds it" in again["message"]
    )
    with pytest.raises(ClientError, match="Could not find endpoint"):
        aws_client("sagemaker").describe_endpoint(EndpointName=f"{PREFIX}-broken")

    [anew] = values(handlers.deploy_handler, "deploy_model", [["broken", broken_model_uri]])  # once it is gone
    assert anew["action"] == "created" and anew["endpoint_config_name"] == created["endpoint_config_name"]


def damaged_archive(trained_job: TrainedJob, damage: str) -> bytes:
    """The trained model's archive, damaged as named."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted((trained_job.run.opt_ml / "model").iterdir()):
            tar.add(path, arcname=path.name)
        if damage == "parent-member":
            member = tarfile.TarInfo("../escaped.json")
            member.size = 2
            tar.addfile(member, io.BytesIO(b"{}"))
        elif damage == "absolute-symlink":
            member = tarfile.TarInfo("linked.json")
            member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(member)
    whole = buffer.getvalue()
    if damage == "truncated":  # an upload cut off halfway: the gzip stream ends early
        return whole[: len(whole) // 2]
    if damage == "garbage":
        return b"\x00not an archive" * 64
    return whole


@pytest.mark.parametrize("damage", ["truncated", "garbage", "parent-member", "absolute-symlink"])
def test_an_archive_that_cannot_be_unpacked_fails_its_endpoint_and_the_sync_goes_on(
    lambda_env, trained_job, aws_client, local_sagemaker, damage: str
) -> None:
    """SageMaker's FailureReason for such an artifact: "Failed to extract model data archive for container
    "container_1" from URL "s3://...". Please ensure that the object located at the URL is a valid tar.gz
    archive." (aws/deep-learning-containers#569). A truncated archive used to raise EOFError out of the sync."""
    model = f"damaged-{damage}"
    key = f"{PREFIX}/models/{model}/output/model.tar.gz"
    aws_client("s3").put_object(Bucket=BUCKET, Key=key, Body=damaged_archive(trained_job, damage))
    [created] = values(handlers.deploy_handler, "deploy_model", [[model, f"s3://{BUCKET}/{key}"]])
    endpoint = created["endpoint_name"]
    assert endpoint not in local_sagemaker.sync_endpoints()
    assert endpoint not in local_sagemaker.serving
    assert endpoint in local_sagemaker.unservable
    [status] = values(handlers.status_handler, "pipeline_status", [[model]])
    assert status["status"] == "Failed"
    assert status["failure_reason"] == (
        f'Failed to extract model data archive for container "container_1" from URL "s3://{BUCKET}/{key}". '
        "Please ensure that the object located at the URL is a valid tar.gz archive."
    )
    assert endpoint not in local_sagemaker.sync_endpoints()  # the next sync goes on, and leaves it Failed
    assert not (
        local_sagemaker.workdir / "endpoints" / endpoint / created["endpoint_config_name"] / "escaped.json"
    ).exists()


def test_the_stand_in_refuses_to_update_a_failed_endpoint(lambda_env, model_uri, aws_client) -> None:
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["failing", model_uri]])
    report_endpoint(aws_client("logs"), deployed["endpoint_name"], "Failed", PING_FAILED)
    sagemaker = aws_client("sagemaker")
    with pytest.raises(ClientError, match="in status Failed"):
        sagemaker.update_endpoint(EndpointName=deployed["endpoint_name"], EndpointConfigName=deployed["model_name"])


def test_an_endpoint_whose_rollback_failed_is_updated_to_the_wanted_config(
    lambda_env, model_uri, aws_client, sent_requests
) -> None:
    """UpdateRollbackFailed: "in service with a mix of the old and new endpoint configurations"; UpdateEndpoint
    with the wanted config restores it -- even when the endpoint already names that config."""
    [created] = values(handlers.deploy_handler, "deploy_model", [["mixed", model_uri]])
    endpoint = created["endpoint_name"]
    report_endpoint(aws_client("logs"), endpoint, "UpdateRollbackFailed", "Rolling deployment and rollback failed.")
    sent_requests.clear()
    [again] = values(handlers.deploy_handler, "deploy_model", [["mixed", model_uri]])
    assert again["action"] == "updated" and again["status"] == "InService"
    updates = [params for operation, params in sent_requests if operation == "UpdateEndpoint"]
    assert updates == [{"EndpointName": endpoint, "EndpointConfigName": created["endpoint_config_name"]}]
    [settled] = values(handlers.deploy_handler, "deploy_model", [["mixed", model_uri]])
    assert settled["action"] == "unchanged"


# -- the time a batch has ---------------------------------------------------------------------------------


def test_deploy_with_less_time_left_than_one_call_answers_503_and_calls_nothing(
    lambda_env, model_uri, sent_requests
) -> None:
    """The Lambda's remaining time, not only API Gateway's 29 s, bounds the batch; a retry continues."""
    sent_requests.clear()
    short = SimpleNamespace(get_remaining_time_in_millis=lambda: 7000, aws_request_id="late")  # 5.5 s of work
    answer = handlers.deploy_handler(proxy_event("deploy_model", [["late", model_uri]]), short)
    assert answer["statusCode"] == 503, answer["body"]
    assert answer["body"].startswith("deploy_model ran out of time before its next AWS call")
    assert sent_requests == []
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["late", model_uri]])  # Snowflake's retry
    assert deployed["action"] == "created"


# -- AWS's errors reach SQL callers as a code and a request id ------------------------------------------------

ACCOUNT = "123456789012"
REFUSALS = {
    "AccessDeniedException": (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/recsys-deploy-role/recsys-deploy is not authorized to perform: "
        f"sagemaker:CreateModel on resource: arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/recsys-refused because no "
        "identity-based policy allows the sagemaker:CreateModel action"
    ),
    "ValidationException": (
        f"Could not access model data at s3://{BUCKET}/{PREFIX}/models/manual/output/model.tar.gz. Please ensure that "
        f'the role "arn:aws:iam::{ACCOUNT}:role/recsys-sagemaker-hosting" exists and that its trust relationship '
        'policy allows the action "sts:AssumeRole" for the service principal "sagemaker.amazonaws.com".'
    ),
}


@pytest.mark.parametrize("code", REFUSALS)
def test_a_refusal_answers_its_code_and_request_id_and_logs_the_whole_message(
    lambda_env, model_uri, capsys, code
) -> None:
    capsys.readouterr()
    with aws_refuses(aws.sagemaker(), "CreateModel", code, REFUSALS[code]) as rid:
        answer = call(handlers.deploy_handler, "deploy_model", [["refused", model_uri]])
    assert answer["statusCode"] == 400
    body = answer["body"]
    assert f"({code}, AWS request id {rid})" in body
    assert "arn:" not in body and ACCOUNT not in body and "recsys-deploy-role" not in body
    [logged] = [line for line in log_lines(capsys) if line.get("aws_request_id") == rid]
    assert (logged["operation"], logged["error"], logged["aws_message"]) == ("CreateModel", code, REFUSALS[code])


class _CrashingContainer(QuietHandler):
    """A serving container whose every invocation fails (what SageMaker-runtime turns into a ModelError)."""

    def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_body(500, "text/plain", b"the model crashed")


def test_a_model_error_answers_without_the_account_and_console_url(lambda_env, model_uri, route, capsys) -> None:
    """SageMaker's ModelError names the account and a CloudWatch console URL (aws/amazon-sagemaker-examples#1881)."""
    [deployed] = values(handlers.deploy_handler, "deploy_model", [["crashing", model_uri]])
    with LoopbackHttpServer(_CrashingContainer) as container:
        route.register(deployed["endpoint_name"], container.server.server_address[1])
        try:
            capsys.readouterr()
            answer = call(handlers.invoke_handler, "invoke_model", [["crashing", 1, 2]])
        finally:
            route.unregister(deployed["endpoint_name"])
    assert answer["statusCode"] == 400  # the container broke: a retry would repeat it
    body = answer["body"]
    assert body.startswith("Model 'crashing' failed while answering with status 500 (ModelError, AWS request id ")
    assert body.endswith(f"see the log group /aws/sagemaker/Endpoints/{deployed['endpoint_name']}.")
    assert ACCOUNT not in body and "console.aws.amazon.com" not in body
    [logged] = [line for line in log_lines(capsys) if line.get("error") == "ModelError"]
    assert f"in account {ACCOUNT} for more information" in logged["aws_message"]
    assert logged["operation"] == "InvokeEndpoint" and logged["aws_request_id"] in body


# -- a refused retention is logged once, naming what to grant --------------------------------------------------


@pytest.mark.parametrize("action", ["CreateLogGroup", "PutRetentionPolicy"])
def test_a_refused_retention_is_logged_once_per_container_naming_the_action(
    lambda_env, model_uri, newer_model_uri, capsys, action
) -> None:
    model = f"quiet-{action.lower()}"
    group = f"/aws/sagemaker/Endpoints/{PREFIX}-{model}"
    refusal = f"User: arn:aws:sts::{ACCOUNT}:assumed-role/recsys-deploy/fn is not authorized to perform: logs:{action}"
    capsys.readouterr()
    with aws_refuses(aws.logs(), action, "AccessDeniedException", refusal):
        [created] = values(handlers.deploy_handler, "deploy_model", [[model, model_uri]])
        [updated] = values(handlers.deploy_handler, "deploy_model", [[model, newer_model_uri]])
    assert (created["action"], updated["action"]) == ("created", "updated")  # housekeeping never fails the call
    refused = [line for line in log_lines(capsys) if line.get("log_group") == group]
    assert len(refused) == 1, refused
    [line] = refused
    assert (line["level"], line["action"], line["error"]) == ("WARNING", action, "AccessDeniedException")
    assert f"logs:{action}" in line["message"] and f"log-group:{group}:*" in line["message"]
