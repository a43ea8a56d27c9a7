"""Converge and tear down Snowflake's side of the pipeline through an open cursor.

The cursor (``execute``, ``fetchall``) and the IAM client are passed in -- the real connector
and boto3 in the Lambda, stand-ins in tests -- so this module holds the order of the steps
and nothing about how to reach Snowflake or AWS.

Converge: create the integration if missing, then ALTER it to the wanted settings (never
re-create: that would change its external ID), read Snowflake's IAM user and external ID,
write the API role's trust policy, wait for IAM to propagate, then put every function in place
and grant it. Functions of the previous properties that are no longer wanted are dropped.

A function is put in place with ``CREATE OR ALTER EXTERNAL FUNCTION``, which keeps every grant
on it, WITH GRANT OPTION included (docs.snowflake.com/en/sql-reference/sql/create-or-alter).
Only when its current definition (GET_DDL) differs in what CREATE OR ALTER cannot change
(see :func:`statements.unalterable_difference`) is it replaced: the grants are read first
(SHOW GRANTS, with their grant_option: docs.snowflake.com/en/sql-reference/sql/show-grants),
``CREATE OR REPLACE`` drops them all, and each is granted again, WITH GRANT OPTION where it was.

A failed Create is undone here (:func:`create`): the CDK Provider framework answers it with the
physical id ``AWSCDK::CustomResourceProviderFramework::CREATE_FAILED`` and ignores the Delete
CloudFormation sends next (aws/aws-cdk#5525), so no Delete ever reaches this code. The run drops
the functions it created and the integration if it created it -- SHOW INTEGRATIONS, before the
CREATE ... IF NOT EXISTS, tells (docs.snowflake.com/en/sql-reference/sql/show-integrations) --
and never drops what existed before: a function that existed is put back to its previous
definition as far as this resource states one (integration, URL, return type, volatility,
argument names, MAX_BATCH_ROWS), keeping its grants; USAGE granted to GrantRoles stays, and a
pre-existing integration keeps the settings this run gave it (the next deploy sets them again).
A failing clean-up step is logged and never hides the error that failed the Create. A failed
Update needs nothing here: CloudFormation rolls it back with another Update carrying the old
properties, which converges back.

Tear down: drop the functions, then the integration unless it is retained. A function that
GET_DDL shows bound to another integration belongs to a newer resource (a renamed
integration, a replaced resource, a rollback) and is left alone.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from snowflake.connector.errors import Error as SnowflakeError

from pipeline_shared.logs import log
from snowflake_integration import statements
from snowflake_integration.properties import SnowflakeSetup
from snowflake_integration.statements import Definition, SnowflakeFunction
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


@dataclass
class FunctionChange:
    """A function this run wrote: ``previous`` is None if it created it (or could not read what was there).

    ``grants`` are those a replace dropped, to grant again even if the run failed before it did.
    """

    function: SnowflakeFunction
    created: bool
    previous: Definition | None
    grants: tuple[statements.Grantee, ...] = ()


@dataclass
class Changes:
    """What one Create run has done so far in Snowflake, to undo it if the run fails."""

    integration_created: bool = False
    functions: list[FunctionChange] = field(default_factory=list)


def create(cursor: Cursor, iam: Any, setup: SnowflakeSetup, *, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Converge for a Create; if it fails, undo what this run did in Snowflake and re-raise its error."""
    changes = Changes()
    try:
        return converge(cursor, iam, setup, sleep=sleep, changes=changes)
    except Exception:
        undo(cursor, changes, integration=setup.integration.name)
        raise


def converge(
    cursor: Cursor,
    iam: Any,
    setup: SnowflakeSetup,
    *,
    previous: SnowflakeSetup | None = None,
    sleep: Callable[[float], None] = time.sleep,
    changes: Changes | None = None,
) -> Outcome:
    """Make Snowflake and the role's trust policy match ``setup``; safe to repeat. ``changes`` records what it did."""
    integration = setup.integration
    name = integration.name
    existed = True if changes is None else integration_exists(cursor, name)
    execute(cursor, statements.create_integration(integration), f"create API integration {name}")
    if changes is not None and not existed:
        changes.integration_created = True
    execute(cursor, statements.alter_integration(integration), f"update API integration {name}")
    rows = execute(cursor, statements.describe_integration(name), f"describe API integration {name}", fetch=True)
    iam_user_arn, external_id = _snowflake_identity(rows, name)
    update_trust_policy(iam, setup.role_name, iam_user_arn, external_id)
    sleep(setup.iam_propagation_s)
    for function in setup.functions:
        put_function(cursor, function, name, roles=setup.grant_roles, changes=changes)
    if previous is not None:
        wanted = set(setup.signatures)
        gone = [function for function in previous.functions if function.signature not in wanted]
        drop_functions(cursor, gone, owner=previous.integration.name)
    return Outcome(name, iam_user_arn, external_id, tuple(setup.signatures))


def integration_exists(cursor: Cursor, name: str) -> bool:
    """Whether an integration named exactly ``name`` is visible to this role."""
    step = f"look up API integration {name}"
    log("INFO", "executing", step=step)
    try:
        cursor.execute(statements.show_integrations(name))
        rows = cursor.fetchall()
    except SnowflakeError as exc:
        raise _failure(step, exc) from exc
    try:
        return statements.integration_listed(rows, _columns(cursor), name)
    except statements.InvalidPropertyError as exc:
        raise SetupFailedError(str(exc)) from None


def put_function(
    cursor: Cursor,
    function: SnowflakeFunction,
    integration: str,
    *,
    roles: Sequence[str] = (),
    changes: Changes | None = None,
    regrant: Sequence[statements.Grantee] = (),
) -> None:
    """Define ``function`` bound to ``integration`` keeping every grant on it, then grant USAGE to ``roles``.

    ``regrant`` are grants to make again after a replace besides those SHOW GRANTS lists.
    """
    exists, current = current_definition(cursor, function)
    signature = function.signature
    if not exists:
        reason = None
    elif current is None:
        reason = "a definition GET_DDL shows in an unknown form"  # so replace: the way that always works
    else:
        reason = statements.unalterable_difference(function, current)
    held: list[statements.Grantee] = []
    if reason is not None:
        log("INFO", "function replaced", function=signature, differs_in=reason)
        held = _merged([*existing_grantees(cursor, function), *regrant])
        execute(cursor, statements.replace_function(function, integration), f"replace external function {signature}")
    else:
        step = f"{'alter' if exists else 'create'} external function {signature}"
        execute(cursor, statements.create_or_alter_function(function, integration), step)
    if changes is not None:
        changes.functions.append(FunctionChange(function, not exists, current, tuple(held)))
    # An omitted MAX_BATCH_ROWS is kept by CREATE OR ALTER before bundle 2026_04 and reset after it.
    stale_batch = reason is None and current is not None and current.max_batch_rows is not None
    if stale_batch and function.max_batch_rows is None:
        execute(cursor, statements.unset_max_batch_rows(function), f"unset MAX_BATCH_ROWS of {signature}")
    # Grants the replace dropped come back first: GrantRoles are granted again on every deploy anyway.
    for grantee in held:
        execute(
            cursor,
            statements.grant_usage_to(function, grantee),
            f"grant usage on {signature} again to {grantee.kind.lower()} {grantee.name}",
        )
    again = {grantee.name for grantee in held if grantee.kind == "ROLE"}
    for role in roles:
        if role not in again:
            execute(cursor, statements.grant_usage(function, role), f"grant usage on {signature} to role {role}")


def _merged(grantees: Sequence[statements.Grantee]) -> list[statements.Grantee]:
    """One grant per grantee, in first-seen order, WITH GRANT OPTION if any listing had it."""
    merged: dict[tuple[str, str], statements.Grantee] = {}
    for grantee in grantees:
        key = (grantee.kind, grantee.name)
        known = merged.get(key)
        merged[key] = grantee if known is None or grantee.grant_option else known
    return list(merged.values())


def current_definition(cursor: Cursor, function: SnowflakeFunction) -> tuple[bool, Definition | None]:
    """(exists, definition): the definition is None when GET_DDL's text does not read as expected."""
    step = f"read the definition of {function.signature}"
    rows = _rows_unless_missing(cursor, statements.function_ddl(function), step)
    if rows is None:
        return False, None
    ddl = rows[0][0] if rows and rows[0] and isinstance(rows[0][0], str) else ""
    definition = statements.function_definition(ddl)
    if definition is None:
        log("WARNING", "GET_DDL text not understood", function=function.signature)
    return True, definition


def undo(cursor: Cursor, changes: Changes, *, integration: str) -> None:
    """After a failed Create: drop what the run created, put back what it changed; never raises."""
    log("WARNING", "create failed: undoing this run's changes", integration=integration)
    for change in reversed(changes.functions):
        function = change.function
        try:
            if change.created:
                execute(cursor, statements.drop_function(function), f"drop external function {function.signature}")
            elif change.previous is None:
                log(
                    "WARNING",
                    "function left as this run defined it: its previous definition was not understood",
                    function=function.signature,
                )
            else:
                before = statements.previous_function(function, change.previous)
                put_function(cursor, before, change.previous.integration, regrant=change.grants)
        except Exception as exc:  # the Create's own error is what CloudFormation must see
            log("ERROR", "undo step failed", function=function.signature, error=one_line(str(exc)))
    if not changes.integration_created:
        return
    try:
        execute(cursor, statements.drop_integration(integration), f"drop API integration {integration}")
    except Exception as exc:
        log("ERROR", "undo step failed", integration=integration, error=one_line(str(exc)))


def existing_grantees(cursor: Cursor, function: SnowflakeFunction) -> list[statements.Grantee]:
    """Roles holding USAGE on the function now, with their grant option (none when it does not exist)."""
    rows = _rows_unless_missing(cursor, statements.show_grants(function), f"read the grants on {function.signature}")
    if rows is None:
        return []
    try:
        return statements.usage_grantees(rows, _columns(cursor), function.database)
    except statements.InvalidPropertyError as exc:
        raise SetupFailedError(str(exc)) from None


def _rows_unless_missing(cursor: Cursor, command: str, step: str) -> Sequence[Sequence[Any]] | None:
    """The rows ``command`` answers, or None when Snowflake says its object does not exist."""
    log("INFO", "executing", step=step)
    try:
        cursor.execute(command)
        return cursor.fetchall()
    except SnowflakeError as exc:
        if exc.errno == DOES_NOT_EXIST:
            return None
        raise _failure(step, exc) from exc


def _columns(cursor: Cursor) -> list[str]:
    return [str(column[0]) for column in cursor.description or ()]


def tear_down(cursor: Cursor, setup: SnowflakeSetup) -> None:
    """Drop the functions, then the integration unless ``setup.retain``; what is gone stays gone."""
    name = setup.integration.name
    drop_functions(cursor, setup.functions, owner=name)
    if setup.retain:
        log("INFO", "integration retained", integration=name)
        return
    execute(cursor, statements.drop_integration(name), f"drop API integration {name}")


def drop_functions(cursor: Cursor, functions: Iterable[SnowflakeFunction], *, owner: str) -> None:
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


def _bound_integration(cursor: Cursor, function: SnowflakeFunction) -> str | None:
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
