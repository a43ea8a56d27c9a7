"""The SageMaker Python SDK (v3) behind the verbs that follow jobs (``logs``, ``train --wait``).

The SDK lives in ``.venv-operator`` (``requirements-operator.txt``): through sagemaker-train it
needs mlflow, whose pins of gunicorn and pyarrow are below the serving image's. The project's
packages are installed there too, so a verb that needs the SDK and was started from ``.venv``
re-runs itself there with the same code (:func:`ensure`).

The SDK's telemetry (an STS call and an HTTPS fetch per call) is switched off with its own
setting, ``TelemetryOptOut``, in the config file ``SAGEMAKER_USER_CONFIG_OVERRIDE`` names.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from external_functions.log_retention import TRAINING_LOG_GROUP
from pipeline_shared import InputError

ROOT = Path(__file__).resolve().parents[1]
SDK_PYTHON = ROOT / ".venv-operator" / "bin" / "python"
CONFIG = Path(__file__).with_name("sagemaker_config.yaml")
POLL_S = 5


def ensure(argv: Sequence[str]) -> None:
    """Return if the SDK is importable here; otherwise run ``recommender argv`` in .venv-operator instead."""
    if importlib.util.find_spec("sagemaker") is not None:
        return
    if Path(sys.executable) == SDK_PYTHON or os.environ.get("RECOMMENDER_IN_SDK_VENV"):
        raise InputError("The SageMaker Python SDK is missing from .venv-operator: run make install again.")
    if not SDK_PYTHON.exists():
        raise InputError(
            "This verb uses the SageMaker Python SDK, which `make install` puts in .venv-operator: run make install."
        )
    os.environ["RECOMMENDER_IN_SDK_VENV"] = "1"  # never again: a broken venv must not exec itself forever
    os.execv(SDK_PYTHON, [str(SDK_PYTHON), "-m", "operator_cli", *argv])  # noqa: S606 -- our own venv's python


def quiet() -> None:
    """The SDK without telemetry, and without ModelTrainer's IAM SimulatePrincipalPolicy call per run."""
    os.environ.setdefault("SAGEMAKER_USER_CONFIG_OVERRIDE", str(CONFIG))
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")


def follow(job: str, *, region: str, poll: int = POLL_S) -> None:
    """Print the job's CloudWatch logs as SageMaker's log agent delivers them, until the job ends (however it ends).

    The SDK's ``TrainingJob.wait(logs=True)`` reads the logs once more when it sees the job end and
    returns. The log agent may still be delivering the container's last lines then (a job's status
    changes once its model is uploaded, not once CloudWatch Logs has ingested its output), so the
    end is followed by one more read ``poll`` seconds later -- the extra poll the SDK's v2
    ``logs_for_job`` made (``LogState.JOB_COMPLETE``) -- which prints only lines not yet printed,
    streams that appeared late included.
    """
    quiet()
    printer = LogPrinter(sys.stdout)
    sdk_log = logging.getLogger("sagemaker.core.resources")
    sdk_log.addHandler(printer)
    sdk_log.setLevel(logging.INFO)
    sdk_log.propagate = False
    from sagemaker.core.resources import TrainingJob
    from sagemaker.core.utils.exceptions import FailedStatusError

    try:
        with contextlib.suppress(FailedStatusError):  # the caller shows the status and the failure reason
            TrainingJob.get(training_job_name=job, region=region).wait(poll=poll, logs=True)
    finally:
        sdk_log.removeHandler(printer)
    time.sleep(poll)
    print_late_lines(job, printer)


def print_late_lines(job: str, printer: LogPrinter) -> None:
    """Print the job's log lines that ``printer`` has not printed yet, stream by stream, in order."""
    from sagemaker.core.utils.logs import CloudWatchLogsClient, LogStreamHandler

    logs = CloudWatchLogsClient().client
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{job}/", orderBy="LogStreamName"
    )
    streams = [stream["logStreamName"] for page in pages for stream in page["logStreams"]]
    for index, stream in enumerate(streams):
        events = LogStreamHandler(TRAINING_LOG_GROUP, stream, index).get_latest_log_events()
        for _, event in itertools.islice(events, printer.printed[stream], None):
            printer.write(stream, event["message"])


class LogPrinter(logging.Handler):
    """Prints the SDK's log records as plain lines and counts the log lines printed per stream.

    The SDK logs each CloudWatch event as ``<stream>:\n<line>``: only ``<line>`` is printed. Rich
    markup in its own records (``[bold]Completed``) is dropped.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__(logging.INFO)
        self.out = out
        self.printed: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        stream, newline, line = text.partition(":\n")
        if newline and "/" in stream and "\n" not in stream:
            self.write(stream, line)
        else:
            self._print(re.sub(r"\[/?(bold|italic|red|green|yellow|blue)\]", "", text))

    def write(self, stream: str, line: str) -> None:
        self.printed[stream] += 1
        self._print(line)

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)
