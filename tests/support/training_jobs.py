"""Training jobs as SageMaker leaves them, for tests on the moto stand-in: their output in CloudWatch Logs
(where SageMaker reads the MetricDefinitions' figures from) and their end, reported as local mode does."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from local_mode.sagemaker import TRAINING_LOG_GROUP, report_training_job

_STREAMS: dict[str, str] = {}  # job -> its one log stream


def publish_output(logs: Any, job: str, lines: list[str]) -> None:
    """What the job prints, where SageMaker's log agent puts it (the metrics come from there).

    A single-instance job has one stream, ``<job>/algo-1-<epoch>``, created when its container
    starts; every later line goes to that stream ("Logs for Built-in Algorithms",
    https://docs.aws.amazon.com/sagemaker/latest/dg/common-info-all-sagemaker-models-logs.html).
    """
    stream = _STREAMS.get(job)
    if stream is None:
        stream = _STREAMS[job] = f"{job}/algo-1-{int(time.time())}"
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=TRAINING_LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": m} for m in lines],
    )


def complete(logs: Any, job: str, *, ndcg: float | None = None, status: str = "Completed") -> None:
    """The job prints its validation NDCG@10 (None: no figure) and ends with ``status``."""
    if ndcg is not None:
        publish_output(logs, job, [f"validation:ndcg_at_10={ndcg}", "validation:rmse=0.8600"])
    report_training_job(logs, job, status)


def training_job_names(sagemaker: Any, **filters: str) -> list[str]:
    """Every training job's name, through every page (SageMaker answers 10 a page unless asked for more)."""
    pages = sagemaker.get_paginator("list_training_jobs").paginate(**filters)
    return [job["TrainingJobName"] for page in pages for job in page["TrainingJobSummaries"]]
