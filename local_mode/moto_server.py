"""moto's server, made to answer SageMaker's endpoint calls the way SageMaker does.

- ``UpdateEndpoint``, which moto 5.2.5 lacks: the endpoint then names the new config and its
  variants and stays InService. Like SageMaker, it refuses to switch an endpoint between real-time
  instances and serverless ("Updating a real-time inference endpoint to ... a serverless endpoint
  ... is currently not supported"): that needs delete + create.
- Eventual consistency: SageMaker verifies an endpoint config in a store that may not have it yet,
  so CreateEndpoint/UpdateEndpoint right after CreateEndpointConfig can fail with a validation error
  ("retry logic is recommended", CreateEndpoint API reference). Here a config is invisible to them
  for ``LOCAL_SAGEMAKER_CONFIG_DELAY_S`` seconds (default 0.4) after it was created.

- Training jobs keep the caller's ``MetricDefinitions`` (moto swaps in a sample definition and a
  made-up ``train:progress`` metric), and ``DescribeTrainingJob`` reports ``FinalMetricDataList``
  as SageMaker does: per definition, the last value its regex captures from the job's output in
  CloudWatch Logs (``/aws/sagemaker/TrainingJobs``, streams ``<job>/...``; local mode puts it there).

- Training jobs live as SageMaker's do: ``InProgress`` from creation until local mode, which runs
  them, reports how they ended (``Completed``, ``Failed`` with the failure file as ``AlgorithmError:
  ...``, or ``Stopped``). ``StopTrainingJob``, which moto lacks, moves an ``InProgress`` job to
  ``Stopping`` and refuses any other ("the training job is in status Completed"); local mode then
  sends the program SIGTERM, as SageMaker does. A job local mode is not running is ``Stopped``
  ``STOP_DELAY_S`` after the stop, as a job still provisioning is. Local mode reports through this
  server's CloudWatch Logs: one JSON event per change in group ``/local-mode/training-jobs``,
  stream ``<job>`` (``{"status", "secondary_status", "failure_reason"}``) -- a stand-in channel,
  not a SageMaker one.
- ``ListTrainingJobs`` sorts (``SortBy``/``SortOrder``), pages, and filters each page by ``StatusEquals``, as
  SageMaker documents; moto ignores the sort and pages before filtering by name. ``ListModels`` honours
  ``NameContains`` and pages; moto answers every model at once.
- ``ListEndpoints``, ``ListEndpointConfigs`` and ``ListHyperParameterTuningJobs`` without ``MaxResults`` answer
  10 at a time, as SageMaker documents for endpoints and tuning jobs (moto: 100), so paging is exercised.
- Tuning jobs likewise: moto makes them ``Completed`` at once with a made-up best job. Here they
  are ``InProgress`` until local mode, which runs their training jobs, reports the end and the
  best training job (same channel, stream ``<tuning job>``). ``StopHyperParameterTuningJob`` (moto
  lacks it) works as ``StopTrainingJob`` does; local mode checks for it between training jobs.
  A missing tuning job is SageMaker's ``ResourceNotFound`` with SageMaker's words ("Amazon SageMaker
  can't find a tuning job called X. Type another name.", aws/amazon-sagemaker-examples#1540), not
  moto's "Could not find hyper parameter tuning job".
- Endpoints stay ``InService`` (moto's) unless local mode, which serves them, reports otherwise on the
  same channel (stream ``endpoints/<endpoint>``): ``Failed`` with SageMaker's FailureReason when the
  model cannot be served, or any state a test reports. A report counts until the endpoint is next
  created or updated. As SageMaker documents for a Failed endpoint, "DeleteEndpoint is the only
  operation that can be performed on a failed endpoint": ``UpdateEndpoint`` refuses it
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html).

- EMR Serverless ``StartJobRun`` honours ``clientToken``, "the client idempotency token of the job run
  to start" (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html): a
  second call with an application's token answers that token's run instead of starting another, as
  moto 5.2.5 does. A run is ``RUNNING`` from its start (moto: ``SUCCESS`` at once; nothing runs Spark here);
  ``CancelJobRun`` makes it ``CANCELLING``, then ``CANCELLED`` ``STOP_DELAY_S`` later, and refuses a run that
  has ended.

Run as ``python -m local_mode.moto_server -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.emrserverless.exceptions import ValidationException as EMRValidationException
from moto.emrserverless.models import EMRServerlessBackend, JobRun
from moto.logs.models import logs_backends
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import PAGINATION_MODEL as SAGEMAKER_PAGINATION
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeTrainingJob,
    HyperParameterTuningJob,
    SageMakerModelBackend,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main

from local_mode.sagemaker import OUTCOME_LOG_GROUP, TRAINING_LOG_GROUP, endpoint_stream

CONFIG_DELAY_S = float(os.environ.get("LOCAL_SAGEMAKER_CONFIG_DELAY_S", "0.4"))
_created: dict[str, float] = {}  # endpoint config name -> when it was created
_create_endpoint_config = SageMakerModelBackend.create_endpoint_config
_create_endpoint = SageMakerModelBackend.create_endpoint
_training_job_init = FakeTrainingJob.__init__
_describe_training_job = SageMakerModelBackend.describe_training_job
STOP_DELAY_S = 0.5
_list_training_jobs = SageMakerModelBackend.list_training_jobs
_list_training_jobs_action = SageMakerResponse.list_training_jobs
_stop_requested: dict[str, float] = {}  # training job name -> when StopTrainingJob was called
_start_job_run = EMRServerlessBackend.start_job_run
_endpoint_changed: dict[str, int] = {}  # endpoint name -> when it was last created or updated (ms since the epoch)


def _training_job_as_given(self: FakeTrainingJob, *args: Any, **kwargs: Any) -> None:
    definitions = copy.deepcopy(kwargs["algorithm_specification"].get("MetricDefinitions"))
    _training_job_init(self, *args, **kwargs)
    if definitions:
        self.algorithm_specification["MetricDefinitions"] = definitions
    else:
        self.algorithm_specification.pop("MetricDefinitions", None)
    self.final_metric_data_list = None
    self.training_job_status, self.secondary_status = "InProgress", "Starting"
    _stop_requested.pop(self.training_job_name, None)  # a job created again under an old name starts afresh
    self.training_end_time = None
    self.failure_reason = None


def _describe_training_job_with_metrics(self: SageMakerModelBackend, training_job_name: str) -> dict[str, Any]:
    job = self.training_jobs.get(training_job_name)
    if job is not None:
        _refresh(self, job)
        metrics = _final_metrics(self.account_id, self.region_name, training_job_name, job)
        job.final_metric_data_list = metrics or None
    return _describe_training_job(self, training_job_name)


LIST_PAGE = 10  # a page when MaxResults is not given (SageMaker documents no default: clients follow NextToken)
# The pages moto gives without MaxResults (100) made to SageMaker's: "This value defaults to 10" (API_ListEndpoints),
# "The default value is 10" (API_ListHyperParameterTuningJobs); ListEndpointConfigs documents none, so LIST_PAGE too.
for _listing in ("list_endpoints", "list_endpoint_configs", "list_hyper_parameter_tuning_jobs"):
    SAGEMAKER_PAGINATION[_listing]["limit_default"] = LIST_PAGE
_SORT_KEYS = {"CreationTime": "CreationTime", "Name": "TrainingJobName", "Status": "TrainingJobStatus"}


def _page(response: SageMakerResponse, items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """``items`` from the request's ``NextToken`` on, at most ``MaxResults``, with the next token if any are left."""
    start = int(response._get_param("NextToken") or 0)
    end = start + (response._get_int_param("MaxResults") or LIST_PAGE)
    page: dict[str, Any] = {key: items[start:end]}
    if end < len(items):
        page["NextToken"] = str(end)
    return page


def _list_models_as_sagemaker_does(self: SageMakerResponse) -> ActionResult:
    """ListModels filtered by ``NameContains`` and paged by ``MaxResults``/``NextToken``; moto 5.2.5 answers every
    model in one page (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListModels.html)."""
    contains = self._get_param("NameContains") or ""
    models = [m.response_object for m in self.sagemaker_backend.list_models() if contains in m.model_name]
    return ActionResult(_page(self, models, "Models"))


def _list_training_jobs_as_they_are(self: SageMakerModelBackend, **kwargs: Any) -> Any:
    """Every job matching all but ``StatusEquals``, as it stands: :func:`_list_training_jobs_as_sagemaker_does`
    sorts, pages, and then filters the page by status."""
    for job in self.training_jobs.values():
        _refresh(self, job)
    return _list_training_jobs(self, **{**kwargs, "next_token": None, "max_results": None, "status_equals": None})


def _list_training_jobs_as_sagemaker_does(self: SageMakerResponse) -> ActionResult:
    """ListTrainingJobs as SageMaker documents it (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_ListTrainingJobs.html): sorted by ``SortBy``/``SortOrder`` (default ``CreationTime``, ``Ascending``), paged by
    ``MaxResults``/``NextToken``, and -- "When StatusEquals and MaxResults are set at the same time, the MaxResults
    number of training jobs are first retrieved ignoring the StatusEquals parameter and then they are filtered by
    the StatusEquals parameter" -- filtered by status within the page, so a page may hold fewer matches than
    ``MaxResults``, even none, while ``NextToken`` says more follow. moto 5.2.5 ignores the sort and pages
    before filtering by name.
    """
    answer = _list_training_jobs_action(self).result
    assert isinstance(answer, dict)
    key = _SORT_KEYS[self._get_param("SortBy", "CreationTime")]
    summaries = sorted(
        answer["TrainingJobSummaries"],
        key=lambda job: (job[key], job["TrainingJobName"]),
        reverse=self._get_param("SortOrder", "Ascending") == "Descending",
    )
    page = _page(self, summaries, "TrainingJobSummaries")
    status = self._get_param("StatusEquals")
    if status:
        page["TrainingJobSummaries"] = [j for j in page["TrainingJobSummaries"] if j["TrainingJobStatus"] == status]
    return ActionResult(page)


def _refresh(backend: SageMakerModelBackend, job: FakeTrainingJob) -> None:
    """The job's state from local mode's last report, or from a stop nobody is running the job to see."""
    reports = _reports(backend.account_id, backend.region_name, job.training_job_name)
    latest = reports[-1] if reports else {}
    status = latest.get("status", "InProgress")
    stopped_at = _stop_requested.get(job.training_job_name)
    if status == "InProgress" and stopped_at is not None:
        claimed = bool(reports)  # local mode is running it: it sends SIGTERM and reports Stopped
        status = "Stopping" if claimed or time.monotonic() - stopped_at < STOP_DELAY_S else "Stopped"
    if status == job.training_job_status and not latest:
        return
    job.training_job_status = status
    job.secondary_status = latest.get("secondary_status") or status
    job.failure_reason = latest.get("failure_reason")
    if status in ("Completed", "Failed", "Stopped") and job.training_end_time is None:
        job.training_end_time = job.last_modified_time = utcnow()


def _reports(account: str, region: str, name: str) -> list[dict[str, Any]]:
    return [document for _, document in _timed_reports(account, region, name)]


def _timed_reports(account: str, region: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    """Local mode's reports on stream ``name``, oldest first, with their timestamps (ms since the epoch)."""
    group = logs_backends[account][region].groups.get(OUTCOME_LOG_GROUP)
    stream = group.streams.get(name) if group is not None else None
    if stream is None:
        return []
    reports = []
    for event in sorted(stream.events, key=lambda event: event.timestamp):
        with contextlib.suppress(ValueError):
            reports.append((event.timestamp, json.loads(event.message)))
    return reports


def _stop_training_job(self: SageMakerModelBackend, training_job_name: str) -> None:
    job = self.training_jobs.get(training_job_name)
    if job is None:
        raise ValidationError(message=f"Requested resource not found: training job {training_job_name}.")
    _refresh(self, job)
    if job.training_job_status != "InProgress":
        raise ValidationError(
            message=f"The request was rejected because the training job is in status {job.training_job_status}."
        )
    _stop_requested[training_job_name] = time.monotonic()
    _refresh(self, job)


_tuning_job_init = HyperParameterTuningJob.__init__
_describe_tuning_job = SageMakerModelBackend.describe_hyper_parameter_tuning_job
_list_tuning_jobs = SageMakerModelBackend.list_hyper_parameter_tuning_jobs


def _tuning_job_as_started(self: HyperParameterTuningJob, *args: Any, **kwargs: Any) -> None:
    _tuning_job_init(self, *args, **kwargs)
    _stop_requested.pop(self.hyper_parameter_tuning_job_name, None)
    self.hyper_parameter_tuning_job_status = "InProgress"
    self.hyper_parameter_tuning_end_time = self.best_training_job = self.OverallBestTrainingJob = None
    self.training_job_status_counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0}
    self.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    self.failure_reason = None


def _refresh_tuning_job(backend: SageMakerModelBackend, job: HyperParameterTuningJob) -> None:
    name = job.hyper_parameter_tuning_job_name
    reports = _reports(backend.account_id, backend.region_name, name)
    stopped_at = _stop_requested.get(name)
    if stopped_at is not None and job.hyper_parameter_tuning_job_status in ("InProgress", "Stopping"):
        claimed = bool(reports) and reports[-1].get("status") == "InProgress"  # local mode is running it
        if not claimed and time.monotonic() - stopped_at >= STOP_DELAY_S:
            reports = [*reports, {"status": "Stopped"}]
        elif not (reports and reports[-1].get("status") == "Stopped"):
            job.hyper_parameter_tuning_job_status = "Stopping"
            return
    if not reports:
        return
    latest = reports[-1]
    job.hyper_parameter_tuning_job_status = latest.get("status", "InProgress")
    job.failure_reason = latest.get("failure_reason")
    job.training_job_status_counters.update(latest.get("training_job_status_counters", {}))
    job.objective_status_counters.update(latest.get("objective_status_counters", {}))
    best = latest.get("best_training_job")
    if best:
        job.best_training_job = job.OverallBestTrainingJob = {
            **best,
            "CreationTime": datetime.fromisoformat(best["CreationTime"]),
        }
    if job.hyper_parameter_tuning_job_status != "InProgress" and job.hyper_parameter_tuning_end_time is None:
        job.hyper_parameter_tuning_end_time = job.last_modified_time = utcnow()


def _tuning_job_not_found(name: str) -> ResourceNotFound:
    return ResourceNotFound(message=f"Amazon SageMaker can't find a tuning job called {name}. Type another name.")


def _describe_tuning_job_as_it_is(self: SageMakerModelBackend, hyper_parameter_tuning_job_name: str) -> Any:
    job = self.hyper_parameter_tuning_jobs.get(hyper_parameter_tuning_job_name)
    if job is None:
        raise _tuning_job_not_found(hyper_parameter_tuning_job_name)
    _refresh_tuning_job(self, job)
    return _describe_tuning_job(self, hyper_parameter_tuning_job_name)


def _list_tuning_jobs_as_they_are(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
    for job in self.hyper_parameter_tuning_jobs.values():
        _refresh_tuning_job(self, job)
    return _list_tuning_jobs(self, *args, **kwargs)


def _stop_tuning_job(self: SageMakerModelBackend, hyper_parameter_tuning_job_name: str) -> None:
    job = self.hyper_parameter_tuning_jobs.get(hyper_parameter_tuning_job_name)
    if job is None:
        raise _tuning_job_not_found(hyper_parameter_tuning_job_name)
    _refresh_tuning_job(self, job)
    if job.hyper_parameter_tuning_job_status != "InProgress":
        status = job.hyper_parameter_tuning_job_status
        raise ValidationError(message=f"The request was rejected because the tuning job is in status {status}.")
    _stop_requested[hyper_parameter_tuning_job_name] = time.monotonic()
    _refresh_tuning_job(self, job)


def _stop_tuning_job_action(self: SageMakerResponse) -> ActionResult:
    self.sagemaker_backend.stop_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=self._get_param("HyperParameterTuningJobName")
    )
    return ActionResult({})


def _stop_training_job_action(self: SageMakerResponse) -> ActionResult:
    self.sagemaker_backend.stop_training_job(training_job_name=self._get_param("TrainingJobName"))
    return ActionResult({})


def _final_metrics(account: str, region: str, job_name: str, job: FakeTrainingJob) -> list[dict[str, Any]]:
    definitions = job.algorithm_specification.get("MetricDefinitions") or []
    group = logs_backends[account][region].groups.get(TRAINING_LOG_GROUP)
    if not definitions or group is None:
        return []
    events = sorted(
        (event for name, stream in group.streams.items() if name.startswith(f"{job_name}/") for event in stream.events),
        key=lambda event: event.timestamp,
    )
    metrics = []
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        found = [(event.timestamp, match) for event in events for match in pattern.finditer(event.message)]
        if found:
            timestamp, match = found[-1]
            with contextlib.suppress(ValueError, IndexError):
                metrics.append(
                    {
                        "MetricName": definition["Name"],
                        "Value": float(match.group(1)),
                        "Timestamp": datetime.fromtimestamp(timestamp / 1000, UTC),
                    }
                )
    return metrics


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _remember_config(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
    config = _create_endpoint_config(self, *args, **kwargs)
    _created[config.endpoint_config_name] = time.monotonic()
    return config


def _check_visible(self: SageMakerModelBackend, config_name: str) -> None:
    """SageMaker's answer for a config its endpoint store cannot see yet."""
    if time.monotonic() - _created.get(config_name, 0.0) < CONFIG_DELAY_S:
        arn = FakeEndpointConfig.arn_formatter(config_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration {arn}.")


def _create_endpoint_when_visible(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]
) -> FakeEndpoint:
    _check_visible(self, endpoint_config_name)
    endpoint = _create_endpoint(self, endpoint_name, endpoint_config_name, tags)
    _endpoint_changed[endpoint_name] = _now_ms()  # reports on an endpoint of the same name before no longer count
    return endpoint


_describe_endpoint = SageMakerModelBackend.describe_endpoint
_list_endpoints = SageMakerModelBackend.list_endpoints


def _refresh_endpoint(backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
    """The endpoint's state from local mode's latest report since it was last created or updated."""
    since = _endpoint_changed.get(endpoint.endpoint_name, 0)
    stream = endpoint_stream(endpoint.endpoint_name)
    reports = [(at, doc) for at, doc in _timed_reports(backend.account_id, backend.region_name, stream) if at >= since]
    if reports:
        at, latest = reports[-1]
        endpoint.endpoint_status = latest.get("status", "InService")
        endpoint.failure_reason = latest.get("failure_reason")
        endpoint.last_modified_time = datetime.fromtimestamp(at / 1000, UTC).replace(tzinfo=None)


def _describe_endpoint_as_reported(self: SageMakerModelBackend, endpoint_name: str) -> dict[str, Any]:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is not None:
        _refresh_endpoint(self, endpoint)
    return _describe_endpoint(self, endpoint_name)


def _list_endpoints_as_reported(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
    for endpoint in self.endpoints.values():
        _refresh_endpoint(self, endpoint)
    return _list_endpoints(self, *args, **kwargs)


def _serverless(variants: list[dict[str, Any]]) -> bool:
    return any(v.get("ServerlessConfig") for v in variants)


def _update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> FakeEndpoint:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    _refresh_endpoint(self, endpoint)
    if endpoint.endpoint_status == "Failed":
        raise ValidationError(
            message=f"Cannot update endpoint {endpoint.arn} in status Failed: delete it, the only operation a "
            "failed endpoint accepts."
        )
    _check_visible(self, endpoint_config_name)
    config: dict[str, Any] = self.describe_endpoint_config(endpoint_config_name)
    current = self.describe_endpoint_config(endpoint.endpoint_config_name)
    if _serverless(config["ProductionVariants"]) != _serverless(current["ProductionVariants"]):
        raise ValidationError(
            message="Updating an endpoint between instance-based and serverless variants is not supported: "
            "delete the endpoint and create it again."
        )
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.last_modified_time = utcnow()
    _endpoint_changed[endpoint_name] = _now_ms()  # earlier reports no longer count
    endpoint.endpoint_status, endpoint.failure_reason = "InService", None
    return endpoint


def _update_endpoint_action(self: SageMakerResponse) -> ActionResult:
    endpoint = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def _start_job_run_once_per_token(
    self: EMRServerlessBackend, application_id: str, client_token: str, **kwargs: Any
) -> JobRun:
    for run in self.job_runs.get(application_id, []):
        if run.client_token == client_token:
            return run
    return _start_job_run(self, application_id=application_id, client_token=client_token, **kwargs)


_job_run_init = JobRun.__init__
_get_job_run = EMRServerlessBackend.get_job_run
_cancel_requested: dict[str, float] = {}  # job run id -> when CancelJobRun was called
JOB_RUN_ENDED = frozenset({"SUCCESS", "FAILED", "CANCELLED"})


def _job_run_as_started(self: JobRun, *args: Any, **kwargs: Any) -> None:
    """A new run is RUNNING (moto: SUCCESS at once); nothing runs Spark here, so it stays so until cancelled."""
    _job_run_init(self, *args, **kwargs)
    self.state = "RUNNING"


def _get_job_run_as_it_is(self: EMRServerlessBackend, application_id: str, job_run_id: str) -> JobRun:
    run = _get_job_run(self, application_id, job_run_id)
    asked = _cancel_requested.get(job_run_id)
    if run.state == "CANCELLING" and asked is not None and time.monotonic() - asked >= STOP_DELAY_S:
        run.state = "CANCELLED"
    return run


def _cancel_job_run(self: EMRServerlessBackend, application_id: str, job_run_id: str) -> tuple[str, str]:
    """CANCELLING, then CANCELLED ``STOP_DELAY_S`` later (JobRun's states: API_JobRun.html).

    A run that has ended is refused with a ValidationException, one of CancelJobRun's documented errors; which
    error EMR Serverless gives there is not documented, and the pipeline never asks (it reads the state first).
    """
    run = _get_job_run_as_it_is(self, application_id, job_run_id)
    if run.state in JOB_RUN_ENDED:
        raise EMRValidationException(f"Job run {job_run_id} is in terminal state {run.state} and cannot be cancelled")
    if run.state != "CANCELLING":
        run.state = "CANCELLING"
        _cancel_requested[job_run_id] = time.monotonic()
    return application_id, job_run_id


EMRServerlessBackend.start_job_run = _start_job_run_once_per_token
JobRun.__init__ = _job_run_as_started
EMRServerlessBackend.get_job_run = _get_job_run_as_it_is
EMRServerlessBackend.cancel_job_run = _cancel_job_run
SageMakerModelBackend.update_endpoint = _update_endpoint
SageMakerModelBackend.describe_endpoint = _describe_endpoint_as_reported
SageMakerModelBackend.list_endpoints = _list_endpoints_as_reported
SageMakerModelBackend.create_endpoint_config = _remember_config
SageMakerModelBackend.create_endpoint = _create_endpoint_when_visible
SageMakerResponse.update_endpoint = _update_endpoint_action
FakeTrainingJob.__init__ = _training_job_as_given
SageMakerModelBackend.describe_training_job = _describe_training_job_with_metrics
SageMakerModelBackend.list_training_jobs = _list_training_jobs_as_they_are
SageMakerResponse.list_training_jobs = _list_training_jobs_as_sagemaker_does
SageMakerResponse.list_models = _list_models_as_sagemaker_does
SageMakerModelBackend.stop_training_job = _stop_training_job
SageMakerResponse.stop_training_job = _stop_training_job_action
HyperParameterTuningJob.__init__ = _tuning_job_as_started
SageMakerModelBackend.stop_hyper_parameter_tuning_job = _stop_tuning_job
SageMakerResponse.stop_hyper_parameter_tuning_job = _stop_tuning_job_action
SageMakerModelBackend.describe_hyper_parameter_tuning_job = _describe_tuning_job_as_it_is
SageMakerModelBackend.list_hyper_parameter_tuning_jobs = _list_tuning_jobs_as_they_are

if __name__ == "__main__":
    main()
