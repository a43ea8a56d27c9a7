"""The Snowflake session of the custom resource: key-pair from Secrets Manager, bounded waits.

This is the network edge: :func:`snowflake_cursor` is what the handler passes to the lifecycle,
and what tests replace with a stand-in cursor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import snowflake.connector
from snowflake.connector.cursor import SnowflakeCursor
from snowflake.connector.errors import Error as SnowflakeError

from pipeline_shared.credentials import (
    CredentialsError,
    fetch_credentials,
    password_secret_allowed,
    workload_identity,
)
from pipeline_shared.settings import WORKLOAD_IDENTITY
from snowflake_integration.lifecycle import SetupFailedError, one_line
from snowflake_integration.properties import ConnectionProperties


@contextlib.contextmanager
def snowflake_cursor(settings: ConnectionProperties) -> Iterator[SnowflakeCursor]:
    """A cursor on a new session; the session is closed when the block ends."""
    if settings.auth == WORKLOAD_IDENTITY:
        credentials, check = workload_identity(), "the user's workload identity (this function's role ARN)"
    else:
        try:
            credentials = fetch_credentials(settings.secret_arn, allow_password=password_secret_allowed(settings.host))
        except CredentialsError as exc:
            raise SetupFailedError(str(exc)) from None
        check = f"the key in {settings.secret_arn}"
    try:
        session = snowflake.connector.connect(**settings.connect_args(), **credentials.connect_args)
    except SnowflakeError as exc:
        raise SetupFailedError(
            f"Cannot connect to Snowflake account {settings.account} as user {settings.user} "
            f"within {settings.login_timeout_s} s: {one_line(str(exc))}; check Connection, the Lambda's "
            f"network access and {check}."
        ) from None
    try:
        with session.cursor() as cursor:
            yield cursor
    finally:
        session.close()
