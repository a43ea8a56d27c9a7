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
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

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


def follow(job: str, *, region: str) -> None:
    """Print the job's CloudWatch logs as SageMaker's log agent delivers them, until the job ends (however it ends)."""
    quiet()
    printer = logging.StreamHandler(sys.stdout)
    printer.setFormatter(LogLines())
    sdk_log = logging.getLogger("sagemaker.core.resources")
    sdk_log.addHandler(printer)
    sdk_log.setLevel(logging.INFO)
    sdk_log.propagate = False
    from sagemaker.core.resources import TrainingJob
    from sagemaker.core.utils.exceptions import FailedStatusError

    with contextlib.suppress(FailedStatusError):  # the caller shows the status and the failure reason
        TrainingJob.get(training_job_name=job, region=region).wait(poll=POLL_S, logs=True)


class LogLines(logging.Formatter):
    """The SDK's log records as plain lines: ``<stream>:\n<line>`` becomes ``<line>``, rich markup is dropped."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        stream, newline, line = text.partition(":\n")
        if newline and "/" in stream and "\n" not in stream:
            text = line
        return re.sub(r"\[/?(bold|italic|red|green|yellow|blue)\]", "", text)
