"""The SageMaker cleanup custom resource against moto, tearing down what the real deploy Lambda made.

Everything here runs under its own prefix ("cleanup") so the teardown cannot touch the
``recsys`` endpoints other modules share on the same moto server. Decoys that must survive:
another pipeline's objects ("cleanup2", and "cleanup-a" whose names pass the name filter),
untagged "cleanup-untagged" ones, and "x-cleanup-decoy" ones tagged "cleanup" but not named by
the pipeline. moto deletes endpoints at once, so the "still deleting", "busy" and "already gone"
paths are driven with botocore's Stubber. Training and tuning jobs are stopped for real: the
stand-in runs their lifecycle and passes StopTrainingJob on to the program local mode runs.
"""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from external_functions import handlers
from local_mode.sagemaker import LocalSageMaker, report_training_job
from local_mode.snowflake_calls import answer_values, proxy_event
from pipeline_shared import resources
from sagemaker_cleanup import handler, teardown
from tests.conftest import DATABASE, SCHEMA
from tests.integration.conftest import BUCKET, IMAGE, INPUT_TABLE, ROLE, connection_hyperparameters

pytestmark = pytest.mark.integration

PREFIX = "cleanup"
PHYSICAL_ID = f"sagemaker-cleanup-{PREFIX}"
DECOYS = {  # name -> tag value, or None for untagged
    "cleanup2-decoy": "cleanup2",
    "cleanup-a-decoy": "cleanup-a",  # another pipeline whose names also start with "cleanup-"
    "x-cleanup-decoy": "cleanup",  # our tag, but not named by the pipeline
    "cleanup-untagged": None,
}
MAX_POLLS = 5


def event(request: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request,
        "ResourceType": "Custom::SageMakerCleanup",
        "LogicalResourceId": "SageMakerCleanup",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/recommender/guid",
        "RequestId": "request-1",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x",
            "ResourcePrefix": PREFIX,
        },
        **extra,
    }


def delete() -> int:
    """Run a Delete like the Provider framework does; returns how many is_complete polls it took."""
    request = event("Delete", PhysicalResourceId=PHYSICAL_ID)
    assert handler.on_event(request, None) == {"PhysicalResourceId": PHYSICAL_ID}
    for poll in range(1, MAX_POLLS + 1):
        if handler.is_complete(request, None) == {"IsComplete": True}:
            return poll
    pytest.fail(f"teardown of {PREFIX} not complete after {MAX_POLLS} polls")


@pytest.fixture
def sagemaker(lambda_env, aws_client, monkeypatch) -> Iterator[Any]:
    """moto's SageMaker, with the deploy Lambda and the cleanup handler both on the "cleanup" prefix."""
    monkeypatch.setenv("RESOURCE_PREFIX", PREFIX)
    handler.sagemaker.cache_clear()
    client = aws_client("sagemaker")
    yield client
    handler.sagemaker.cache_clear()
    # a failed test must not leave "cleanup" endpoints to later modules
    for _ in range(MAX_POLLS):
        if teardown.finish(client, PREFIX):
            break


@pytest.fixture(scope="module")
def model_uri(lambda_env, aws_client) -> str:
    return upload_placeholder_model(aws_client, "manual")


@pytest.fixture
def newer_model_uri(lambda_env, aws_client) -> str:
    return upload_placeholder_model(aws_client, "manual-2")


def upload_placeholder_model(aws_client, name: str) -> str:
    """Any tar.gz will do: deploy only records the URI, and no serve process runs here."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    key = f"{PREFIX}/models/{name}/output/model.tar.gz"
    aws_client("s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return f"s3://{BUCKET}/{key}"


@pytest.fixture
def decoys(sagemaker) -> Iterator[list[str]]:
    """A model, endpoint config and endpoint per decoy name, created directly."""
    for name, tag in DECOYS.items():
        tags = [] if tag is None else [{"Key": resources.PIPELINE_TAG, "Value": tag}]
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz"},
            ExecutionRoleArn=ROLE,
            Tags=tags,
        )
        variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large"}
        sagemaker.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}], Tags=tags
        )
    time.sleep(0.5)  # like SageMaker, the stand-in shows a new endpoint config to CreateEndpoint only after a moment
    for name, tag in DECOYS.items():
        tags = [] if tag is None else [{"Key": resources.PIPELINE_TAG, "Value": tag}]
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)
    yield list(DECOYS)
    for name in DECOYS:
        for operation, parameter in (
            (sagemaker.delete_endpoint, "EndpointName"),
            (sagemaker.delete_endpoint_config, "EndpointConfigName"),
            (sagemaker.delete_model, "ModelName"),
        ):
            try:
                operation(**{parameter: name})
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ValidationException":
                    raise


def deploy(model: str, uri: str, batch_id: str) -> dict[str, Any]:
    """deploy_model(model, uri) through the real deploy Lambda."""
    [deployed] = answer_values(
        handlers.deploy_handler(proxy_event("deploy_model", [[model, uri]], batch_id=batch_id), None)
    )
    assert deployed["endpoint_name"] == f"{PREFIX}-{model}", deployed
    return deployed


def exists(sagemaker, kind: str, name: str) -> bool:
    describe = {
        "endpoint": (sagemaker.describe_endpoint, "EndpointName"),
        "config": (sagemaker.describe_endpoint_config, "EndpointConfigName"),
        "model": (sagemaker.describe_model, "ModelName"),
    }[kind]
    try:
        describe[0](**{describe[1]: name})
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ValidationException", exc
        return False
    return True


def tagged_names(sagemaker, tag_value: str) -> set[str]:
    """Every endpoint, config and model carrying the pipeline tag with this value, found without teardown."""
    found = set()
    for listing, key, name_key, arn_key in (  # every page: SageMaker lists 10 at a time unless asked for more
        ("list_endpoints", "Endpoints", "EndpointName", "EndpointArn"),
        ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn"),
        ("list_models", "Models", "ModelName", "ModelArn"),
    ):
        for summary in (s for page in sagemaker.get_paginator(listing).paginate() for s in page[key]):
            tags = sagemaker.list_tags(ResourceArn=summary[arn_key])["Tags"]
            if {"Key": "recommender:pipeline", "Value": tag_value} in tags:
                found.add(summary[name_key])
    return found


def test_delete_removes_the_pipelines_objects_and_spares_others(
    sagemaker, model_uri: str, newer_model_uri: str, decoys
) -> None:
    single = deploy("cleanupa", model_uri, "cleanup-a-1")
    first = deploy("cleanupb", model_uri, "cleanup-b-1")
    second = deploy("cleanupb", newer_model_uri, "cleanup-b-2")
    assert second["action"] == "updated" and second["previous_endpoint_config_name"] == first["endpoint_config_name"]
    versions = [d["endpoint_config_name"] for d in (single, first, second)]
    assert [d["model_name"] for d in (single, first, second)] == versions
    endpoints = ["cleanup-cleanupa", "cleanup-cleanupb"]
    assert tagged_names(sagemaker, PREFIX) == {*endpoints, *versions, "x-cleanup-decoy"}

    request = event("Delete", PhysicalResourceId=PHYSICAL_ID)
    assert handler.on_event(request, None) == {"PhysicalResourceId": PHYSICAL_ID}
    assert not any(exists(sagemaker, "endpoint", e) for e in endpoints)
    # on_event only starts: configs and models go once is_complete sees no endpoint left
    assert all(exists(sagemaker, "config", v) and exists(sagemaker, "model", v) for v in versions)
    assert handler.is_complete(request, None) == {"IsComplete": True}

    assert not any(exists(sagemaker, kind, v) for v in versions for kind in ("config", "model"))
    assert tagged_names(sagemaker, PREFIX) == {"x-cleanup-decoy"}
    for name in decoys:
        assert all(exists(sagemaker, kind, name) for kind in ("endpoint", "config", "model")), name
    assert tagged_names(sagemaker, "cleanup2") == {"cleanup2-decoy"}


def test_create_and_update_change_nothing(sagemaker, model_uri: str) -> None:
    deployed = deploy("cleanupc", model_uri, "cleanup-c-1")
    for request in ("Create", "Update"):
        extra = {} if request == "Create" else {"PhysicalResourceId": PHYSICAL_ID, "OldResourceProperties": {}}
        assert handler.on_event(event(request, **extra), None) == {"PhysicalResourceId": PHYSICAL_ID}
        assert handler.is_complete(event(request, **extra), None) == {"IsComplete": True}
    assert exists(sagemaker, "endpoint", deployed["endpoint_name"])
    assert exists(sagemaker, "config", deployed["endpoint_config_name"])
    assert exists(sagemaker, "model", deployed["model_name"])


def test_delete_twice_and_delete_of_nothing_are_fine(sagemaker, model_uri: str) -> None:
    deploy("cleanupd", model_uri, "cleanup-d-1")
    assert delete() == 1
    assert delete() == 1
    assert tagged_names(sagemaker, PREFIX) == set()


def test_teardown_stops_a_running_training_job_with_sigterm(
    sagemaker, lambda_env, aws_client, fakesnow, snowflake_db, snowflake_secret, route, tmp_path
) -> None:
    """As in SageMaker: StopTrainingJob makes the job Stopping, the program gets SIGTERM, the job ends Stopped."""
    job = resources.training_job_name(PREFIX, "0123456789ab")
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={
            "input_table": INPUT_TABLE,
            "output_table": f"{DATABASE}.{SCHEMA}.CLEANUP_RECS",
            **connection_hyperparameters(fakesnow),
            "snowflake_secret_arn": snowflake_secret,
            "aws_region": "us-east-1",
            "n_epochs": "400",
        },
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/{PREFIX}/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=resources.tags(PREFIX),
    )
    env = {k: v for k, v in lambda_env.items() if k.startswith("AWS_")}
    with LocalSageMaker(sagemaker, aws_client("s3"), tmp_path, route, env) as local:
        runs: list[Any] = []
        running = threading.Thread(target=lambda: runs.append(local.run_training_job(job)))
        running.start()
        stderr = tmp_path / "training" / job / "stderr.txt"
        deadline = time.monotonic() + 120
        while not (stderr.exists() and "fitting the model on all ratings" in stderr.read_text()):
            assert time.monotonic() < deadline and running.is_alive(), "the job should be fitting"
            time.sleep(0.2)
        request = event("Delete", PhysicalResourceId=PHYSICAL_ID)
        handler.on_event(request, None)
        assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Stopping"
        while handler.is_complete(request, None) != {"IsComplete": True}:  # the Provider framework's polls
            assert time.monotonic() < deadline + 60, "teardown should finish once the job has stopped"
            time.sleep(1)
        running.join(timeout=60)
    described = sagemaker.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Stopped" and "TrainingEndTime" in described
    assert runs[0].returncode == 143
    assert "The job was stopped (SIGTERM)" in runs[0].stderr


@pytest.mark.parametrize(
    "properties",
    [{}, {"ResourcePrefix": ""}, {"ResourcePrefix": "Recsys"}, {"ResourcePrefix": "recsys-"}, {"ResourcePrefix": 7}],
)
def test_a_bad_prefix_is_refused_before_anything_is_listed(properties: dict[str, Any]) -> None:
    request = {"RequestType": "Delete", "PhysicalResourceId": PHYSICAL_ID, "ResourceProperties": properties}
    with pytest.raises(ValueError, match="ResourcePrefix must be the pipeline's RESOURCE_PREFIX"):
        handler.on_event(request, None)


# -- states moto skips (it deletes endpoints at once), driven through botocore's Stubber ------------------


ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture
def stubbed(aws_client) -> Iterator[tuple[Any, Stubber]]:
    client = aws_client("sagemaker")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def list_one_endpoint(stubber: Stubber, status: str) -> None:
    summary = {
        "EndpointName": "cleanup-slow",
        "EndpointArn": f"{ARN}:endpoint/cleanup-slow",
        "CreationTime": "2026-01-01T00:00:00Z",
        "LastModifiedTime": "2026-01-01T00:00:00Z",
        "EndpointStatus": status,
    }
    stubber.add_response("list_endpoints", {"Endpoints": [summary]}, {"NameContains": "cleanup-"})
    tags = {"Tags": [{"Key": "recommender:pipeline", "Value": PREFIX}]}
    stubber.add_response("list_tags", tags, {"ResourceArn": f"{ARN}:endpoint/cleanup-slow"})


def test_configs_and_models_wait_for_a_deleting_endpoint(stubbed) -> None:
    client, stubber = stubbed
    list_one_endpoint(stubber, "Deleting")  # no DeleteEndpoint again, no config or model listing
    assert teardown.finish(client, PREFIX) is False


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("Creating", "Cannot delete in-progress endpoint"),
        ("InService", f'Could not find endpoint "{ARN}:endpoint/cleanup-slow".'),
    ],
)
def test_a_busy_or_vanished_endpoint_is_looked_at_again_on_the_next_poll(stubbed, status: str, message: str) -> None:
    client, stubber = stubbed
    list_one_endpoint(stubber, status)
    stubber.add_client_error("delete_endpoint", "ValidationException", message, 400, {"EndpointName": "cleanup-slow"})
    assert teardown.finish(client, PREFIX) is False


def test_a_refused_deletion_says_what_to_do(stubbed) -> None:
    client, stubber = stubbed
    list_one_endpoint(stubber, "InService")
    stubber.add_client_error(
        "delete_endpoint", "AccessDeniedException", "not authorized", 400, {"EndpointName": "cleanup-slow"}
    )
    with pytest.raises(teardown.TeardownError, match=r"deleting endpoint cleanup-slow \(AccessDeniedException.*IAM"):
        teardown.finish(client, PREFIX)


def test_objects_gone_before_their_deletion_count_as_deleted(stubbed) -> None:
    client, stubber = stubbed
    config = {
        "EndpointConfigName": "cleanup-gone-0123456789ab",
        "EndpointConfigArn": f"{ARN}:endpoint-config/cleanup-gone-0123456789ab",
        "CreationTime": "2026-01-01T00:00:00Z",
    }
    name = {"NameContains": "cleanup-"}
    stubber.add_response("list_endpoints", {"Endpoints": []}, name)
    stubber.add_response("list_endpoint_configs", {"EndpointConfigs": [config]}, name)
    tags = {"Tags": [{"Key": "recommender:pipeline", "Value": PREFIX}]}
    stubber.add_response("list_tags", tags, {"ResourceArn": config["EndpointConfigArn"]})
    message = f"Could not find endpoint configuration '{config['EndpointConfigArn']}'."
    stubber.add_client_error(
        "delete_endpoint_config",
        "ValidationException",
        message,
        400,
        {"EndpointConfigName": config["EndpointConfigName"]},
    )
    stubber.add_response("list_models", {"Models": []}, name)
    stubber.add_response("list_endpoints", {"Endpoints": []}, name)
    stubber.add_response("list_endpoint_configs", {"EndpointConfigs": []}, name)
    stubber.add_response("list_models", {"Models": []}, name)
    assert teardown.finish(client, PREFIX) is True


# -- training and tuning jobs: the stand-in runs their lifecycle (InProgress, Stopping, Stopped) ----------


def create_jobs(sagemaker, suffix: str, *, tag: str = PREFIX) -> tuple[str, str]:
    """A training job and a tuning job of the pipeline, both InProgress (nothing runs them here)."""
    training, tuning = f"{PREFIX}-train-{suffix}", f"{PREFIX}-tune-{suffix}"
    definition = {
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{PREFIX}/models/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    tags = [{"Key": resources.PIPELINE_TAG, "Value": tag}]
    sagemaker.create_training_job(TrainingJobName=training, Tags=tags, **definition)
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:ndcg_at_10"},
        },
        TrainingJobDefinition={**definition, "StaticHyperParameters": {}},
        Tags=tags,
    )
    return training, tuning


def statuses(sagemaker, training: str, tuning: str) -> tuple[str, str]:
    return (
        sagemaker.describe_training_job(TrainingJobName=training)["TrainingJobStatus"],
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)[
            "HyperParameterTuningJobStatus"
        ],
    )


def test_running_training_and_tuning_jobs_are_stopped_and_waited_for(sagemaker) -> None:
    training, tuning = create_jobs(sagemaker, "cccccccccccc")
    others = create_jobs(sagemaker, "a1a1a1a1a1a1", tag="cleanup2")  # our names, another pipeline's tag
    assert teardown.training_jobs_stopped(sagemaker, PREFIX) is False  # asks SageMaker to stop them
    assert statuses(sagemaker, training, tuning) == ("Stopping", "Stopping")
    assert teardown.stop_training_jobs(sagemaker, PREFIX) == []  # already stopping: not asked twice
    time.sleep(0.6)  # the stand-in's time to stop jobs nobody runs
    assert teardown.training_jobs_stopped(sagemaker, PREFIX) is True
    assert statuses(sagemaker, training, tuning) == ("Stopped", "Stopped")
    assert statuses(sagemaker, *others) == ("InProgress", "InProgress")
    for name in (others[0], others[1]):
        report_training_job(aws_logs(sagemaker), name, "Completed")


def test_finished_jobs_are_left_alone(sagemaker) -> None:
    training, tuning = create_jobs(sagemaker, "bbbbbbbbbbbb")
    for name in (training, tuning):
        report_training_job(aws_logs(sagemaker), name, "Completed")
    assert teardown.stop_training_jobs(sagemaker, PREFIX) == []
    assert teardown.training_jobs_stopped(sagemaker, PREFIX) is True
    assert statuses(sagemaker, training, tuning) == ("Completed", "Completed")


def aws_logs(sagemaker) -> Any:
    """CloudWatch Logs on the same stand-in, where local mode reports how jobs end."""
    return boto3.client("logs", region_name=sagemaker.meta.region_name, endpoint_url=sagemaker.meta.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
