"""Connections for the command-line tools: settings from cdk.json or flags, credentials, bounded waits.

Credentials, first match wins:

1. ``--private-key-file PEM`` (key-pair; an encrypted key's passphrase from
   ``SNOWFLAKE_PRIVATE_KEY_PASSPHRASE``);
2. ``SNOWFLAKE_PASSWORD`` when ``--host`` points at a local stand-in such as fakesnow (loopback, in a
   process started with ``RECOMMENDER_LOCAL_STANDIN=1``: the rule for every password);
3. the environment's Secrets Manager secret (``secretName``/``secretArn`` in cdk.json), read
   with boto3 in the ARN's region, ``--region``, or the AWS configuration's region.

``SNOWFLAKE_PASSWORD`` set for Snowflake itself is refused in one sentence that says why.

Secrets are read by :mod:`pipeline_shared.credentials`, which never formats a credential into a
message; errors here name the setting to fix, never its value.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from snowflake.connector import SnowflakeConnection

from pipeline_shared.credentials import (
    PASSWORD_ENV,
    Credentials,
    CredentialsError,
    credentials_from_secret_string,
    fetch_credentials,
    password_secret_allowed,
)
from recommender.config import SnowflakeSettings
from recommender.snowflake_io import SnowflakeError, open_connection

if TYPE_CHECKING:
    from stacks.config import SnowflakeConfig

PASSPHRASE_ENV = "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"  # noqa: S105 -- the variable's name, not a passphrase
APPLICATION = "movielens-recommender-cli"


class ConnectionSetupError(RuntimeError):
    """Missing or unusable connection settings or credentials, or Snowflake refused the connection."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect (the training program's settings), and where the credentials are.

    ``secret`` is a Secrets Manager secret name or ARN.
    """

    snowflake: SnowflakeSettings
    secret: str | None = None
    region: str | None = None
    private_key_file: Path | None = None
    login_timeout: int = 30
    network_timeout: int = 600

    @property
    def user(self) -> str:
        return self.snowflake.user

    @property
    def host(self) -> str | None:
        return self.snowflake.host

    @property
    def where(self) -> str:
        where = self.snowflake
        return f"{where.host}:{where.port or 443}" if where.host else f"account {where.account}"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that override (or, without ``--env``, replace) an environment's Snowflake settings."""
    group = parser.add_argument_group("connection (flags override the --env settings)")
    group.add_argument("--account", help="Snowflake account identifier, e.g. myorg-myaccount")
    group.add_argument("--user", help="Snowflake user")
    group.add_argument("--role", help="role to use")
    group.add_argument("--warehouse", help="warehouse to use")
    group.add_argument("--private-key-file", type=Path, help=f"PEM private key (passphrase from {PASSPHRASE_ENV})")
    group.add_argument("--region", help="AWS region of the environment's secret when cdk.json names it by name")
    group.add_argument("--host", help="host of a local stand-in such as fakesnow")
    group.add_argument("--port", type=int, help="port of the stand-in")
    group.add_argument("--protocol", choices=("http", "https"), help="protocol of the stand-in")
    group.add_argument("--login-timeout", type=int, default=30, help="seconds to wait for login (default 30)")


def connection_settings(
    args: argparse.Namespace, environment: SnowflakeConfig | None, *, database: str, schema: str
) -> ConnectionSettings:
    """Settings from ``environment`` with the flags in ``args`` applied on top."""
    account = args.account or (environment.account if environment else None)
    user = args.user or (environment.user if environment else None)
    if not account or not user:
        raise ConnectionSetupError("Say where to connect: give --env (from cdk.json) or --account and --user.")
    where = SnowflakeSettings(
        account=account,
        user=user,
        role=args.role or (environment.role if environment else None),
        warehouse=args.warehouse or (environment.warehouse if environment else None),
        database=database,
        schema=schema,
        host=args.host,
        port=args.port,
        protocol=args.protocol,
    )
    return ConnectionSettings(
        snowflake=where,
        secret=(environment.secret_arn or environment.secret_name) if environment else None,
        region=args.region,
        private_key_file=args.private_key_file,
        login_timeout=args.login_timeout,
    )


def credentials(settings: ConnectionSettings) -> Credentials:
    """The first available credentials, in the order the module documents."""
    try:
        stand_in = password_secret_allowed(settings.host)
        if settings.private_key_file:
            return _key_file(settings.private_key_file)
        if stand_in and os.environ.get(PASSWORD_ENV):
            return fetch_credentials(None, allow_password=True)
        if settings.secret:
            return fetch_credentials(settings.secret, region=_secret_region(settings), allow_password=stand_in)
        if os.environ.get(PASSWORD_ENV):
            return fetch_credentials(None, allow_password=stand_in)  # refused, with why, unless a stand-in
    except CredentialsError as exc:
        raise ConnectionSetupError(str(exc)) from None
    raise ConnectionSetupError(
        "No Snowflake credentials: give --private-key-file, or --env with a secret in cdk.json, "
        f"or set {PASSWORD_ENV} for a local stand-in."
    )


def connect(settings: ConnectionSettings) -> SnowflakeConnection:
    """An open connection (the training program's own code); failures become one :class:`ConnectionSetupError`."""
    try:
        return open_connection(
            settings.snowflake,
            credentials(settings),
            application=APPLICATION,
            login_timeout=settings.login_timeout,
            network_timeout=settings.network_timeout,
        )
    except SnowflakeError as exc:
        raise ConnectionSetupError(str(exc)) from None


def _key_file(path: Path) -> Credentials:
    try:
        pem = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"Cannot read --private-key-file {path} ({type(exc).__name__}).") from None
    document = {"private_key": pem, "private_key_passphrase": os.environ.get(PASSPHRASE_ENV)}
    try:
        return credentials_from_secret_string(json.dumps(document), source=str(path))
    except CredentialsError:
        raise CredentialsError(
            f"--private-key-file {path} cannot be used: give an RSA private key of at least 2048 bits in PEM, "
            f"with its passphrase in {PASSPHRASE_ENV} if it is encrypted."
        ) from None


def _secret_region(settings: ConnectionSettings) -> str:
    secret = settings.secret or ""
    if secret.startswith("arn:"):
        return settings.region or secret.split(":")[3]
    if settings.region:
        return settings.region
    import boto3

    region = boto3.session.Session().region_name
    if not region:
        raise CredentialsError(
            f"Which AWS region holds the secret {secret}? Give --region or set AWS_REGION (or use secretArn)."
        )
    return region
