"""Structured JSON log lines and counters for CloudWatch, through Powertools for AWS Lambda (Python).

:func:`log` writes one JSON object per line (``level``, ``message``, ``timestamp`` and the caller's
fields, never row data or secrets) with Powertools' Logger; :func:`count` publishes counters in
CloudWatch's embedded metric format (EMF) with Powertools' Metrics, in the pipeline's namespace
(``pipeline_shared.resources.metrics_namespace``) with the dimension ``service`` (the function). Lambda
sends stdout to CloudWatch Logs, which turns EMF lines into metrics
(https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
Both go to stdout; local mode sends them to a file with :func:`send_to`.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pipeline_shared.resources import metrics_namespace

_stream: TextIO | None = None
_metrics = True


class _CurrentStream(logging.StreamHandler):
    """Writes to where :func:`send_to` points, else to the stdout of the moment (pytest swaps it per test)."""

    @property
    def stream(self) -> TextIO:
        return _stream or sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        del value  # the stream is always looked up when a line is written


_LOGGER = Logger(
    service="recommender",
    logger_handler=_CurrentStream(),
    location=None,  # a key set to None is left out of every line
    utc=True,
    use_rfc3339=True,
    json_default=str,
)
_LOGGER.remove_keys(["service"])
_LEVELS = {"DEBUG": _LOGGER.debug, "INFO": _LOGGER.info, "WARNING": _LOGGER.warning, "ERROR": _LOGGER.error}


def send_to(stream: TextIO | None, *, metrics: bool = True) -> None:
    """Write log lines (and metrics, unless ``metrics`` is False) to ``stream`` instead of stdout (None: back).

    A program whose stdout is its answer (the operator CLI) sends the lines to stderr and no metrics: a
    terminal's runs are not the functions' traffic.
    """
    global _stream, _metrics
    _stream, _metrics = stream, metrics


def log(level: str, message: str, **fields: Any) -> None:
    """One JSON line: ``level`` (DEBUG, INFO, WARNING or ERROR), ``message`` and ``fields`` at the top level."""
    _LEVELS[level](message, extra=fields)


def count(prefix: str, service: str, **counters: int) -> None:
    """Publish ``counters`` (name -> count) as one EMF line in ``prefix``'s namespace, dimension ``service``."""
    if not _metrics:
        return
    metrics = Metrics(namespace=metrics_namespace(prefix), service=service)
    try:
        for name, value in counters.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        document = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()  # Powertools keeps one metric set per process: nothing carries into the next call
    print(json.dumps(document, separators=(",", ":")), file=_stream or sys.stdout, flush=True)
