"""``recommender``: the SQL functions' operations from a terminal, for the people who run the pipeline.

Every verb reads the environment's settings from cdk.json and its deployed stack's outputs
(:mod:`operator_cli.stack`) and then runs the external-function Lambdas' own logic with them:
``train`` sends exactly the request ``train_and_get_recommendations`` builds, ``deploy`` is
``deploy_model``, ``invoke`` is ``invoke_model``, ``recommend`` is ``recommend`` and ``status`` is
``pipeline_status`` (plus the recent jobs with their metrics side by side).

Exit status: 0 done (``status`` of a failed job is an answer too), 2 the input or the environment
needs fixing (one sentence on stderr), 1 AWS failed or is throttling (retry later), the job
``logs`` / ``train --wait`` followed ended Failed or Stopped, or ``deploy``'s quality guard refused the model.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from external_functions import (
    aws,
    deployment,
    deployment_records,
    pipeline_jobs,
    scoring,
    spark,
    status,
    training,
    undeployment,
)
from external_functions.errors import PipelineError, RetryableError
from operator_cli import sdk, tuning
from operator_cli.stack import DeployedStack, resolve
from pipeline_shared import InputError, first_line, logs, resources
from pipeline_shared.pipeline_objects import named
from pipeline_shared.sagemaker_kinds import TRAINING_JOBS
from pipeline_shared.training_options import METRIC_NAMES, NDCG_AT_10
from stacks.config import CDK_JSON

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_sagemaker import SageMakerClient


DESCRIPTION = """The pipeline's SQL functions from a terminal, on a deployed environment (--env).

Each verb runs the external functions' own code with the stack's settings (cdk.json plus the
stack's outputs): train = train_and_get_recommendations, status = pipeline_status,
deploy = deploy_model, undeploy = undeploy_model, invoke = invoke_model, recommend = recommend;
stop stops a running training or tuning job.

examples:
  recommender train --env dev --input MOVIELENS.PUBLIC.RATINGS --output MOVIELENS.PUBLIC.RECS --option n_epochs=30
  recommender logs --env dev movielens-dev-train-1a2b3c4d5e6f
  recommender status --env dev
  recommender deploy --env dev movielens latest     # or a training job, or a tuning job (its best job)
  recommender recommend --env dev movielens 42 10
  recommender undeploy --env dev movielens           # the endpoint down, its configs and models deleted
  recommender stop --env dev movielens-dev-train-1a2b3c4d5e6f

exit status: 0 done (status of a failed job included); 2 the input or the environment needs fixing;
1 AWS failed or throttled (retry later), the job followed by logs / train --wait ended Failed or Stopped,
or deploy's quality guard (--min-ndcg-gain) refused the model
"""
INVOKE_BUDGET_S = 60
RECENT_JOBS = 10


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    logs.send_to(sys.stderr, metrics=False)  # stdout is the answer; the functions' code logs to stderr here
    try:
        if args.verb in ("logs", "tune") or getattr(args, "wait", False):
            sdk.ensure(argv)  # follows jobs with the SageMaker SDK, from .venv-operator
        stack = resolve(args.env, boto3.client("cloudformation"), cdk_json=args.cdk_json)
        result = args.run(args, stack)
    except (InputError, PipelineError) as exc:
        if isinstance(exc, RetryableError):
            message, retry = exc.told("retry later"), True
        else:
            message, retry = exc.message, False
        print(f"recommender {args.verb}: {message}", file=sys.stderr)
        return 1 if retry else 2
    except (NoRegionError, NoCredentialsError) as exc:
        print(
            f"recommender {args.verb}: {first_line(exc)}: set AWS_REGION and your AWS credentials (or a profile).",
            file=sys.stderr,
        )
        return 2
    except (ClientError, BotoCoreError) as exc:  # a call outside the Lambdas' own error handling
        print(f"recommender {args.verb}: AWS refused or failed: {first_line(exc)}.", file=sys.stderr)
        return 1
    if args.json or getattr(args, "dry_run", False):
        print(json.dumps(result, indent=2, default=str))
    else:
        args.show(result)
    # a job followed to its end that failed exits 1; status only reports (a failed job's status is an answer)
    followed = args.verb == "logs" or getattr(args, "wait", False)
    ended_badly = isinstance(result, dict) and result.get("status") in ("Failed", "Stopped")
    refused = isinstance(result, dict) and result.get("action") == "refused"  # the quality guard said no
    return 1 if (followed and ended_badly) or refused else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recommender", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, help="environment in cdk.json, e.g. dev (its stack must be deployed)")
    common.add_argument("--cdk-json", type=Path, default=CDK_JSON, help="cdk.json to read (default: the project's)")
    common.add_argument("--json", action="store_true", help="print the answer as JSON instead of a table")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, summary: str, run: Callable[..., Any], show: Callable[[Any], None]) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, parents=[common], help=summary, description=summary)
        sub.set_defaults(run=run, show=show)
        return sub

    train = verb("train", "start a training job, as train_and_get_recommendations does", _train, _show_job)
    train.add_argument("--input", required=True, help="ratings table, DB.SCHEMA.TABLE")
    train.add_argument("--output", required=True, help="recommendations table, DB.SCHEMA.TABLE")
    train.add_argument("--wait", action="store_true", help="follow the job's logs until it ends, then show its metrics")
    _poll_argument(train)
    train.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a training option (repeatable), e.g. n_epochs=30",
    )
    logs = verb(
        "logs",
        "follow a training job's CloudWatch logs (or a tuning job's progress) until it ends, then show its status",
        _logs,
        _show_mapping,
    )
    logs.add_argument(
        "job", help="training job name, as train or train_and_get_recommendations answered, or tuning job"
    )
    _poll_argument(logs)
    state = verb(
        "status",
        "a job's or model's status, as pipeline_status shows it; without NAME, the recent jobs",
        _status,
        _show_status,
    )
    state.add_argument("name", nargs="?", help="training job, tuning job, model or endpoint name")
    tune = verb("tune", "SageMaker Automatic Model Tuning over the model's hyperparameters", _tune, _show_mapping)
    tune.add_argument("--input", required=True, help="ratings table, DB.SCHEMA.TABLE")
    tune.add_argument("--output", required=True, help="a scratch table: each training job writes it in turn")
    tune.add_argument("--max-jobs", type=int, default=10, help="training jobs in all (default 10)")
    tune.add_argument("--parallel", type=int, default=2, help="training jobs at once (default 2)")
    tune.add_argument("--objective", default=NDCG_AT_10, help=f"one of {', '.join(tuning.OBJECTIVES)}")
    tune.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="a fixed option (repeatable)")
    tune.add_argument("--dry-run", action="store_true", help="print the CreateHyperParameterTuningJob request only")
    deploy = verb("deploy", "put a model behind an endpoint, as deploy_model does", _deploy, _show_mapping)
    deploy.add_argument("model", help="model name, e.g. movielens")
    deploy.add_argument(
        "ref",
        help="'latest' (the newest job that wrote the table the model serves now), 'latest:DB.SCHEMA.TABLE', "
        "a training job name, a tuning job name (serves its best training job), "
        "or an s3:// model.tar.gz under the stack's <prefix>/models/",
    )
    deploy.add_argument(
        "--min-ndcg-gain",
        type=float,
        metavar="GAIN",
        help="the quality guard: deploy only if the model's validation NDCG@10 is at least the served model's "
        "plus GAIN (e.g. 0); a refusal exits 1 and leaves the endpoint as it is",
    )
    undeploy = verb(
        "undeploy",
        "take a model's endpoint down and delete its endpoint configs and models, as undeploy_model does",
        _undeploy,
        _show_mapping,
    )
    undeploy.add_argument("model", help="model name, e.g. movielens")
    stop = verb(
        "stop", "stop a running training or tuning job of this pipeline, or a Spark job run", _stop, _show_mapping
    )
    stop.add_argument("job", help="training job or tuning job name, or a Spark job run's id (engine=spark)")
    invoke = verb("invoke", "a predicted rating, as invoke_model gives it", _invoke, _show_value)
    invoke.add_argument("model")
    invoke.add_argument("user", type=int)
    invoke.add_argument("movie", type=int)
    recommend = verb(
        "recommend", "a user's top movies from an endpoint, as recommend gives them", _recommend, _show_value
    )
    recommend.add_argument("model")
    recommend.add_argument("user", type=int)
    recommend.add_argument("k", type=int, nargs="?", default=10)
    return parser


@cache
def _sagemaker() -> Any:
    """SageMaker with botocore's standard retries: a terminal has no Snowflake to retry a throttled call for it.

    (The Lambdas' clients make one bounded attempt per call to fit API Gateway's 29 s: ``external_functions.aws``.)
    """
    return boto3.client("sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def _poll_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll",
        type=_poll_seconds,
        default=sdk.POLL_S,
        metavar="SECONDS",
        help=f"seconds between reads of the job's status and logs, 1 to 60 (default {sdk.POLL_S}); after the job "
        "ends, its last lines are read once more this long after",
    )


def _poll_seconds(text: str) -> int:
    seconds = int(text) if text.strip().isdigit() else 0
    if not 1 <= seconds <= 60:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of seconds from 1 to 60")
    return seconds


def _train(args: argparse.Namespace, stack: DeployedStack) -> dict[str, Any]:
    options = dict(_option(text) for text in args.option)
    request = training.parse_request(0, args.input, args.output, options or None)
    [job] = training.start([request], stack.training(), _sagemaker(), retry_key=None)  # a new job per call
    if args.wait:
        _show_job(job)
        print()
        return _followed(job["training_job_name"], stack, poll=args.poll)
    return job


def _tune(args: argparse.Namespace, stack: DeployedStack) -> dict[str, Any]:
    options = dict(_option(text) for text in args.option)
    request = training.parse_request(0, args.input, args.output, options or None)
    name = tuning.tuning_job_name(stack.prefix, uuid.uuid4().hex)
    return tuning.tune(
        request,
        stack.training(),
        name=name,
        objective=args.objective,
        max_jobs=args.max_jobs,
        parallel=args.parallel,
        dry_run=args.dry_run,
    )


def _logs(args: argparse.Namespace, stack: DeployedStack) -> dict[str, Any]:
    if tuning.is_tuning_job(args.job, stack.prefix):
        return tuning.follow(args.job, _sagemaker(), poll=args.poll)
    if not args.job.startswith(resources.training_job_prefix(stack.prefix)):
        raise InputError(
            f"'{args.job}' is not a training or tuning job of this pipeline (they start with "
            f"{resources.training_job_prefix(stack.prefix)} or {resources.tuning_job_prefix(stack.prefix)})."
        )
    return _followed(args.job, stack, poll=args.poll)


def _followed(job: str, stack: DeployedStack, *, poll: int) -> dict[str, Any]:
    """Print the job's logs until it ends; its status as pipeline_status shows it."""
    if pipeline_jobs.describe(_sagemaker(), job) is None:
        raise InputError(f"This pipeline has no training job named '{job}'.")
    sdk.follow(job, region=stack.region, poll=poll)
    return status.describe(job, stack.prefix, _sagemaker(), row=0)


def _option(text: str) -> tuple[str, Any]:
    name, equals, raw = text.partition("=")
    if not equals or not name.strip():
        raise InputError(f"--option '{text}' must be NAME=VALUE, e.g. --option n_epochs=30.")
    try:
        value = json.loads(raw)  # numbers as numbers, like an OBJECT from SQL
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def _status(args: argparse.Namespace, stack: DeployedStack) -> Any:
    if args.name and tuning.is_tuning_job(args.name, stack.prefix):
        return tuning.describe(args.name, _sagemaker())
    if args.name:
        bucket = stack.hosting().bucket
        records = partial(deployment_records.last_undeployed, _s3(), bucket, stack.prefix)
        return status.describe(args.name, stack.prefix, _sagemaker(), row=0, undeployed=records)
    return recent_jobs(stack.prefix, _sagemaker())


def recent_jobs(prefix: str, sagemaker: SageMakerClient, limit: int = RECENT_JOBS) -> list[dict[str, Any]]:
    """The pipeline's newest training jobs, each as ``pipeline_status`` describes it."""
    start = resources.training_job_prefix(prefix)
    listed = named(sagemaker, TRAINING_JOBS, start, SortBy="CreationTime", SortOrder="Descending", MaxResults=100)
    jobs = [summary["TrainingJobName"] for summary in itertools.islice(listed, limit)]
    return [status.training_job_status(sagemaker.describe_training_job(TrainingJobName=job)) for job in jobs]


def _deploy(args: argparse.Namespace, stack: DeployedStack) -> dict[str, Any]:
    options = None if args.min_ndcg_gain is None else {deployment.GUARD_OPTION: args.min_ndcg_gain}
    hosting = stack.hosting()
    request = deployment.parse_request(0, hosting.prefix, args.model, args.ref, options)
    [deployed] = deployment.deploy([request], hosting, _sagemaker())
    return deployed


def _undeploy(args: argparse.Namespace, stack: DeployedStack) -> dict[str, Any]:
    model = resources.model_name(args.model, stack.prefix, row=0).lower()
    bucket = stack.hosting().bucket
    done = undeployment.undeploy(
        model, prefix=stack.prefix, bucket=bucket, sagemaker=_sagemaker(), s3=_s3(), reason="recommender undeploy"
    )
    return done.answer()


def _stop(args: argparse.Namespace, stack: DeployedStack) -> dict[str, Any]:
    prefix = stack.prefix
    if args.job.startswith((resources.training_job_prefix(prefix), resources.tuning_job_prefix(prefix))):
        return pipeline_jobs.stop(_sagemaker(), prefix, args.job)
    application = stack.outputs.get("SparkApplicationId")  # the stack has one only with spark.enabled
    if application:
        return spark.stop(boto3.client("emr-serverless"), application, prefix, args.job)
    raise InputError(
        f"'{args.job}' is not a training or tuning job of this pipeline (they start with "
        f"{resources.training_job_prefix(prefix)} or {resources.tuning_job_prefix(prefix)}), and this environment "
        "has no Spark engine (spark.enabled) whose job runs it could be: nothing was stopped."
    )


@cache
def _s3() -> Any:
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def _scoring(stack: DeployedStack) -> tuple[str, Any, float, Any]:
    prefix = stack.prefix
    return prefix, aws.sagemaker_runtime, time.monotonic() + INVOKE_BUDGET_S, lambda e: aws.endpoint_is_ours(e, prefix)


def _invoke(args: argparse.Namespace, stack: DeployedStack) -> float | None:
    request = scoring.rating_request(0, stack.prefix, args.model, args.user, args.movie)
    [rating] = scoring.invoke([request], *_scoring(stack))
    return rating


def _recommend(args: argparse.Namespace, stack: DeployedStack) -> list[int] | None:
    request = scoring.top_k_request(0, stack.prefix, args.model, args.user, args.k)
    [movies] = scoring.recommend([request], *_scoring(stack))
    return movies


# -- printing ---------------------------------------------------------------------------------


def _show_job(job: dict[str, Any]) -> None:
    _show_mapping(job)
    if "training_job_name" in job and job.get("status") == "InProgress":
        print(f"\nfollow it with: recommender logs --env <env> {job['training_job_name']}")


def _show_mapping(document: dict[str, Any]) -> None:
    width = max((len(key) for key in document), default=0)
    for key, value in document.items():
        if isinstance(value, dict):
            print(f"{key}:")
            inner = max((len(k) for k in value), default=0)
            for name, item in value.items():
                print(f"  {name:<{inner}}  {_number(item)}")
        else:
            print(f"{key:<{width}}  {value}")


def _show_status(answer: dict[str, Any] | list[dict[str, Any]]) -> None:
    if isinstance(answer, dict):
        _show_mapping(answer)
        return
    if not answer:
        print("no training jobs yet: start one with `recommender train` or train_and_get_recommendations")
        return
    metrics = [name for name in METRIC_NAMES if any(name in job.get("metrics", {}) for job in answer)]
    header = [
        "job",
        "status",
        "created",
        "output table",
        "algorithm",
        "ranking",
        *(m.split(":", 1)[-1] for m in metrics),
    ]
    rows = [
        [
            job["name"],
            job["status"],
            str(job.get("created", ""))[:19],
            job.get("output_table", ""),
            job.get("algorithm", "-"),
            job.get("ranking", "-"),
            *(_number(job.get("metrics", {}).get(m)) for m in metrics),
        ]
        for job in answer
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _show_value(value: Any) -> None:
    print("NULL" if value is None else _number(value) if isinstance(value, float) else value)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
