"""Scheduled entry point of the idle-endpoint sweep (an EventBridge rule, hourly).

Environment: ``RESOURCE_PREFIX``, ``ARTIFACT_BUCKET`` and ``ENDPOINT_IDLE_HOURS`` (cdk.json ``endpointIdleHours``),
read by their declarations in ``pipeline_shared.settings``; a missing or malformed one fails the run naming it.
Each endpoint's verdict is logged; the sweep publishes ``EndpointsSwept`` (and ``SweepFailures``) in the
pipeline's metrics namespace, dimension ``service`` = ``idle-endpoint-sweep``. An endpoint that could not be
judged or deleted is logged and counted, and the others are still swept; the run then fails, so the
Lambda's error alarm fires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from external_functions import aws
from external_functions.errors import PipelineError
from external_functions.settings import Environment
from idle_endpoints.sweep import Verdict, sweep
from pipeline_shared import settings
from pipeline_shared.logs import count, log

SERVICE = "idle-endpoint-sweep"


class SweepFailedError(RuntimeError):
    """Some endpoints could not be judged or taken down (each is logged)."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    prefix, bucket, hours = _settings()
    try:
        verdicts = sweep(
            sagemaker=aws.sagemaker(),
            cloudwatch=aws.cloudwatch(),
            s3=aws.s3(),
            prefix=prefix,
            bucket=bucket,
            idle_hours=hours,
            now=datetime.now(UTC),
        )
    except PipelineError as exc:  # the endpoints could not even be listed
        verdicts = [Verdict("*", "*", None, f"failed: {exc.message}")]
    for verdict in verdicts:
        level = "WARNING" if verdict.action.startswith("failed") else "INFO"
        log(level, verdict.action, endpoint=verdict.endpoint, model=verdict.model, invocations=verdict.invocations)
    swept = [v.endpoint for v in verdicts if v.action == "swept"]
    failed = [v.endpoint for v in verdicts if v.action.startswith("failed")]
    count(prefix, SERVICE, EndpointsSwept=len(swept), SweepFailures=len(failed))
    if failed:
        raise SweepFailedError(f"the sweep could not judge or take down {', '.join(failed)}; see the log lines above.")
    return {"swept": swept, "kept": [v.endpoint for v in verdicts if v.action != "swept"], "idle_hours": hours}


def _settings() -> tuple[str, str, int]:
    env = Environment.current(SERVICE)
    return env.prefix(), env.required(settings.ARTIFACT_BUCKET), env.required(settings.ENDPOINT_IDLE_HOURS)
