"""The custom resource's ResourceProperties, parsed into validated settings.

CloudFormation passes scalars as strings and lists/objects as JSON structures::

    IntegrationName        plain identifier, e.g. MOVIELENS_RECOMMENDER_API
    ApiRoleArn, ApiRoleName  the role Snowflake assumes (the name must end the ARN)
    AllowedPrefix          https:// URL every function Url starts with
    Database, Schema       where the functions live
    Functions              [{Name, Arguments: [[NAME, TYPE], ...], Returns, Volatile ("true"),
                             Url, MaxBatchRows (optional)}]; a Name may repeat with other Arguments
    GrantRoles             roles granted USAGE on every function (may be empty)
    Connection             {Account, User, SecretArn (key pair), Auth? ("keypair" or "wif": workload
                            identity, no secret), Role?, Warehouse?, Host?, Port?, Protocol?,
                            LoginTimeoutSeconds? (30), NetworkTimeoutSeconds? (60)}
    Retain                 "true": Delete leaves the integration in place (default "false")
    Detached               "true": leave Snowflake alone -- Create and Update change nothing there and
                           Delete drops nothing (default "false"); the way out when Snowflake refuses us
    IamPropagationSeconds  wait after changing the trust policy (default "10", at most 300)
    Comment                optional COMMENT of the integration

Other top-level keys (ServiceToken, ...) are ignored. Every problem raises
:class:`~snowflake_integration.statements.InvalidPropertyError` naming the property.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_shared.identifiers import SECRET_ARN, SNOWFLAKE_ACCOUNT, SNOWFLAKE_HOST
from pipeline_shared.settings import AUTH_METHODS, KEY_PAIR, WORKLOAD_IDENTITY
from snowflake_integration.statements import (
    Integration,
    InvalidPropertyError,
    SnowflakeFunction,
    identifier,
    role_name_of,
    shown,
)

DEFAULT_COMMENT = "Snowflake side of the MovieLens recommender pipeline; managed by CloudFormation."
MAX_PROPAGATION_S = 300
FUNCTION_KEYS = frozenset({"Name", "Arguments", "Returns", "Volatile", "Url", "MaxBatchRows"})
CONNECTION_KEYS = frozenset(
    {
        "Account",
        "User",
        "SecretArn",
        "Auth",
        "Role",
        "Warehouse",
        "Host",
        "Port",
        "Protocol",
        "LoginTimeoutSeconds",
        "NetworkTimeoutSeconds",
    }
)


_USER = re.compile(r"[A-Za-z0-9_$.@-]{1,255}")

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")


@dataclass(frozen=True)
class ConnectionProperties:
    """Where and as whom to connect; the credentials themselves stay in the secret (or, with ``wif``, nowhere)."""

    account: str
    user: str
    secret_arn: str | None
    auth: str = KEY_PAIR
    role: str | None = None
    warehouse: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    login_timeout_s: int = 30
    network_timeout_s: int = 60

    def connect_args(self) -> dict[str, Any]:
        """Keyword arguments for ``snowflake.connector.connect`` except the credentials."""
        optional = {
            "role": self.role,
            "warehouse": self.warehouse,
            "host": self.host,
            "port": self.port,
            "protocol": self.protocol,
        }
        return {
            "account": self.account,
            "user": self.user,
            "login_timeout": self.login_timeout_s,
            "network_timeout": self.network_timeout_s,
            **{key: value for key, value in optional.items() if value is not None},
        }


@dataclass(frozen=True)
class SnowflakeSetup:
    """Everything one custom resource puts into Snowflake and IAM."""

    integration: Integration
    role_name: str
    functions: tuple[SnowflakeFunction, ...]
    grant_roles: tuple[str, ...]
    connection: ConnectionProperties
    retain: bool
    iam_propagation_s: int
    detached: bool = False

    @property
    def signatures(self) -> list[str]:
        return [function.signature for function in self.functions]


def parse_properties(properties: object) -> SnowflakeSetup:
    """Validate the whole of ``ResourceProperties``; nothing is executed before this succeeds."""
    if not isinstance(properties, Mapping):
        raise InvalidPropertyError("ResourceProperties must be an object.")
    integration = Integration(
        name=_required(properties, "IntegrationName"),
        role_arn=_required(properties, "ApiRoleArn"),
        allowed_prefix=_required(properties, "AllowedPrefix"),
        comment=_optional(properties, "Comment", DEFAULT_COMMENT),
    )
    role_name = _required(properties, "ApiRoleName")
    if not _ROLE_NAME.fullmatch(role_name) or role_name != role_name_of(integration.role_arn):
        raise InvalidPropertyError(
            f"ApiRoleName must be the role name at the end of ApiRoleArn "
            f"({role_name_of(integration.role_arn)!r}), got {shown(role_name)}."
        )
    return SnowflakeSetup(
        integration=integration,
        role_name=role_name,
        functions=_functions(properties, integration),
        grant_roles=_grant_roles(properties.get("GrantRoles", [])),
        connection=_connection(properties.get("Connection")),
        retain=_boolean(properties.get("Retain", "false"), "Retain"),
        detached=_boolean(properties.get("Detached", "false"), "Detached"),
        iam_propagation_s=_whole(
            properties.get("IamPropagationSeconds", "10"), "IamPropagationSeconds", 0, MAX_PROPAGATION_S
        ),
    )


def _functions(properties: Mapping[str, Any], integration: Integration) -> tuple[SnowflakeFunction, ...]:
    database = identifier(properties.get("Database"), "Database")
    schema = identifier(properties.get("Schema"), "Schema")
    entries = properties.get("Functions")
    if not isinstance(entries, list):
        raise InvalidPropertyError("Functions must be a list of {Name, Arguments, Returns, Volatile, Url} objects.")
    functions: list[SnowflakeFunction] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(entries):
        origin = f"Functions[{position}]"
        if not isinstance(entry, Mapping):
            raise InvalidPropertyError(f"{origin} must be an object with Name, Arguments, Returns, Volatile and Url.")
        unknown = sorted(str(key) for key in entry if key not in FUNCTION_KEYS)
        if unknown:
            raise InvalidPropertyError(
                f"{origin} has unknown key {shown(unknown[0])}; allowed are {', '.join(sorted(FUNCTION_KEYS))}."
            )
        arguments = entry.get("Arguments", [])
        if not isinstance(arguments, list):
            raise InvalidPropertyError(f"{origin}.Arguments must be a list of [NAME, TYPE] pairs.")
        rows = entry.get("MaxBatchRows")
        function = SnowflakeFunction(
            database=database,
            schema=schema,
            name=_required(entry, "Name", origin),
            arguments=tuple(arguments),
            returns=_required(entry, "Returns", origin),
            volatile=_boolean(entry.get("Volatile", "true"), f"{origin}.Volatile"),
            url=_required(entry, "Url", origin),
            max_batch_rows=None if rows is None else _whole(rows, f"{origin}.MaxBatchRows", 1, 10**9),
            origin=origin,
        )
        if not function.url.startswith(integration.allowed_prefix):
            raise InvalidPropertyError(
                f"{origin}.Url must start with AllowedPrefix {integration.allowed_prefix!r}, got {shown(function.url)}."
            )
        if function.signature in seen:
            raise InvalidPropertyError(
                f"{origin} repeats the signature {function.signature} of Functions[{seen[function.signature]}]; "
                "overloads need different argument types."
            )
        seen[function.signature] = position
        functions.append(function)
    return tuple(functions)


def _grant_roles(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidPropertyError("GrantRoles must be a list of role names (it may be empty).")
    roles = (identifier(role, f"GrantRoles[{position}]") for position, role in enumerate(value))
    return tuple(dict.fromkeys(roles))


def _connection(value: object) -> ConnectionProperties:
    if not isinstance(value, Mapping):
        raise InvalidPropertyError("Connection must be an object with Account, User and SecretArn.")
    unknown = sorted(str(key) for key in value if key not in CONNECTION_KEYS)
    if unknown:
        raise InvalidPropertyError(
            f"Connection has unknown key {shown(unknown[0])}; allowed are {', '.join(sorted(CONNECTION_KEYS))}."
        )
    account = _matching(value, "Account", SNOWFLAKE_ACCOUNT, "a Snowflake account identifier such as myorg-myaccount")
    user = _matching(value, "User", _USER, "a Snowflake user name")
    auth = value.get("Auth", KEY_PAIR)
    if auth not in AUTH_METHODS:
        raise InvalidPropertyError(f"Connection.Auth must be 'keypair' or 'wif', got {shown(auth)}.")
    if auth == WORKLOAD_IDENTITY:
        if value.get("SecretArn") is not None:
            raise InvalidPropertyError("Connection.SecretArn must be absent with Auth 'wif': no secret is read.")
        secret_arn = None
    else:
        secret_arn = _matching(value, "SecretArn", SECRET_ARN, "a Secrets Manager secret ARN")
    role = value.get("Role")
    warehouse = value.get("Warehouse")
    host = value.get("Host")
    port = value.get("Port")
    protocol = value.get("Protocol")
    if host is not None and (not isinstance(host, str) or not SNOWFLAKE_HOST.fullmatch(host)):
        raise InvalidPropertyError(f"Connection.Host must be a host name, got {shown(host)}.")
    if protocol is not None and protocol not in ("http", "https"):
        raise InvalidPropertyError(
            f"Connection.Protocol must be 'https' (or 'http' for a stand-in), got {shown(protocol)}."
        )
    return ConnectionProperties(
        account=account,
        user=user,
        secret_arn=secret_arn,
        auth=auth,
        role=None if role is None else identifier(role, "Connection.Role"),
        warehouse=None if warehouse is None else identifier(warehouse, "Connection.Warehouse"),
        host=host,
        port=None if port is None else _whole(port, "Connection.Port", 1, 65535),
        protocol=protocol,
        login_timeout_s=_whole(value.get("LoginTimeoutSeconds", "30"), "Connection.LoginTimeoutSeconds", 1, 600),
        network_timeout_s=_whole(value.get("NetworkTimeoutSeconds", "60"), "Connection.NetworkTimeoutSeconds", 1, 600),
    )


def _required(properties: Mapping[str, Any], key: str, origin: str | None = None) -> Any:
    value = properties.get(key)
    if value is None or value == "":
        raise InvalidPropertyError(f"{f'{origin}.' if origin else ''}{key} is missing.")
    return value


def _optional(properties: Mapping[str, Any], key: str, default: str) -> Any:
    value = properties.get(key)
    return default if value is None else value


def _matching(properties: Mapping[str, Any], key: str, pattern: re.Pattern[str], expected: str) -> str:
    value = _required(properties, key, "Connection")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidPropertyError(f"Connection.{key} must be {expected}, got {shown(value)}.")
    return value


def _boolean(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in ("true", "false"):
        raise InvalidPropertyError(f"{what} must be 'true' or 'false', got {shown(value)}.")
    return text == "true"


def _whole(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value.strip()):
        number = int(value.strip())
    else:
        number = None
    if number is None or not low <= number <= high:
        raise InvalidPropertyError(f"{what} must be a whole number from {low} to {high}, got {shown(value)}.")
    return number
