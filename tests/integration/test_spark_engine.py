"""``engine=spark`` through the real train handler against moto's EMR Serverless (StartJobRun).

A retried batch sends StartJobRun the same ``clientToken`` and gets the same run, as EMR Serverless
documents (local mode's moto is patched to honour the token: ``local_mode.moto_server``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from external_functions import aws, handlers, spark
from local_mode.snowflake_calls import proxy_event
from pipeline_shared import InputError
from tests.integration.conftest import INPUT_TABLE, OUTPUT_TABLE, PREFIX
from tests.support.training_jobs import training_job_names

FUNCTION = "train_and_get_recommendations"
JOB_ROLE = "arn:aws:iam::123456789012:role/recsys-spark-job"
SCRIPT = "s3://cdk-assets/abc123.py"


@pytest.fixture(scope="module")
def application(aws_client) -> str:
    return aws_client("emr-serverless").create_application(name="recsys-als", releaseLabel="emr-7.9.0", type="SPARK")[
        "applicationId"
    ]


@pytest.fixture
def spark_env(lambda_env: dict[str, str], application: str, monkeypatch) -> Iterator[dict[str, str]]:
    env = {
        "SPARK_APPLICATION_ID": application,
        "SPARK_JOB_ROLE_ARN": JOB_ROLE,
        "SPARK_ENTRY_POINT": SCRIPT,
        "SPARK_CONNECTOR_PACKAGES": "net.snowflake:spark-snowflake_2.12:3.1.1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    aws.reset_clients()
    yield {**lambda_env, **env}
    aws.reset_clients()


def train(options: dict, batch_id: str, table: str = OUTPUT_TABLE) -> dict:
    return handlers.train_handler(proxy_event(FUNCTION, [[INPUT_TABLE, table, options]], batch_id=batch_id), None)


def test_engine_spark_is_refused_in_one_sentence_while_the_switch_is_off(lambda_env, aws_client) -> None:
    response = train({"engine": "spark"}, str(uuid.uuid4()), table="MOVIELENS.PUBLIC.SPARK_OFF")
    assert response["statusCode"] == 400
    [[_, message]] = json.loads(response["body"])["data"] if "data" in response["body"] else [[0, response["body"]]]
    assert "spark.enabled" in message and "cdk.json" in message
    sagemaker = aws_client("sagemaker")
    tables = [
        sagemaker.describe_training_job(TrainingJobName=name).get("HyperParameters", {}).get("output_table")
        for name in training_job_names(sagemaker)
    ]
    assert "MOVIELENS.PUBLIC.SPARK_OFF" not in tables  # and no SageMaker job took its place


def test_an_image_option_with_engine_spark_is_refused(spark_env) -> None:
    response = train({"engine": "spark", "ranking": "ease"}, str(uuid.uuid4()))
    assert response["statusCode"] == 400
    assert "'ranking' is not an option of engine 'spark'" in response["body"]


def test_a_retried_batch_gets_the_run_its_first_try_started(spark_env, aws_client) -> None:
    batch = str(uuid.uuid4())
    first, again = (train({"engine": "spark", "n_factors": 12}, batch, table="MOVIELENS.PUBLIC.SPARK_ON") for _ in "12")
    assert first["statusCode"] == again["statusCode"] == 200, first["body"]
    [[_, run]], [[_, same]] = json.loads(first["body"])["data"], json.loads(again["body"])["data"]
    assert same["job_run_id"] == run["job_run_id"] and run["engine"] == "spark"
    client = aws_client("emr-serverless")
    described = client.get_job_run(applicationId=run["application_id"], jobRunId=run["job_run_id"])["jobRun"]
    assert described["name"] == run["job_run_name"]
    arguments = described["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert arguments[arguments.index("--rank") + 1] == "12"
    assert arguments[arguments.index("--output-table") + 1] == "MOVIELENS.PUBLIC.SPARK_ON"
    other = train({"engine": "spark"}, str(uuid.uuid4()), table="MOVIELENS.PUBLIC.SPARK_ON_2")
    [[_, another]] = json.loads(other["body"])["data"]
    assert another["job_run_id"] != run["job_run_id"]  # a new batch is a new run


def test_a_running_job_run_of_this_pipeline_is_stopped_and_nothing_else(spark_env, aws_client) -> None:
    """``recommender stop <job run id>``'s logic: GetJobRun (state, tags), then CancelJobRun."""
    response = train({"engine": "spark"}, str(uuid.uuid4()), table="MOVIELENS.PUBLIC.SPARK_STOPPED")
    [[_, run]] = json.loads(response["body"])["data"]
    client, application = aws_client("emr-serverless"), run["application_id"]
    stopping = spark.stop(client, application, PREFIX, run["job_run_id"])
    assert stopping["action"] == "stopping" and stopping["status"] == "CANCELLING"
    assert stopping["name"] == run["job_run_name"]
    assert spark.stop(client, application, PREFIX, run["job_run_id"])["action"] == "already stopping"
    time.sleep(0.6)  # the stand-in ends a cancelled run STOP_DELAY_S later
    with pytest.raises(InputError, match=r"is CANCELLED: there is nothing to stop\."):
        spark.stop(client, application, PREFIX, run["job_run_id"])
    with pytest.raises(InputError, match="belongs to another pipeline"):
        spark.stop(client, application, "someone-else", run["job_run_id"])
    with pytest.raises(InputError, match="has no job run with id '00fakeid00000000'"):
        spark.stop(client, application, PREFIX, "00fakeid00000000")
