"""What SageMaker would run, run locally: training jobs and endpoints recorded in moto.

moto records ``CreateTrainingJob`` and the endpoint calls but runs nothing. Here each training
job is executed with the real training program in an ``/opt/ml``-shaped folder (its model
uploaded where SageMaker would put it, its output sent to CloudWatch Logs where SageMaker sends
it: group ``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<epoch seconds>``, from which
the patched moto reports the job's final metrics), and each endpoint gets a real serve process, reached
through :class:`RuntimeRoute`: a loopback server answering SageMaker-runtime's
``POST /endpoints/<name>/invocations`` that boto3 reaches via ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``.
A redeployed endpoint gets its new serve process before the old one stops.

An endpoint whose model cannot be served is reported ``Failed`` to the moto stand-in, with the
FailureReason SageMaker gives (the same report channel as training jobs): "The primary container for
production variant AllTraffic did not pass the ping health check. Please check CloudWatch logs for
this endpoint." when the container never answers /ping (aws/amazon-sagemaker-examples#210),
"Failed to download model data for container ... from URL ... Please ensure that there is an object
located at the URL and that the role passed to CreateModel has permissions to download the object."
when the artifact cannot be read (aws-samples/cvat-on-aws-china#3), and "Failed to extract model data
archive for container "container_1" from URL "s3://...". Please ensure that the object located at the URL
is a valid tar.gz archive." when it is read but cannot be unpacked (aws/deep-learning-containers#569):
garbage, a truncated archive, or members SageMaker will not unpack (symbolic links, AWS knowledge center
"sagemaker-endpoint-creation-fail", quoted in mantiumai/aws-sagemaker-gptj-deepspeed-blog#5) -- here
what ``tarfile``'s "data" filter refuses: absolute paths, ``../`` members, links leading outside.

The runtime route answers as SageMaker-runtime does, request id included (``x-amzn-RequestId``): an
unknown endpoint is a ``ValidationError`` ("Endpoint X of account N not found."), a container's
non-200 answer a ``ModelError`` (424) whose message ends "See https://<region>.console.aws.amazon.com/
cloudwatch/home?region=<region>#logEventViewer:group=/aws/sagemaker/Endpoints/<endpoint> in account
<id> for more information." (aws/amazon-sagemaker-examples#1881).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

if TYPE_CHECKING:  # boto3-stubs, in .venv for the type check only
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

from local_mode.standins import (
    LOOPBACK,
    LoopbackHttpServer,
    QuietHandler,
    Server,
    free_port,
    python_env,
    running,
)
from pipeline_shared.resources import TRAINING_LOG_GROUP

ACCOUNT = "123456789012"
REGION = "us-east-1"
OUTCOME_LOG_GROUP = "/local-mode/training-jobs"  # how local mode tells the moto stand-in a job's or endpoint's state
PING_FAILED = (
    "The primary container for production variant AllTraffic did not pass the ping health check. "
    "Please check CloudWatch logs for this endpoint."
)
STOPPED = 128 + 15  # the training program's exit status after SIGTERM
STOP_POLL_S = 1.0


class RuntimeRoute(LoopbackHttpServer):
    """SageMaker-runtime ``InvokeEndpoint`` on loopback, forwarding to registered serve processes."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        route = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
                parts = self.path.strip("/").split("/")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
                    self._answer(404, "ValidationError", {"message": f"No route for {self.path}."})
                    return
                endpoint = parts[1]
                target = route.routes.get(endpoint)
                if target is None:
                    message = f"Endpoint {endpoint} of account {ACCOUNT} not found."
                    self._answer(400, "ValidationError", {"message": message})
                    return
                status, content_type, answer = _forward(target, body, self.headers.get("Content-Type", ""))
                if status == 200:
                    self.send_body(200, content_type, answer)
                    return
                text = answer.decode(errors="replace")
                kind = "client" if 400 <= status < 500 else "server"
                console = (
                    f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
                    f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint}"
                )
                message = (
                    f'Received {kind} error ({status}) from primary with message "{text}". '
                    f"See {console} in account {ACCOUNT} for more information."
                )
                document = {"message": message, "OriginalStatusCode": status, "OriginalMessage": text}
                self._answer(424, "ModelError", document)

            def _answer(self, status: int, error_type: str, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())}
                self.send_body(status, "application/json", body, headers)

        super().__init__(Handler)

    def register(self, endpoint: str, port: int) -> None:
        with self._lock:
            self.routes[endpoint] = (LOOPBACK, port)

    def unregister(self, endpoint: str) -> None:
        with self._lock:
            self.routes.pop(endpoint, None)


def _forward(target: tuple[str, int], body: bytes, content_type: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(*target, timeout=60)
    try:
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def report_training_job(
    logs: Any, job: str, status: str, secondary: str | None = None, failure_reason: str | None = None
) -> None:
    """Tell the moto stand-in how a training job stands (see local_mode.moto_server): how local mode,
    which runs the jobs, moves them out of InProgress."""
    report(logs, job, {"status": status, "secondary_status": secondary or status, "failure_reason": failure_reason})


def endpoint_stream(endpoint: str) -> str:
    """The report stream of an endpoint (training and tuning jobs use their own names)."""
    return f"endpoints/{endpoint}"


def report_endpoint(logs: Any, endpoint: str, status: str, failure_reason: str | None = None) -> None:
    """Tell the moto stand-in how an endpoint stands since its last create or update (see local_mode.moto_server)."""
    report(logs, endpoint_stream(endpoint), {"status": status, "failure_reason": failure_reason})


def report(logs: Any, name: str, document: dict[str, Any]) -> None:
    """One state report on a training or tuning job to the moto stand-in (its stream is the job's name)."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=OUTCOME_LOG_GROUP)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=OUTCOME_LOG_GROUP, logStreamName=name)
    event = {"timestamp": time.time_ns() // 1_000_000, "message": json.dumps(document)}
    logs.put_log_events(logGroupName=OUTCOME_LOG_GROUP, logStreamName=name, logEvents=[event])


@dataclass(frozen=True)
class TrainingRun:
    job_name: str
    returncode: int
    stdout: str
    stderr: str
    model_artifact: str | None

    @property
    def failure(self) -> str | None:
        return None if self.returncode == 0 else (self.stderr.strip().splitlines() or ["failed"])[-1]


@dataclass
class _Serving:
    config: str
    server: Server
    stack: contextlib.ExitStack


class UnservableError(Exception):
    """An endpoint's model cannot be served: ``reason`` as SageMaker words it, ``detail`` what went wrong here."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class LocalSageMaker:
    """Runs moto's training jobs and endpoints for real. Use as a context manager."""

    def __init__(
        self,
        sagemaker: Any,
        s3: Any,
        workdir: Path,
        route: RuntimeRoute,
        env: dict[str, str],
        *,
        snowflake: dict[str, str] | None = None,
    ) -> None:
        """``snowflake``: where jobs find the Snowflake stand-in (``snowflake_host``/``_port``/``_protocol``).

        A job started by the Lambdas names only the account -- in AWS that is how it reaches Snowflake --
        so this stand-in of SageMaker adds the stand-in's address to each job's hyperparameters.
        """
        self.sagemaker, self.s3, self.workdir, self.route = sagemaker, s3, workdir, route
        self.snowflake = dict(snowflake or {})
        meta = sagemaker.meta  # CloudWatch Logs on the same stand-in (moto serves every service on one endpoint)
        self.logs = boto3.client("logs", region_name=meta.region_name, endpoint_url=meta.endpoint_url)
        self.env = env  # AWS_* variables and credentials the programs need
        self.serving: dict[str, _Serving] = {}
        self.unservable: dict[str, tuple[str, str]] = {}  # endpoint -> (config, what went wrong)

    def __enter__(self) -> LocalSageMaker:
        return self

    def __exit__(self, *exc: object) -> None:
        for endpoint in list(self.serving):
            self._stop(endpoint)

    def run_training_job(self, job_name: str) -> TrainingRun:
        """Execute the job's training program with its hyperparameters; upload its model; report how it ended.

        A job stopped before it ran is not run. While it runs, a ``StopTrainingJob`` reaches the program
        as SIGTERM, as SageMaker delivers it.
        """
        job = self.sagemaker.describe_training_job(TrainingJobName=job_name)
        if job["TrainingJobStatus"] != "InProgress":
            return TrainingRun(job_name, -1, "", f"training job {job_name} is {job['TrainingJobStatus']}", None)
        opt_ml = self.workdir / "training" / job_name
        config = opt_ml / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        hyperparameters = {**job.get("HyperParameters", {}), **self.snowflake}
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        report_training_job(self.logs, job_name, "InProgress", "Training")
        returncode, stdout, stderr = self._run_until_done(job_name, opt_ml)
        (opt_ml / "training.log").write_text(stderr + stdout, encoding="utf-8")
        self._publish_logs(job_name, stderr.splitlines() + stdout.splitlines())
        artifact = None
        if returncode == 0:
            artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
            self._upload_model(opt_ml / "model", artifact)
            report_training_job(self.logs, job_name, "Completed")
        elif returncode == STOPPED:
            report_training_job(self.logs, job_name, "Stopped")
        else:
            failure = opt_ml / "output" / "failure"
            reason = failure.read_text(encoding="utf-8", errors="replace") if failure.exists() else "no failure file"
            report_training_job(
                self.logs, job_name, "Failed", failure_reason=f"AlgorithmError: {reason.strip()}"[:1024]
            )
        return TrainingRun(job_name, returncode, stdout, stderr, artifact)

    def run_tuning_job(self, name: str) -> str | None:
        """Run a tuning job's training jobs one at a time and report the best; returns its name (None if none ended).

        SageMaker's Random strategy, whatever the job asked for: each training job's tuned
        hyperparameters are drawn from the ranges (log-uniformly where the scaling says so), with a
        seed from the tuning job's name. Each is created in moto as SageMaker would create it
        (``<tuning job>-NNN-<hash>``, the tuning job's tags) and run with :meth:`run_training_job`.
        """
        tuning = self.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if tuning["HyperParameterTuningJobStatus"] != "InProgress":
            return None
        config, definition = tuning["HyperParameterTuningJobConfig"], tuning["TrainingJobDefinition"]
        objective = config["HyperParameterTuningJobObjective"]
        tags = self.sagemaker.list_tags(ResourceArn=tuning["HyperParameterTuningJobArn"]).get("Tags", [])
        draw = random.Random(name)  # noqa: S311 -- sampling hyperparameters, not secrets
        report(self.logs, name, {"status": "InProgress"})
        results: list[tuple[str, dict, dict, float | None]] = []
        for number in range(1, config["ResourceLimits"]["MaxNumberOfTrainingJobs"] + 1):
            now = self.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            if now["HyperParameterTuningJobStatus"] == "Stopping":
                return _report_tuning(self.logs, name, objective, results, stopped=True)
            tuned = _draw(config["ParameterRanges"], draw)
            child = f"{name}-{number:03d}-{draw.getrandbits(32):08x}"
            self.sagemaker.create_training_job(
                TrainingJobName=child,
                AlgorithmSpecification=definition["AlgorithmSpecification"],
                RoleArn=definition["RoleArn"],
                HyperParameters={**definition.get("StaticHyperParameters", {}), **tuned},
                OutputDataConfig=definition["OutputDataConfig"],
                ResourceConfig=definition["ResourceConfig"],
                StoppingCondition=definition["StoppingCondition"],
                Tags=tags,
            )
            run = self.run_training_job(child)
            job = self.sagemaker.describe_training_job(TrainingJobName=child)
            values = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
            value = values.get(objective["MetricName"]) if run.returncode == 0 else None
            results.append((child, job, tuned, value))
        return _report_tuning(self.logs, name, objective, results, stopped=False)

    def _run_until_done(self, job_name: str, opt_ml: Path) -> tuple[int, str, str]:
        """Run the training program; a stop requested meanwhile is passed on as SIGTERM."""
        out, err = opt_ml / "stdout.txt", opt_ml / "stderr.txt"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "recommender.train"],
                env=python_env(OPT_ML=str(opt_ml), TRAINING_JOB_NAME=job_name, **self.env),
                stdout=stdout,
                stderr=stderr,
                text=True,
            )
            try:
                signalled = False
                while process.poll() is None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=STOP_POLL_S)
                    if process.returncode is None and not signalled:
                        status = self.sagemaker.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"]
                        if status == "Stopping":
                            process.send_signal(signal.SIGTERM)
                            signalled = True
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        return process.returncode, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")

    def _publish_logs(self, job_name: str, lines: list[str]) -> None:
        """The job's output, as SageMaker's log agent sends it (one event per line, in batches)."""
        logs = self.logs
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        now = int(time.time() * 1000)
        stream = f"{job_name}/algo-1-{now // 1000}"
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)
        events: list[InputLogEventTypeDef] = [{"timestamp": now, "message": line} for line in lines if line.strip()]
        for start in range(0, len(events), 1000):
            logs.put_log_events(
                logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, logEvents=events[start : start + 1000]
            )

    def sync_endpoints(self) -> list[str]:
        """Start or switch serve processes so every endpoint in moto is served; returns changed ones.

        An endpoint whose model cannot be served (its artifact was never produced, or is damaged) is
        left unrouted and reported ``Failed`` with SageMaker's FailureReason (what went wrong here is
        kept in ``unservable``); a Failed endpoint is not tried again -- SageMaker's can only be deleted --
        but one created anew under its name is.
        """
        changed = []
        listed = self.sagemaker.get_paginator("list_endpoints").paginate()  # every page: ListEndpoints gives 10 a page
        for summary in (summary for page in listed for summary in page["Endpoints"]):
            endpoint = summary["EndpointName"]
            described = self.sagemaker.describe_endpoint(EndpointName=endpoint)
            config, current = described["EndpointConfigName"], self.serving.get(endpoint)
            if described["EndpointStatus"] == "Failed" or (current is not None and current.config == config):
                continue
            try:
                self._serve(endpoint, config)
            except UnservableError as exc:
                self.unservable[endpoint] = (config, exc.detail)
                report_endpoint(self.logs, endpoint, "Failed", exc.reason)
                continue
            self.unservable.pop(endpoint, None)
            changed.append(endpoint)
        return changed

    def _serve(self, endpoint: str, config: str) -> None:
        variants = self.sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        model = self.sagemaker.describe_model(ModelName=variants[0]["ModelName"])
        opt_ml = self.workdir / "endpoints" / endpoint / config
        data = model["PrimaryContainer"].get("ModelDataUrl")
        if not data:  # the container starts without a model and never answers /ping
            raise UnservableError(PING_FAILED, f"model {model['ModelName']} has no ModelDataUrl: nothing to serve")
        archive = opt_ml / "model.tar.gz"
        try:
            self._download(data, archive)
        except (ClientError, OSError) as exc:
            reason = (
                f'Failed to download model data for container "container_1" from URL: "{data}". Please ensure '
                "that there is an object located at the URL and that the role passed to CreateModel has "
                "permissions to download the object."
            )
            raise UnservableError(reason, f"{type(exc).__name__}: {exc}") from exc
        try:
            _extract(archive, opt_ml / "model")
        # tarfile words a corrupt stream or a refused member as a TarError, but lets gzip's EOFError for a
        # truncated archive through (and its OSError, BadGzipFile, for a damaged trailer).
        except (tarfile.TarError, EOFError, OSError) as exc:
            reason = (
                f'Failed to extract model data archive for container "container_1" from URL "{data}". Please '
                "ensure that the object located at the URL is a valid tar.gz archive."
            )
            raise UnservableError(reason, f"{type(exc).__name__}: {exc}") from exc
        port = free_port()
        command = [sys.executable, "-m", "recommender.serve", "--host", LOOPBACK, "--port", str(port), "--workers", "1"]
        stack = contextlib.ExitStack()
        try:
            server = stack.enter_context(
                running(command, port=port, log=opt_ml / "serve.log", env=python_env(OPT_ML=str(opt_ml)))
            )
        except (RuntimeError, OSError) as exc:  # the serve process exited or never listened
            raise UnservableError(PING_FAILED, f"{type(exc).__name__}: {exc}") from exc
        previous = self.serving.get(endpoint)
        self.serving[endpoint] = _Serving(config, server, stack)
        self.route.register(endpoint, port)  # the new version answers before the old one stops
        if previous is not None:
            previous.stack.close()

    def _stop(self, endpoint: str) -> None:
        self.route.unregister(endpoint)
        self.serving.pop(endpoint).stack.close()

    def _upload_model(self, model_dir: Path, uri: str) -> None:
        archive = model_dir.parent / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        bucket, key = _split(uri)
        self.s3.upload_file(str(archive), bucket, key)

    def _download(self, uri: str, archive: Path) -> None:
        archive.parent.mkdir(parents=True, exist_ok=True)
        bucket, key = _split(uri)
        self.s3.download_file(bucket, key, str(archive))


def _report_tuning(
    logs: Any,
    name: str,
    objective: dict[str, str],
    results: list[tuple[str, dict, dict, float | None]],
    *,
    stopped: bool,
) -> str | None:
    """Report how a tuning job ended -- with the best training job so far, as SageMaker keeps it even when stopped."""
    scored = [(r[3], r) for r in results if r[3] is not None]
    best = (max if objective["Type"] == "Maximize" else min)(scored, key=lambda s: s[0])[1] if scored else None
    document: dict[str, Any] = {
        "status": "Stopped" if stopped else "Completed" if best else "Failed",
        "failure_reason": None if best or stopped else "No training job reported the objective metric.",
        "training_job_status_counters": {
            "Completed": sum(r[1]["TrainingJobStatus"] == "Completed" for r in results),
            "NonRetryableError": sum(r[1]["TrainingJobStatus"] == "Failed" for r in results),
        },
        "objective_status_counters": {"Succeeded": len(scored), "Failed": len(results) - len(scored)},
    }
    if best:
        child, job, tuned, value = best
        document["best_training_job"] = {
            "TrainingJobName": child,
            "TrainingJobArn": job["TrainingJobArn"],
            "CreationTime": job["CreationTime"].isoformat(),
            "TrainingJobStatus": job["TrainingJobStatus"],
            "TunedHyperParameters": tuned,
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": objective["MetricName"], "Value": value},
            "ObjectiveStatus": "Succeeded",
        }
    report(logs, name, document)
    return best[0] if best else None


def _draw(ranges: dict[str, Any], draw: random.Random) -> dict[str, str]:
    """One value per tuned hyperparameter, as SageMaker passes them: strings."""
    values: dict[str, str] = {}
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for spec in ranges.get(kind, []):
            low, high = float(spec["MinValue"]), float(spec["MaxValue"])
            if spec.get("ScalingType") in ("Logarithmic", "ReverseLogarithmic") and low > 0:
                value = math.exp(draw.uniform(math.log(low), math.log(high)))
            else:
                value = draw.uniform(low, high)
            values[spec["Name"]] = str(round(value)) if kind == "IntegerParameterRanges" else f"{value:.6g}"
    for spec in ranges.get("CategoricalParameterRanges", []):
        values[spec["Name"]] = draw.choice(spec["Values"])
    return values


def _extract(archive: Path, model_dir: Path) -> None:
    """Unpack ``archive`` into ``model_dir`` as SageMaker unpacks a model (regular files and folders only)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")
