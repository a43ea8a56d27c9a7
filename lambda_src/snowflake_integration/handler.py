"""CloudFormation custom resource for Snowflake's side of the pipeline (CDK Provider ``on_event``).

Returns ``{"PhysicalResourceId": <integration name>, "Data": {...}}`` or raises an exception
whose message is one sentence; the Provider framework reports it to CloudFormation (this
handler never posts to the response URL). A new integration name on Update is a new physical
id, so CloudFormation deletes the old integration afterwards.

A Create that fails is undone before its error is raised (``lifecycle.create``): the Provider
framework answers a failed Create with a marker physical id and swallows the Delete that
CloudFormation sends next (aws/aws-cdk#5525), so this handler never gets to clean up later. A
failed Update is rolled back by CloudFormation with another Update carrying the old properties,
which converges back like any Update.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import boto3

from pipeline_shared.logs import log
from snowflake_integration.connection import snowflake_cursor
from snowflake_integration.lifecycle import Cursor, SetupFailedError, converge, create, tear_down
from snowflake_integration.properties import ConnectionProperties, SnowflakeSetup, parse_properties
from snowflake_integration.statements import InvalidPropertyError, shown

OpenCursor = Callable[[ConnectionProperties], AbstractContextManager[Cursor]]
_EXPECTED = (InvalidPropertyError, SetupFailedError)


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return respond(event, open_cursor=snowflake_cursor, iam=boto3.client("iam"))
    except _EXPECTED:
        raise
    except Exception as exc:  # a bug of ours: one sentence for CloudFormation, the trace for the log
        request_id = getattr(context, "aws_request_id", None)
        log("ERROR", "unexpected failure", error=type(exc).__name__, trace=traceback.format_exc())
        raise RuntimeError(
            f"The Snowflake integration handler failed unexpectedly ({type(exc).__name__}); "
            f"see its log for request {request_id}."
        ) from None


def respond(
    event: dict[str, Any], *, open_cursor: OpenCursor, iam: Any, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Handle one event with the given network edge (cursor factory, IAM client)."""
    request = event.get("RequestType")
    log("INFO", "request", request=request, resource=event.get("LogicalResourceId"), id=event.get("PhysicalResourceId"))
    if request == "Delete":
        return _delete(event, open_cursor)
    if request not in ("Create", "Update"):
        raise InvalidPropertyError(f"RequestType must be Create, Update or Delete, got {shown(request)}.")
    setup = parse_properties(event.get("ResourceProperties"))
    if setup.detached:
        log("WARNING", "detached: Snowflake left unchanged", integration=setup.integration.name)
        return {"PhysicalResourceId": setup.integration.name, "Data": _detached_data(setup)}
    previous = _previous(event) if request == "Update" else None
    with open_cursor(setup.connection) as cursor:
        if request == "Create":
            outcome = create(cursor, iam, setup, sleep=sleep)
        else:
            outcome = converge(cursor, iam, setup, previous=previous, sleep=sleep)
    log("INFO", "converged", integration=outcome.integration, functions=list(outcome.signatures))
    return {"PhysicalResourceId": outcome.integration, "Data": outcome.data()}


def _delete(event: dict[str, Any], open_cursor: OpenCursor) -> dict[str, Any]:
    physical_id = event.get("PhysicalResourceId")
    try:
        setup = parse_properties(event.get("ResourceProperties"))
    except InvalidPropertyError as exc:  # such properties never created anything
        log("WARNING", "nothing to delete: invalid properties", error=str(exc))
        return {"PhysicalResourceId": physical_id}
    if setup.detached:
        log("WARNING", "detached: Snowflake objects left in place", integration=setup.integration.name)
        return {"PhysicalResourceId": physical_id}
    if physical_id != setup.integration.name:  # e.g. the id the Provider gives a failed Create
        log("INFO", "nothing to delete: resource was never created", id=physical_id)
        return {"PhysicalResourceId": physical_id}
    with open_cursor(setup.connection) as cursor:
        tear_down(cursor, setup)
    return {"PhysicalResourceId": physical_id}


def _detached_data(setup: SnowflakeSetup) -> dict[str, str]:
    """The attributes the stack outputs, without asking Snowflake (identity fields are unknown)."""
    return {
        "IntegrationName": setup.integration.name,
        "IamUserArn": "",
        "ExternalId": "",
        "Functions": "detached: Snowflake is managed by hand",
    }


def _previous(event: dict[str, Any]) -> SnowflakeSetup | None:
    """The old properties, to drop functions that are gone; None if they cannot be read."""
    try:
        return parse_properties(event.get("OldResourceProperties"))
    except InvalidPropertyError as exc:
        log("WARNING", "old properties unreadable: no functions dropped", error=str(exc))
        return None
