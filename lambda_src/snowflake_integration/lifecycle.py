"""Converge and tear down Snowflake's side of the pipeline through an open cursor.

The cursor (``execute``, ``fetchall``) and the IAM client are passed in -- the real connector
and boto3 in the Lambda, stand-ins in tests -- so this module holds the order of the steps
and nothing about how to reach Snowflake or AWS.

Converge: create the integration if missing, then ALTER it to the wanted settings (never
re-create: that would change its external ID), read Snowflake's IAM user and external ID,
write the API role's trust policy, wait for IAM to propagate, then (re)create every function
and grant it. Functions of the previous properties that are no longer wanted are dropped.

Tear down: drop the functions, then the integration unless it is retained. A function that
GET_DDL shows bound to another integration belongs to a newer resource (a renamed
integration, a replaced resource, a rollback) and is left alone.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from snowflake.connector.errors import Error as SnowflakeError

from pipeline_shared.logs import log
from snowflake_integration import statements
from snowflake_integration.properties import SnowflakeSetup
from snowflake_integration.statements import ExternalFunction
from snowflake_integration.trust_policy import UnexpectedIntegrationError, trust_policy

MAX_DETAIL = 300
MAX_DATA_BYTES = 3500  # CloudFormation rejects responses over 4 KB
DOES_NOT_EXIST = 2003  # Snowflake: "... does not exist or not authorized"


class Cursor(Protocol):
    def execute(self, command: str) -> object: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...  # column metadata, the name first


class SetupFailedError(RuntimeError):
    """A step failed; the message is one sentence for CloudFormation's events."""


@dataclass(frozen=True)
class Outcome:
    integration: str
    iam_user_arn: str
    external_id: str
    signatures: tuple[str, ...]

    def data(self) -> dict[str, str]:
        """The custom resource's ``Data``: kept under CloudFormation's 4 KB limit."""
        data = {
            "IntegrationName": self.integration,
            "IamUserArn": self.iam_user_arn,
            "ExternalId": self.external_id,
            "Functions": ", ".join(self.signatures),
        }
        if len(json.dumps(data).encode()) > MAX_DATA_BYTES:
            data["Functions"] = f"{len(self.signatures)} functions (too many to list within CloudFormation's 4 KB)"
        return data


def converge(
    cursor: Cursor,
    iam: Any,
    setup: SnowflakeSetup,
    *,
    previous: SnowflakeSetup | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Make Snowflake and the role's trust policy match ``setup``; safe to repeat."""
    integration = setup.integration
    name = integration.name
    execute(cursor, statements.create_integration(integration), f"create API integration {name}")
    execute(cursor, statements.alter_integration(integration), f"update API integration {name}")
    rows = execute(cursor, statements.describe_integration(name), f"describe API integration {name}", fetch=True)
    iam_user_arn, external_id = _snowflake_identity(rows, name)
    update_trust_policy(iam, setup.role_name, iam_user_arn, external_id)
    sleep(setup.iam_propagation_s)
    for function in setup.functions:
        # CREATE OR REPLACE drops every grant on the old function: read them first, grant them again.
        kept = [g for g in existing_grantees(cursor, function) if (g.kind, g.name) not in _configured(setup)]
        execute(cursor, statements.create_function(function, name), f"create external function {function.signature}")
        for role in setup.grant_roles:
            execute(
                cursor,
                statements.grant_usage(function, role),
                f"grant usage on {function.signature} to role {role}",
            )
        for grantee in kept:
            execute(
                cursor,
                statements.grant_usage_to(function, grantee),
                f"grant usage on {function.signature} again to {grantee.kind.lower()} {grantee.name}",
            )
    if previous is not None:
        wanted = set(setup.signatures)
        gone = [function for function in previous.functions if function.signature not in wanted]
        drop_functions(cursor, gone, owner=previous.integration.name)
    return Outcome(name, iam_user_arn, external_id, tuple(setup.signatures))


def existing_grantees(cursor: Cursor, function: ExternalFunction) -> list[statements.Grantee]:
    """Roles holding USAGE on the function now (none when it does not exist yet)."""
    step = f"read the grants on {function.signature}"
    log("INFO", "executing", step=step)
    try:
        cursor.execute(statements.show_grants(function))
        rows = cursor.fetchall()
    except SnowflakeError as exc:
        if exc.errno == DOES_NOT_EXIST:
            return []
        raise _failure(step, exc) from exc
    columns = [str(column[0]) for column in cursor.description or ()]
    try:
        return statements.usage_grantees(rows, columns, function.database)
    except statements.InvalidPropertyError as exc:
        raise SetupFailedError(str(exc)) from None


def _configured(setup: SnowflakeSetup) -> set[tuple[str, str]]:
    return {("ROLE", role) for role in setup.grant_roles}


def tear_down(cursor: Cursor, setup: SnowflakeSetup) -> None:
    """Drop the functions, then the integration unless ``setup.retain``; what is gone stays gone."""
    name = setup.integration.name
    drop_functions(cursor, setup.functions, owner=name)
    if setup.retain:
        log("INFO", "integration retained", integration=name)
        return
    execute(cursor, statements.drop_integration(name), f"drop API integration {name}")


def drop_functions(cursor: Cursor, functions: Iterable[ExternalFunction], *, owner: str) -> None:
    """Drop each function unless Snowflake shows it bound to an integration other than ``owner``."""
    for function in functions:
        bound = _bound_integration(cursor, function)
        if bound is not None and bound != owner:
            log("INFO", "function kept: bound to another integration", function=function.signature, bound_to=bound)
            continue
        step = f"drop external function {function.signature}"
        log("INFO", "executing", step=step)
        try:
            cursor.execute(statements.drop_function(function))
        except SnowflakeError as exc:
            # DROP ... IF EXISTS still fails when the database or schema is gone: so is the function.
            if exc.errno != DOES_NOT_EXIST:
                raise _failure(step, exc) from exc
            log("WARNING", "function's database or schema is gone", function=function.signature)


def _bound_integration(cursor: Cursor, function: ExternalFunction) -> str | None:
    """The integration the existing function calls through, or None if unknown or absent."""
    try:
        cursor.execute(statements.function_ddl(function))
        rows = cursor.fetchall()
    except SnowflakeError as exc:  # absent, or GET_DDL unavailable: the DROP decides
        log("INFO", "GET_DDL failed", function=function.signature, error=one_line(str(exc)))
        return None
    ddl = rows[0][0] if rows and rows[0] and isinstance(rows[0][0], str) else ""
    return statements.bound_integration(ddl)


def update_trust_policy(iam: Any, role_name: str, iam_user_arn: str, external_id: str) -> None:
    """Let Snowflake's IAM user assume ``role_name`` with the integration's external ID."""
    try:
        document = trust_policy(iam_user_arn, external_id)
    except UnexpectedIntegrationError as exc:
        raise SetupFailedError(str(exc)) from None
    try:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=document)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        reason = one_line(str(error.get("Message") or error.get("Code") or "error"))
        raise SetupFailedError(f"Cannot update the trust policy of IAM role {role_name}: {reason}.") from None
    except BotoCoreError as exc:
        raise SetupFailedError(
            f"Cannot reach IAM to update the trust policy of role {role_name} ({type(exc).__name__})."
        ) from None


def execute(cursor: Cursor, command: str, step: str, *, fetch: bool = False) -> Sequence[Sequence[Any]]:
    """Run one statement; a Snowflake error becomes a :class:`SetupFailedError` naming ``step``."""
    log("INFO", "executing", step=step)
    try:
        cursor.execute(command)
        return cursor.fetchall() if fetch else ()
    except SnowflakeError as exc:
        raise _failure(step, exc) from exc


def _failure(step: str, exc: SnowflakeError) -> SetupFailedError:
    return SetupFailedError(f"Snowflake could not {step}: {one_line(str(exc))}.")


def _snowflake_identity(rows: Sequence[Sequence[Any]], name: str) -> tuple[str, str]:
    """API_AWS_IAM_USER_ARN and API_AWS_EXTERNAL_ID from DESCRIBE INTEGRATION rows."""
    values = {str(row[0]).upper(): row[2] for row in rows if len(row) > 2}
    user_arn, external_id = values.get("API_AWS_IAM_USER_ARN"), values.get("API_AWS_EXTERNAL_ID")
    if not isinstance(user_arn, str) or not user_arn or not isinstance(external_id, str) or not external_id:
        raise SetupFailedError(
            f"DESCRIBE INTEGRATION {name} returned no API_AWS_IAM_USER_ARN or API_AWS_EXTERNAL_ID: "
            "check that it is an API integration for aws_api_gateway."
        )
    return user_arn, external_id


def one_line(text: str) -> str:
    """Collapse whitespace, drop a final period and cut to :data:`MAX_DETAIL` characters."""
    flat = re.sub(r"\s+", " ", text).strip().rstrip(".")
    return flat if len(flat) <= MAX_DETAIL else f"{flat[: MAX_DETAIL - 1]}\u2026"
