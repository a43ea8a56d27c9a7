"""The ``recommender`` operator CLI as a program, against moto (stack outputs, SageMaker) and real serve processes."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from external_functions.training import METRICS
from local_mode.sagemaker import LocalSageMaker, RuntimeRoute, report, report_training_job
from local_mode.standins import python_env
from tests.integration.conftest import TrainedJob
from tests.support.training_jobs import complete, publish_output, training_job_names

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENV = "ops"
PREFIX = "opscli"
STACK = f"Recommender-{ENV}"
OUTPUTS = {
    "TrainingImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/opscli:latest",
    "SageMakerRoleArn": "arn:aws:iam::123456789012:role/opscli-training",
    "SageMakerHostingRoleArn": "arn:aws:iam::123456789012:role/opscli-hosting",
    "SnowflakeTrainingSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:opscli-trainer-AbCdEf",
}


@pytest.fixture(scope="module")
def cdk_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's cdk.json with one more environment, "ops", on its own prefix and schema."""
    document = json.loads((ROOT / "cdk.json").read_text())
    environments = document["context"]["recommender"]["environments"]
    ops = json.loads(json.dumps(environments["dev"]))
    ops.update(resourcePrefix=PREFIX)
    ops["snowflake"].update(schema="OPS", integrationName="OPS_RECOMMENDER_API")
    environments[ENV] = ops
    path = tmp_path_factory.mktemp("cdk") / "cdk.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def stack(aws_client) -> dict[str, str]:
    """A deployed-looking stack in moto: its bucket and the outputs the CLI reads."""
    template = {
        "Resources": {"Artifacts": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "opscli-artifacts"}}},
        "Outputs": {
            **{name: {"Value": value} for name, value in OUTPUTS.items()},
            "ArtifactBucket": {"Value": {"Ref": "Artifacts"}},
        },
    }
    aws_client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return {**OUTPUTS, "ArtifactBucket": "opscli-artifacts"}


def cli(aws_env: dict[str, str], cdk_json: Path, *args: str, runtime: str | None = None) -> subprocess.CompletedProcess:
    """``recommender VERB --env ops ...`` as an operator runs it, AWS pointed at moto."""
    verb, *rest = args
    env = python_env(**aws_env, **({"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime} if runtime else {}))
    return subprocess.run(
        [sys.executable, "-m", "operator_cli", verb, "--env", ENV, "--cdk-json", str(cdk_json), *rest],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def as_json(run: subprocess.CompletedProcess) -> Any:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize(
    "verb", ["train", "logs", "tune", "status", "deploy", "undeploy", "stop", "invoke", "recommend"]
)
def test_every_verb_has_help(verb: str) -> None:
    run = subprocess.run([sys.executable, "-m", "operator_cli", verb, "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--env" in run.stdout


def test_deploy_help_names_every_kind_of_reference() -> None:
    run = subprocess.run([sys.executable, "-m", "operator_cli", "deploy", "--help"], capture_output=True, text=True)
    text = " ".join(run.stdout.split())
    assert run.returncode == 0
    assert "'latest' (the newest job that wrote the table the model serves now), 'latest:DB.SCHEMA.TABLE'" in text
    assert "a training job name, a tuning job name (serves its best training job), or an s3://" in text
    assert "--min-ndcg-gain GAIN" in text


def test_status_of_a_failed_job_is_an_answer_and_exits_0(aws_env, cdk_json, stack, aws_client) -> None:
    """Exit 1 is for AWS failing (README, Operating from a terminal): a job that failed is reported, not an error."""
    job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.FAILS", "--json"))
    name = job["training_job_name"]
    report_training_job(aws_client("logs"), name, "Failed", failure_reason="AlgorithmError: Input table A.B.C ...")
    run = cli(aws_env, cdk_json, "status", name)
    assert run.returncode == 0, run.stderr
    assert "Failed" in run.stdout and "AlgorithmError: Input table A.B.C" in run.stdout


def create_tuning_job(sagemaker: Any, name: str) -> None:
    """A tuning job of this pipeline in moto (as `tune` starts one; that verb is tested on its own below)."""
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:ndcg_at_10"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": OUTPUTS["TrainingImageUri"], "TrainingInputMode": "File"},
            "RoleArn": OUTPUTS["SageMakerRoleArn"],
            "OutputDataConfig": {"S3OutputPath": f"s3://opscli-artifacts/{PREFIX}/models/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    )


def best(job: str, value: float) -> dict[str, Any]:
    """The best training job as SageMaker reports it in DescribeHyperParameterTuningJob."""
    return {
        "TrainingJobName": job,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}",
        "CreationTime": "2026-12-01T10:00:00+00:00",
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"n_factors": "120"},
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:ndcg_at_10", "Value": value},
        "ObjectiveStatus": "Succeeded",
    }


def test_status_and_logs_take_a_tuning_job(aws_env, cdk_json, stack, aws_client) -> None:
    """logs follows the tuning job's progress until it ends (exit 0), status shows it and its best job."""
    name = f"{PREFIX}-tune-follow"
    create_tuning_job(aws_client("sagemaker"), name)
    logs = aws_client("logs")
    report(logs, name, {"status": "InProgress", "training_job_status_counters": {"InProgress": 2}})
    following = start_cli(aws_env, cdk_json, "logs", name, "--poll", "1")
    first = _line_with(following, "InProgress")
    assert "2 InProgress" in first
    report(logs, name, {"status": "Completed", "best_training_job": best(f"{PREFIX}-tune-follow-002-x", 0.3207),
                        "training_job_status_counters": {"Completed": 4, "InProgress": 0}})  # fmt: skip
    stdout, stderr = following.communicate(timeout=120)
    assert following.returncode == 0, stderr
    assert f"{name}: Completed; training jobs: 4 Completed; best {PREFIX}-tune-follow-002-x (0.3207)" in stdout

    shown = as_json(cli(aws_env, cdk_json, "status", name, "--json"))
    assert shown["kind"] == "tuning_job" and shown["status"] == "Completed"
    assert shown["best_training_job"] == f"{PREFIX}-tune-follow-002-x" and shown["best_objective_value"] == 0.3207
    assert shown["objective"] == "Maximize validation:ndcg_at_10" and shown["training_jobs"] == {"Completed": 4}
    missing = cli(aws_env, cdk_json, "status", f"{PREFIX}-tune-nosuchjob")
    assert missing.returncode == 2 and f"has no tuning job named '{PREFIX}-tune-nosuchjob'" in missing.stderr


def test_logs_of_a_tuning_job_that_fails_exits_1(aws_env, cdk_json, stack, aws_client) -> None:
    name = f"{PREFIX}-tune-fails"
    create_tuning_job(aws_client("sagemaker"), name)
    report(aws_client("logs"), name, {"status": "Failed", "failure_reason": "No training job reported the objective."})
    run = cli(aws_env, cdk_json, "logs", name)
    assert run.returncode == 1, run.stderr
    assert f"{name}: Failed" in run.stdout and "No training job reported the objective." in run.stdout
    assert cli(aws_env, cdk_json, "status", name).returncode == 0


def test_train_sends_the_train_functions_request(aws_env, cdk_json, stack, aws_client) -> None:
    run = cli(aws_env, cdk_json, "train", "--input", "MOVIELENS.OPS.RATINGS", "--output", "MOVIELENS.OPS.RECS",
              "--option", "n_epochs=30", "--option", "ranking=predicted_rating", "--json")  # fmt: skip
    job = as_json(run)
    assert job["training_job_name"].startswith(f"{PREFIX}-train-") and job["status"] == "InProgress"
    described = aws_client("sagemaker").describe_training_job(TrainingJobName=job["training_job_name"])
    assert described["AlgorithmSpecification"]["TrainingImage"] == stack["TrainingImageUri"]
    assert described["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    assert described["RoleArn"] == stack["SageMakerRoleArn"]
    assert described["OutputDataConfig"]["S3OutputPath"] == f"s3://{stack['ArtifactBucket']}/{PREFIX}/models/"
    hyperparameters = described["HyperParameters"]
    assert hyperparameters["snowflake_user"] == "RECOMMENDER_TRAINER"  # cdk.json's training identity
    assert hyperparameters["snowflake_secret_arn"] == stack["SnowflakeTrainingSecretArn"]
    assert (hyperparameters["n_epochs"], hyperparameters["ranking"]) == ("30", "predicted_rating")
    tags = aws_client("sagemaker").list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
    assert {"Key": "recommender:pipeline", "Value": PREFIX} in tags

    again = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "movielens.ops.recs", "--json"))
    assert again["training_job_name"] == job["training_job_name"] and "already running" in again["note"]
    report_training_job(aws_client("logs"), job["training_job_name"], "Failed", failure_reason="AlgorithmError: x")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--input", "A.B.C", "--output", "A.B.D", "--option", "n_epochs=0"], "option 'n_epochs'"),
        (["train", "--input", "A.B.C", "--output", "A.B.D", "--option", "n_epochs"], "must be NAME=VALUE"),
        (["train", "--input", "A.B;drop", "--output", "A.B.D"], "input table"),
        (["deploy", "movielens", "s3://elsewhere/model.tar.gz"], "under s3://opscli-artifacts/"),
        (["status", "no-such-thing"], "no training job or deployed model named 'no-such-thing'"),
        (["invoke", "nosuchmodel", "1", "2"], "no model named 'nosuchmodel' is deployed"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(aws_env, cdk_json, stack, args: list[str], fragment: str) -> None:
    run = cli(aws_env, cdk_json, *args)
    assert run.returncode == 2, run.stderr
    assert fragment in run.stderr and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"recommender {args[0]}: ")


def test_an_environment_without_a_stack_says_how_to_deploy(aws_env, cdk_json) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "operator_cli", "status", "--env", "prod", "--cdk-json", str(cdk_json)],
        env=python_env(**aws_env), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "Stack Recommender-prod is not deployed" in run.stderr and "make deploy STACK=Recommender-prod" in run.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "operator_cli", "status", "--env", "nope", "--cdk-json", str(cdk_json)],
        env=python_env(**aws_env), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2 and "has no environment 'nope'" in unknown.stderr


def test_status_lists_recent_jobs_with_their_metrics_side_by_side(aws_env, cdk_json, stack, aws_client) -> None:
    names = []
    for table, ndcg in (("ONE", "0.2812"), ("TWO", "0.3004")):
        job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", f"A.B.{table}", "--json"))
        publish_output(
            aws_client("logs"), job["training_job_name"], [f"validation:ndcg_at_10={ndcg}", "validation:rmse=0.8600"]
        )
        report_training_job(aws_client("logs"), job["training_job_name"], "Completed")
        names.append(job["training_job_name"])
    table = cli(aws_env, cdk_json, "status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:7] == ["job", "status", "created", "output", "table", "algorithm", "ranking"]
    assert "ndcg_at_10" in lines[0]
    row = next(line for line in lines if names[1] in line)
    assert "Completed" in row and "0.3004" in row and "0.8600" in row and "A.B.TWO" in row
    assert " svd " in row and " graded_ease " in row
    one = as_json(cli(aws_env, cdk_json, "status", names[0], "--json"))
    assert one["status"] == "Completed" and one["metrics"]["validation:ndcg_at_10"] == pytest.approx(0.2812)


def start_cli(aws_env: dict[str, str], cdk_json: Path, *args: str) -> subprocess.Popen[str]:
    verb, *rest = args
    return subprocess.Popen(
        [sys.executable, "-m", "operator_cli", verb, "--env", ENV, "--cdk-json", str(cdk_json), *rest],
        env=python_env(**aws_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_logs_follows_a_running_job_until_it_ends(aws_env, cdk_json, stack, aws_client) -> None:
    """Through the SageMaker SDK (in .venv-operator): the log lines as they arrive, then the final status."""
    job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.LOGS", "--json"))
    name = job["training_job_name"]
    publish_output(aws_client("logs"), name, ["reading A.B.C ...", "validation:ndcg_at_10=0.3101"])
    following = start_cli(aws_env, cdk_json, "logs", name)
    time.sleep(2)
    assert following.poll() is None, following.communicate()  # still running: the job is
    publish_output(aws_client("logs"), name, ["replacing the contents of A.B.LOGS done"])
    report_training_job(aws_client("logs"), name, "Completed")
    stdout, stderr = following.communicate(timeout=120)
    assert following.returncode == 0, stderr
    for line in ("reading A.B.C ...", "validation:ndcg_at_10=0.3101", "replacing the contents of A.B.LOGS done"):
        assert line in stdout
    assert "Completed" in stdout.split("validation:ndcg_at_10=0.3101", 1)[1]
    assert "Traceback" not in stderr


def test_logs_prints_the_lines_delivered_after_the_job_ended(aws_env, cdk_json, stack, aws_client) -> None:
    """CloudWatch may ingest a job's last lines after its status changed: they are read once more, after a poll.

    Here the last line is published only once ``logs`` has printed the final status; it must still
    be printed (and printed once), after the status line.
    """
    job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.LATE", "--json"))
    name = job["training_job_name"]
    publish_output(aws_client("logs"), name, ["reading A.B.C ..."])
    following = start_cli(aws_env, cdk_json, "logs", name, "--poll", "10")
    seen = [_line_with(following, "reading A.B.C ...")]
    report_training_job(aws_client("logs"), name, "Completed")
    seen.append(_line_with(following, "Final Resource Status"))
    publish_output(aws_client("logs"), name, ["replacing the contents of A.B.LATE done"])
    stdout, stderr = following.communicate(timeout=120)
    assert following.returncode == 0, stderr
    assert "Completed" in seen[-1]
    assert stdout.count("replacing the contents of A.B.LATE done") == 1, stdout
    assert "reading A.B.C ..." not in stdout  # printed once, before the end
    assert "Traceback" not in stderr


def _line_with(process: subprocess.Popen[str], fragment: str, timeout: float = 120) -> str:
    """The first line of ``process``'s output containing ``fragment`` (lines before it are skipped).

    Lines are read on a thread, so a program that stops printing fails the test at ``timeout``
    instead of hanging it.
    """
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and fragment not in line:
            line = process.stdout.readline()
        lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        line = ""
    assert fragment in line, f"no line with {fragment!r} within {timeout} s"
    return line


def test_train_wait_follows_the_job_and_fails_with_it(aws_env, cdk_json, stack, aws_client, tmp_path, monkeypatch):
    """train --wait while local mode runs the job: this one fails (the stack's secret is not in moto)."""
    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    waiting = start_cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.WAIT", "--wait")
    sagemaker = aws_client("sagemaker")
    deadline = time.monotonic() + 60
    while not (jobs := running_jobs(sagemaker, "A.B.WAIT")):
        assert time.monotonic() < deadline and waiting.poll() is None, waiting.communicate()
        time.sleep(0.5)
    env = {k: v for k, v in aws_env.items() if k.startswith("AWS_")}
    with LocalSageMaker(sagemaker, aws_client("s3"), tmp_path, RuntimeRoute(), env) as local:
        run = local.run_training_job(jobs[0])
    stdout, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 1, stderr
    assert run.failure in stdout  # the job's own last line, from its logs
    assert "Failed" in stdout and f"AlgorithmError: {run.failure}" in stdout


def running_jobs(sagemaker: Any, output_table: str) -> list[str]:
    names = training_job_names(sagemaker, NameContains=f"{PREFIX}-train-", StatusEquals="InProgress")
    return [
        n
        for n in names
        if sagemaker.describe_training_job(TrainingJobName=n)["HyperParameters"]["output_table"] == output_table
    ]


def test_tune_dry_run_prints_a_valid_request_built_from_the_train_functions(aws_env, cdk_json, stack, aws_client):
    """The SDK's CreateHyperParameterTuningJob request, stopped before it is sent, checked by botocore's model."""
    args = ["--input", "MOVIELENS.OPS.RATINGS", "--output", "MOVIELENS.OPS.TUNED", "--max-jobs", "6", "--parallel", "2"]
    request = as_json(
        cli(aws_env, cdk_json, "tune", *args, "--option", "n_epochs=40", "--option", "top_k=20", "--dry-run")
    )
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateHyperParameterTuningJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    name = request["HyperParameterTuningJobName"]
    assert name.startswith(f"{PREFIX}-tune-") and len(name) <= 32
    config = request["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:ndcg_at_10"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    ranges = config["ParameterRanges"]
    tuned = {
        r["Name"] for kind in ("IntegerParameterRanges", "ContinuousParameterRanges") for r in ranges.get(kind, [])
    }
    assert tuned == {"n_factors", "lr_all", "reg_all", "ranking_regularization"}  # n_epochs is fixed by --option
    definition = request["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == stack["TrainingImageUri"]
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    assert definition["RoleArn"] == stack["SageMakerRoleArn"]
    assert definition["OutputDataConfig"]["S3OutputPath"] == f"s3://{stack['ArtifactBucket']}/{PREFIX}/models/"
    static = definition["StaticHyperParameters"]
    assert static["output_table"] == "MOVIELENS.OPS.TUNED" and static["snowflake_user"] == "RECOMMENDER_TRAINER"
    assert (static["n_epochs"], static["top_k"]) == ("40", "20") and not tuned & set(static)
    assert {"Key": "recommender:pipeline", "Value": PREFIX} in request["Tags"]
    listed = aws_client("sagemaker").list_hyper_parameter_tuning_jobs(NameContains=name)[  # one page: 10 at most
        "HyperParameterTuningJobSummaries"
    ]
    assert name not in {job["HyperParameterTuningJobName"] for job in listed}  # nothing was created


def test_tune_tunes_only_what_the_chosen_algorithm_takes(aws_env, cdk_json, stack):
    """NMF takes n_factors and n_epochs, not lr_all or reg_all: tuning those would start jobs the image refuses."""
    args = ["--input", "MOVIELENS.OPS.RATINGS", "--output", "MOVIELENS.OPS.TUNED", "--option", "algorithm=nmf"]
    request = as_json(cli(aws_env, cdk_json, "tune", *args, "--dry-run"))
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    kinds = ("IntegerParameterRanges", "ContinuousParameterRanges")
    tuned = {r["Name"] for kind in kinds for r in ranges.get(kind, [])}
    assert tuned == {"n_factors", "n_epochs", "ranking_regularization"}
    assert request["TrainingJobDefinition"]["StaticHyperParameters"]["algorithm"] == "NMF"


def test_tune_starts_a_tuning_job(aws_env, cdk_json, stack, aws_client) -> None:
    started = as_json(cli(aws_env, cdk_json, "tune", "--input", "A.B.C", "--output", "A.B.TUNED", "--objective",
                          "validation:rmse", "--max-jobs", "4", "--json"))  # fmt: skip
    described = aws_client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=started["tuning_job_name"]
    )
    objective = described["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert objective == {"Type": "Minimize", "MetricName": "validation:rmse"}
    bad = cli(aws_env, cdk_json, "tune", "--input", "A.B.C", "--output", "A.B.D", "--objective", "accuracy")
    assert bad.returncode == 2 and "--objective must be one of" in bad.stderr


@pytest.fixture(scope="module")
def served(aws_env, aws_client, stack, trained_job: TrainedJob, tmp_path_factory) -> Iterator[RuntimeRoute]:
    """The trained model in the stack's bucket, and a runtime route for the serve processes local mode starts."""
    archive = tmp_path_factory.mktemp("artifact") / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted((trained_job.run.opt_ml / "model").iterdir()):
            tar.add(path, arcname=path.name)
    aws_client("s3").upload_file(str(archive), stack["ArtifactBucket"], f"{PREFIX}/models/manual/output/model.tar.gz")
    with RuntimeRoute() as route:
        yield route


def test_deploy_invoke_and_recommend_are_the_sql_functions(
    aws_env, cdk_json, served, aws_client, trained_job, tmp_path
):
    uri = f"s3://opscli-artifacts/{PREFIX}/models/manual/output/model.tar.gz"
    deployed = as_json(cli(aws_env, cdk_json, "deploy", "movielens", uri, "--json"))
    assert deployed["endpoint_name"] == f"{PREFIX}-movielens" and deployed["action"] == "created"
    env = {k: v for k, v in aws_env.items() if k.startswith("AWS_")}
    with LocalSageMaker(aws_client("sagemaker"), aws_client("s3"), tmp_path, served, env) as local:
        assert f"{PREFIX}-movielens" in local.sync_endpoints()
        model = trained_job.model
        user, movie = int(model.user_ids[0]), int(model.item_ids[0])
        rating = cli(aws_env, cdk_json, "invoke", "movielens", str(user), str(movie), runtime=served.url)
        assert rating.returncode == 0, rating.stderr
        assert float(rating.stdout) == pytest.approx(float(model.predict([user], [movie])[0]), abs=1e-4)
        top = as_json(cli(aws_env, cdk_json, "recommend", "movielens", str(user), "5", "--json", runtime=served.url))
        assert len(top) == 5 and all(isinstance(m, int) for m in top)
        unchanged = as_json(cli(aws_env, cdk_json, "deploy", "movielens", uri, "--json"))
        assert unchanged["action"] == "unchanged"


def test_deploy_with_the_quality_guard_exits_1_when_it_refuses(aws_env, cdk_json, stack, aws_client) -> None:
    jobs = []
    for ndcg in (0.3300, 0.3000):
        job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.GUARDED", "--json"))
        complete(aws_client("logs"), job["training_job_name"], ndcg=ndcg)
        jobs.append(job["training_job_name"])
    live = as_json(cli(aws_env, cdk_json, "deploy", "guarded", jobs[0], "--json"))
    assert live["action"] == "created" and live["output_table"] == "A.B.GUARDED"
    run = cli(aws_env, cdk_json, "deploy", "guarded", "latest", "--min-ndcg-gain", "0")
    assert run.returncode == 1, run.stderr
    assert "refused" in run.stdout and "validation NDCG@10 0.3000, below the served model's 0.3300" in run.stdout
    endpoint = aws_client("sagemaker").describe_endpoint(EndpointName=f"{PREFIX}-guarded")
    assert endpoint["EndpointConfigName"] == live["endpoint_config_name"]


def test_undeploy_takes_the_endpoint_down_and_status_says_when_and_why(aws_env, cdk_json, stack, aws_client) -> None:
    job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.RETIRED", "--json"))
    complete(aws_client("logs"), job["training_job_name"], ndcg=0.3)
    as_json(cli(aws_env, cdk_json, "deploy", "retired", job["training_job_name"], "--json"))
    run = cli(aws_env, cdk_json, "undeploy", "retired")
    assert run.returncode == 0, run.stderr
    assert "undeployed" in run.stdout and f"{PREFIX}-retired" in run.stdout
    sagemaker = aws_client("sagemaker")
    assert not sagemaker.list_endpoints(NameContains=f"{PREFIX}-retired")["Endpoints"]
    assert not sagemaker.list_endpoint_configs(NameContains=f"{PREFIX}-retired-")["EndpointConfigs"]
    said = as_json(cli(aws_env, cdk_json, "status", "retired", "--json"))
    assert said["status"] == "NotDeployed" and said["reason"] == "recommender undeploy"
    bad = cli(aws_env, cdk_json, "undeploy", "not_a_name!")
    assert bad.returncode == 2 and bad.stderr.startswith("recommender undeploy: the model name must be")


def test_stop_stops_a_running_job_of_this_pipeline_and_refuses_anything_else(
    aws_env, cdk_json, stack, aws_client
) -> None:
    job = as_json(cli(aws_env, cdk_json, "train", "--input", "A.B.C", "--output", "A.B.STOPPED", "--json"))
    name = job["training_job_name"]
    stopped = as_json(cli(aws_env, cdk_json, "stop", name, "--json"))
    assert stopped == {"job": name, "kind": "training job", "action": "stopping", "status": "Stopping"}
    assert aws_client("sagemaker").describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    for other, fragment in (
        ("someone-train-0123456789ab", "is not a training or tuning job of this pipeline"),
        ("00f1r2u3n4i5d6a7", "has no Spark engine (spark.enabled) whose job runs it could be"),
        (f"{PREFIX}-train-000000000000", "This pipeline has no training job named"),
    ):
        refused = cli(aws_env, cdk_json, "stop", other)
        assert refused.returncode == 2 and fragment in refused.stderr, refused.stderr
    time.sleep(0.6)  # the stand-in ends a stopped job nobody runs after 0.5 s, as SageMaker does one still starting
    finished = cli(aws_env, cdk_json, "stop", name)
    assert finished.returncode == 2 and f"Training job {name} is Stopped: there is nothing to stop." in finished.stderr


def test_aws_without_a_region_or_refusing_is_one_sentence(aws_env, cdk_json, stack) -> None:
    no_region = {k: v for k, v in aws_env.items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    run = cli(no_region, cdk_json, "status")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert (
        run.stderr.strip()
        == "recommender status: You must specify a region: set AWS_REGION and your AWS credentials (or a profile)."
    )
    refused = cli({**aws_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, cdk_json, "status")  # nothing listens there
    assert refused.returncode == 2 and refused.stderr.startswith(
        "recommender status: Cannot read stack Recommender-ops:"
    )
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
