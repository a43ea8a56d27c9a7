"""Deploy safety against moto: ``latest`` scoped to a table, the quality guard, undeploy, the idle-endpoint sweep.

Training jobs are started by the train handler, print their figures where SageMaker reads them
(CloudWatch Logs, through the MetricDefinitions) and end as local mode reports them; the deploy
handler then reads SageMaker's record of each (DescribeTrainingJob's FinalMetricDataList).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from external_functions import aws, handlers
from external_functions.settings import MisconfiguredError
from idle_endpoints import handler as sweep_handler
from idle_endpoints.sweep import sweep
from local_mode.sagemaker import report_endpoint
from local_mode.snowflake_calls import answer_values, proxy_event
from tests.integration.conftest import BUCKET, PREFIX
from tests.support.training_jobs import complete

pytestmark = pytest.mark.integration


def deploy(*args: Any) -> dict[str, Any]:
    response = handlers.deploy_handler(proxy_event("deploy_model", [list(args)]), None)
    assert response["statusCode"] == 200, response["body"]
    [answer] = answer_values(response)
    return answer


def refused(*args: Any) -> str:
    response = handlers.deploy_handler(proxy_event("deploy_model", [list(args)]), None)
    assert response["statusCode"] == 400, response["body"]
    return response["body"]


def table() -> str:
    """A table no other test writes."""
    return f"SAFE.ML.RECS_{uuid.uuid4().hex[:8].upper()}"


def trained(aws_client, output: str, *, ndcg: float | None = 0.3, status: str = "Completed") -> str:
    """A job of this pipeline that wrote ``output``, ended with ``status`` and (unless None) an NDCG@10."""
    response = handlers.train_handler(proxy_event("train_and_get_recommendations", [["SAFE.ML.RATINGS", output]]), None)
    [job] = answer_values(response)
    complete(aws_client("logs"), job["training_job_name"], ndcg=ndcg, status=status)
    return job["training_job_name"]


def serving(aws_client, model: str) -> str:
    """The endpoint config ``model``'s endpoint names now."""
    return aws_client("sagemaker").describe_endpoint(EndpointName=f"{PREFIX}-{model}")["EndpointConfigName"]


# -- 'latest' ---------------------------------------------------------------------------------


def test_latest_follows_the_table_the_endpoint_serves(lambda_env, aws_client) -> None:
    main, experiment = table(), table()
    first = trained(aws_client, main)
    created = deploy("scoped", "latest")  # not deployed yet: the newest job of any table, and it says which
    assert created["action"] == "created" and created["source"] == first and created["output_table"] == main
    newer_experiment = trained(aws_client, experiment)
    again = deploy("scoped", "latest")
    assert again["action"] == "unchanged" and again["source"] == first, "an experiment on another table went live"
    assert serving(aws_client, "scoped") == created["endpoint_config_name"]
    retrained = trained(aws_client, main)
    updated = deploy("scoped", "latest")
    assert updated["action"] == "updated" and updated["source"] == retrained and updated["output_table"] == main
    named = deploy("scoped", f"latest:{experiment}")  # the table named: its newest job, whatever is served
    assert named["source"] == newer_experiment and named["output_table"] == experiment
    assert deploy("scoped", "latest")["source"] == newer_experiment  # and plain 'latest' now follows that table


def test_latest_of_a_table_as_snowflake_resolves_it(lambda_env, aws_client) -> None:
    name = table()
    job = trained(aws_client, name)
    trained(aws_client, name, status="Failed")  # a newer job that failed is passed over
    trained(aws_client, table())  # a newer job of another table too
    deployed = deploy("bytable", f"Latest:{name.lower()}")
    assert deployed["source"] == job and deployed["output_table"] == name


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        (
            "latest:SAFE.ML.NEVER_WRITTEN",
            "Row 0: no completed training job of this pipeline wrote SAFE.ML.NEVER_WRITTEN:",
        ),
        ('latest:"db"."s"."t"', "Row 0: The table after 'latest:' is not a plain Snowflake identifier"),
        ("latest:", "Row 0: The table after 'latest:' is missing"),
        ("latest:A.B.C.D", "Row 0: The table after 'latest:' is not a plain Snowflake identifier"),
    ],
)
def test_latest_of_a_table_refuses_in_one_sentence(lambda_env, aws_client, reference: str, fragment: str) -> None:
    body = refused("nowhere", reference)
    assert body.startswith(fragment) and body.count(". ") == 0, body
    assert not aws_client("sagemaker").list_endpoints(NameContains=f"{PREFIX}-nowhere")["Endpoints"]


def test_plain_latest_refuses_when_the_served_model_has_no_table(lambda_env, aws_client, tmp_path) -> None:
    """A model deployed from an s3:// URI names no job, so no table: 'latest' says so instead of guessing."""
    key = f"{PREFIX}/models/by-hand/output/model.tar.gz"
    aws_client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"a model copied by hand")
    deploy("byhand", f"s3://{BUCKET}/{key}")
    trained(aws_client, table())
    body = refused("byhand", "latest")
    assert "so 'latest' has no table to follow: deploy 'latest:DB.SCHEMA.TABLE'" in body
    assert f"s3://{BUCKET}/{key}" in body


# -- the quality guard ---------------------------------------------------------------------------

GUARD = {"min_ndcg_gain": 0.0}


def test_the_guard_keeps_a_worse_model_out_and_lets_a_better_one_in(lambda_env, aws_client) -> None:
    name = table()
    good = trained(aws_client, name, ndcg=0.3300)
    live = deploy("guarded", "latest", GUARD)
    assert live["action"] == "created" and live["validation_ndcg_at_10"] == pytest.approx(0.33)
    models_before = len(aws_client("sagemaker").list_models(NameContains=f"{PREFIX}-guarded-")["Models"])
    worse = trained(aws_client, name, ndcg=0.3100)
    answer = deploy("guarded", "latest", GUARD)
    assert answer["action"] == "refused" and answer["source"] == worse
    assert answer["message"] == (
        f"Refused by the quality guard: training job {worse} has validation NDCG@10 0.3100, below the served "
        f"model's 0.3300 (training job {good}) plus min_ndcg_gain 0; {PREFIX}-guarded keeps serving it."
    )
    assert serving(aws_client, "guarded") == live["endpoint_config_name"]  # nothing switched ...
    after = aws_client("sagemaker").list_models(NameContains=f"{PREFIX}-guarded-")["Models"]
    assert len(after) == models_before  # ... and nothing half-created
    assert deploy("guarded", "latest")["source"] == worse  # without the guard, 'latest' is the newest job
    better = trained(aws_client, name, ndcg=0.3500)
    assert deploy("guarded", "latest", GUARD)["action"] == "updated"  # 0.35 >= 0.31 + 0
    assert deploy("guarded", "latest", GUARD)["source"] == better


def test_the_guard_asks_for_the_gain(lambda_env, aws_client) -> None:
    name = table()
    trained(aws_client, name, ndcg=0.3000)
    deploy("gain", f"latest:{name}")
    slightly = trained(aws_client, name, ndcg=0.3050)
    answer = deploy("gain", "latest", {"min_ndcg_gain": 0.01})
    assert answer["action"] == "refused" and "0.3050, below the served model's 0.3000" in answer["message"]
    assert "plus min_ndcg_gain 0.01" in answer["message"]
    assert deploy("gain", slightly, {"min_ndcg_gain": 0.005})["action"] == "updated"


def test_the_guard_refuses_a_model_without_the_figure(lambda_env, aws_client) -> None:
    name = table()
    deploy("figureless", trained(aws_client, name, ndcg=0.3))
    silent = trained(aws_client, name, ndcg=None)
    answer = deploy("figureless", "latest", GUARD)
    assert answer["action"] == "refused"
    assert answer["message"].startswith(
        f"Refused by the quality guard: training job {silent} has no recorded validation NDCG@10"
    )
    # and a first deployment under the guard needs the figure too
    fresh = deploy("figureless-new", silent, GUARD)
    assert fresh["action"] == "refused" and "no recorded validation NDCG@10" in fresh["message"]
    assert not aws_client("sagemaker").list_endpoints(NameContains=f"{PREFIX}-figureless-new")["Endpoints"]


def test_the_guard_passes_a_retry_of_what_is_served(lambda_env, aws_client) -> None:
    """Deploying what the endpoint already serves is 'unchanged', whatever the gain asked."""
    job = trained(aws_client, table(), ndcg=0.3)
    deploy("same", job)
    assert deploy("same", job, {"min_ndcg_gain": 0.5})["action"] == "unchanged"


@pytest.mark.parametrize(
    "options",
    [{"min_ndcg_gain": "a lot"}, {"min_ndcg_gain": 2}, {"min_ndcg_gain": True}, {"other": 1}, "not an object", 7],
)
def test_bad_options_are_refused_before_anything_is_read(lambda_env, options) -> None:
    body = refused("options", "latest", options)
    assert body.startswith("Row 0: ") and ("min_ndcg_gain" in body), body


# -- undeploy ---------------------------------------------------------------------------------------


def undeploy(*models: str, batch_id: str | None = None) -> dict[str, Any]:
    return handlers.undeploy_handler(proxy_event("undeploy_model", [[m] for m in models], batch_id=batch_id), None)


def status(name: str) -> dict[str, Any]:
    response = handlers.status_handler(proxy_event("pipeline_status", [[name]]), None)
    assert response["statusCode"] == 200, response["body"]
    return answer_values(response)[0]


def versions(aws_client, model: str) -> tuple[list[str], list[str]]:
    """The endpoint configs and models named ``<prefix>-<model>-...``."""
    sagemaker, start = aws_client("sagemaker"), f"{PREFIX}-{model}-"
    configs = sagemaker.list_endpoint_configs(NameContains=start, MaxResults=100)["EndpointConfigs"]
    models = sagemaker.list_models(NameContains=start, MaxResults=100)["Models"]
    return sorted(c["EndpointConfigName"] for c in configs), sorted(m["ModelName"] for m in models)


def test_undeploy_deletes_the_endpoint_and_every_version_and_status_says_so(lambda_env, aws_client) -> None:
    name = table()
    for _ in range(2):  # two versions: the first deployment and a redeployment
        deploy("retired", trained(aws_client, name))
    deploy("retired-sibling", trained(aws_client, name))  # its names start like ours ("retired-" + ...)
    sibling = versions(aws_client, "retired-sibling")
    configs, models = versions(aws_client, "retired")
    assert len(configs) == 2 + 1 and len(models) == 2 + 1  # NameContains also lists the sibling's version
    response = undeploy("Retired", batch_id="undeploy-1")
    assert response["statusCode"] == 200, response["body"]
    [answer] = answer_values(response)
    assert answer["action"] == "undeployed" and answer["endpoint_name"] == f"{PREFIX}-retired"
    assert len(answer["deleted_endpoint_configs"]) == 2 and len(answer["deleted_models"]) == 2
    sagemaker = aws_client("sagemaker")
    assert not sagemaker.list_endpoints(NameContains=f"{PREFIX}-retired")["Endpoints"][1:]
    assert [e["EndpointName"] for e in sagemaker.list_endpoints(NameContains=f"{PREFIX}-retired")["Endpoints"]] == [
        f"{PREFIX}-retired-sibling"
    ]
    assert versions(aws_client, "retired") == sibling  # only the sibling's version is left, untouched
    assert versions(aws_client, "retired-sibling") == sibling
    again = undeploy("retired", batch_id="undeploy-1")  # Snowflake's retry of the same batch
    assert again["statusCode"] == 200 and answer_values(again)[0]["action"] == "absent"
    said = status("retired")
    assert said["kind"] == "model" and said["status"] == "NotDeployed" and said["reason"] == "undeploy_model"
    assert said["endpoint_name"] == f"{PREFIX}-retired" and said["undeployed_at"].startswith("20")
    assert deploy("retired", "latest")["action"] == "created"  # and it can be deployed again
    assert status("retired")["kind"] == "endpoint"


def test_undeploy_refuses_an_endpoint_it_does_not_own_and_deletes_nothing(lambda_env, aws_client) -> None:
    sagemaker = aws_client("sagemaker")
    ours = [{"Key": "recommender:pipeline", "Value": PREFIX}]
    theirs = [{"Key": "recommender:pipeline", "Value": "someone-else"}]
    for endpoint, endpoint_tags, config_tags in (("alien", theirs, theirs), ("halfours", ours, theirs)):
        model = f"{PREFIX}-{endpoint}-model"
        sagemaker.create_model(
            ModelName=model, PrimaryContainer={"Image": "image"}, ExecutionRoleArn=lambda_env["SAGEMAKER_ROLE_ARN"]
        )
        variant = {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": "ml.m5.large"}
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"{PREFIX}-{endpoint}-config", ProductionVariants=[variant], Tags=config_tags
        )
        time.sleep(0.5)  # past the stand-in's visibility delay
        sagemaker.create_endpoint(
            EndpointName=f"{PREFIX}-{endpoint}", EndpointConfigName=f"{PREFIX}-{endpoint}-config", Tags=endpoint_tags
        )
        response = undeploy(endpoint)
        assert response["statusCode"] == 400, response["body"]
        assert "belongs to another pipeline" in response["body"] and "nothing was deleted" in response["body"]
        assert sagemaker.describe_endpoint(EndpointName=f"{PREFIX}-{endpoint}")["EndpointStatus"] == "InService"
        sagemaker.describe_endpoint_config(EndpointConfigName=f"{PREFIX}-{endpoint}-config")


def test_undeploy_waits_for_an_endpoint_sagemaker_is_busy_with(lambda_env, aws_client) -> None:
    deploy("busy", trained(aws_client, table()))
    report_endpoint(aws_client("logs"), f"{PREFIX}-busy", "Updating")
    response = undeploy("busy")
    assert response["statusCode"] == 400
    assert response["body"] == (
        f"Row 0: Endpoint {PREFIX}-busy is Updating and SageMaker cannot delete it yet: call "
        "undeploy_model('busy') again once pipeline_status('busy') says InService."
    )
    assert versions(aws_client, "busy")[0]  # nothing deleted
    report_endpoint(aws_client("logs"), f"{PREFIX}-busy", "InService")
    assert undeploy("busy")["statusCode"] == 200


def test_undeploy_of_a_model_never_deployed_is_absent_and_bad_names_are_refused(lambda_env) -> None:
    [answer] = answer_values(undeploy("never-deployed"))
    assert answer["action"] == "absent" and answer["status"] == "NotDeployed"
    bad = undeploy("no_such!")
    assert bad["statusCode"] == 400 and bad["body"].startswith("Row 0: the model name must be")
    assert handlers.status_handler(proxy_event("pipeline_status", [["never-deployed"]]), None)["statusCode"] == 400


# -- the idle-endpoint sweep ---------------------------------------------------------------------------


def put_invocations(aws_client, endpoint: str, at: datetime, count: float = 3) -> None:
    """What SageMaker publishes for an invoked endpoint: ``Invocations`` per endpoint and variant."""
    aws_client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": at,
                "Value": count,
                "Unit": "None",
            }
        ],
    )


def test_the_sweep_takes_down_idle_endpoints_only_and_status_says_when_and_why(lambda_env, aws_client) -> None:
    """Endpoints created now, judged as an hourly run 65 minutes from now would judge them with a 1 h window."""
    name = table()
    for model in ("swept-idle", "swept-busy"):
        deploy(model, trained(aws_client, name))
    later = datetime.now(UTC) + timedelta(minutes=65)  # the run's clock: both endpoints older than the 1 h window
    put_invocations(aws_client, f"{PREFIX}-swept-busy", later - timedelta(minutes=30))  # invoked inside the window
    put_invocations(aws_client, f"{PREFIX}-swept-idle", later - timedelta(minutes=90))  # only before it
    clients = {"sagemaker": aws.sagemaker(), "cloudwatch": aws.cloudwatch(), "s3": aws.s3()}
    common = {**clients, "prefix": PREFIX, "bucket": BUCKET}
    verdicts = {v.endpoint: v for v in sweep(**common, idle_hours=1, now=later)}
    assert verdicts[f"{PREFIX}-swept-idle"].action == "swept" and verdicts[f"{PREFIX}-swept-idle"].invocations == 0
    assert verdicts[f"{PREFIX}-swept-busy"].action == "kept: invoked"
    assert verdicts[f"{PREFIX}-swept-busy"].invocations == 3
    sagemaker = aws_client("sagemaker")
    assert [e["EndpointName"] for e in sagemaker.list_endpoints(NameContains=f"{PREFIX}-swept-")["Endpoints"]] == [
        f"{PREFIX}-swept-busy"
    ]
    assert versions(aws_client, "swept-idle") == ([], [])
    said = status("swept-idle")
    assert said["status"] == "NotDeployed" and said["reason"] == "idle endpoint sweep: no invocations for 1 h"
    # a window longer than the endpoints' lives keeps them all: they have not had the window yet
    young = {v.endpoint: v.action for v in sweep(**common, idle_hours=2, now=later)}
    assert young[f"{PREFIX}-swept-busy"] == "kept: younger than the window"


def test_the_sweep_handler_reads_its_settings_and_counts_what_it_swept(
    lambda_env, aws_client, monkeypatch, capsys
) -> None:
    deploy("sweep-young", trained(aws_client, table()))  # an endpoint of its own, whatever else ran first
    monkeypatch.setenv("ENDPOINT_IDLE_HOURS", "720")  # every endpoint of this session is younger than 30 days
    answer = sweep_handler.handler({}, None)
    assert answer["swept"] == [] and answer["idle_hours"] == 720 and f"{PREFIX}-sweep-young" in answer["kept"]
    printed = capsys.readouterr().out
    assert '"EndpointsSwept":[0.0]' in printed and "kept: younger than the window" in printed
    monkeypatch.setenv("ENDPOINT_IDLE_HOURS", "0")
    with pytest.raises(MisconfiguredError, match="ENDPOINT_IDLE_HOURS must be a whole number from 1 to 720"):
        sweep_handler.handler({}, None)


def test_the_stand_in_filters_a_list_page_by_status_after_paging_as_sagemaker_documents(lambda_env, aws_client) -> None:
    """API_ListTrainingJobs: with StatusEquals and MaxResults, MaxResults jobs are retrieved ignoring the status,
    then filtered -- a page can hold fewer matches, and 'latest' must follow NextToken past it."""
    name = table()
    completed = trained(aws_client, name)
    for _ in range(3):  # newer jobs in another state fill the first page
        trained(aws_client, table(), status="Failed")
    sagemaker = aws_client("sagemaker")
    page = sagemaker.list_training_jobs(
        NameContains=f"{PREFIX}-train-", StatusEquals="Completed", SortBy="CreationTime", SortOrder="Descending",
        MaxResults=3,
    )  # fmt: skip
    assert page["TrainingJobSummaries"] == [] and page["NextToken"]
    assert deploy("pastpage", f"latest:{name}")["source"] == completed
