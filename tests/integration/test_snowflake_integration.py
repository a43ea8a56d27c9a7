"""The Snowflake integration custom resource against the stand-ins.

fakesnow 0.12.1 (server mode, real connector) logs in and runs queries but executes none of the
integration DDL: CREATE/ALTER API INTEGRATION, CREATE EXTERNAL FUNCTION and GRANT are parser
errors, GET_DDL is an unknown function, and DESCRIBE INTEGRATION, DROP FUNCTION and DROP
INTEGRATION crash its server (HTTP 500, retried by the connector until its network timeout).
``test_fakesnow_cannot_run_integration_ddl`` pins that down. So:

- the real ``on_event`` runs against fakesnow for what it can show: the key-pair/password
  secret read from moto, the connection settings, and Snowflake's errors and timeouts
  arriving at CloudFormation as one sentence;
- the converge/tear-down logic runs with :class:`StandInSnowflake`, which plays Snowflake at the
  network edge (records statements, keeps integrations and functions, answers DESCRIBE
  INTEGRATION and GET_DDL), while the trust policy is written to and read back from moto's IAM.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from local_mode.standins import Server, fakesnow_connection, free_port
from snowflake_integration import handler, statements
from snowflake_integration.lifecycle import SetupFailedError
from snowflake_integration.properties import parse_properties
from snowflake_integration.statements import InvalidPropertyError

pytestmark = pytest.mark.integration

PREFIX = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"
IAM_USER_ARN = "arn:aws:iam::999999999999:user/abc1-b-self1234"
INTEGRATION = "MOVIELENS_RECOMMENDER_API"
TRAIN = "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR)"
TRAIN_WITH_OPTIONS = "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR, OBJECT)"
STATUS = "MOVIELENS.PUBLIC.PIPELINE_STATUS(VARCHAR)"
NEW_STATUS = "MOVIELENS.PUBLIC.RECOMMENDER_STATUS(VARCHAR)"
CREATE_INTEGRATION = (
    f"CREATE API INTEGRATION IF NOT EXISTS {INTEGRATION} API_PROVIDER = aws_api_gateway "
    "API_AWS_ROLE_ARN = '{role_arn}' "
    "API_ALLOWED_PREFIXES = ('https://abc123.execute-api.us-east-1.amazonaws.com/prod/') "
    "ENABLED = TRUE COMMENT = 'Recommender functions; managed by CloudFormation'"
)
ALTER_INTEGRATION = (
    f"ALTER API INTEGRATION {INTEGRATION} SET "
    "API_AWS_ROLE_ARN = '{role_arn}' "
    "API_ALLOWED_PREFIXES = ('https://abc123.execute-api.us-east-1.amazonaws.com/prod/') "
    "ENABLED = TRUE COMMENT = 'Recommender functions; managed by CloudFormation'"
)
CREATE_TRAIN = (
    "CREATE OR REPLACE EXTERNAL FUNCTION MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS"
    f"(INPUT_TABLE VARCHAR, OUTPUT_TABLE VARCHAR) RETURNS VARIANT VOLATILE API_INTEGRATION = {INTEGRATION} "
    "MAX_BATCH_ROWS = 1 COMPRESSION = AUTO AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/train'"
)
CREATE_TRAIN_WITH_OPTIONS = (
    "CREATE OR REPLACE EXTERNAL FUNCTION MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS"
    "(INPUT_TABLE VARCHAR, OUTPUT_TABLE VARCHAR, OPTIONS OBJECT) RETURNS VARIANT VOLATILE "
    f"API_INTEGRATION = {INTEGRATION} COMPRESSION = AUTO "
    "AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/train'"
)
CREATE_STATUS = (
    "CREATE OR REPLACE EXTERNAL FUNCTION MOVIELENS.PUBLIC.PIPELINE_STATUS(NAME VARCHAR) RETURNS VARIANT IMMUTABLE "
    f"API_INTEGRATION = {INTEGRATION} MAX_BATCH_ROWS = 20 COMPRESSION = AUTO "
    "AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/status'"
)


def grants(signature: str) -> list[str]:
    return [f"GRANT USAGE ON FUNCTION {signature} TO ROLE {role}" for role in ("ANALYST", "DATA_SCIENTIST")]


def show(signature: str) -> str:
    return f"SHOW GRANTS ON FUNCTION {signature}"


def drop(signature: str) -> list[str]:
    return [f"SELECT GET_DDL('FUNCTION', '{signature}')", f"DROP FUNCTION IF EXISTS {signature}"]


# -- a stand-in for Snowflake at the network edge ----------------------------------------


class StandInSnowflake:
    """Plays Snowflake for one cursor: records statements and keeps what they created.

    Each integration gets an external ID with ``+``, ``/`` and ``=`` when it is created, and
    keeps it until dropped, as Snowflake does. ``failures`` maps a statement prefix to the
    error Snowflake answers it with.
    """

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.integrations: dict[str, str] = {}  # name -> external id
        self.functions: dict[str, str] = {}  # signature -> integration
        self.grants: set[tuple[str, str]] = set()
        self.failures: dict[str, ProgrammingError] = {}
        self.sessions: list[Any] = []
        self._rows: list[tuple[Any, ...]] = []
        self.description: list[tuple[str, ...]] | None = None

    def open_cursor(self, settings: Any) -> contextlib.AbstractContextManager[StandInSnowflake]:
        self.sessions.append(settings)
        return contextlib.nullcontext(self)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def execute(self, command: str) -> StandInSnowflake:
        self.statements.append(command)
        self._rows, self.description = [], None
        for prefix, error in self.failures.items():
            if command.startswith(prefix):
                raise error
        for pattern, answer in self._grammar():
            match = re.fullmatch(pattern, command)
            if match:
                answer(*match.groups())
                return self
        raise AssertionError(f"the stand-in does not know this statement: {command}")

    def _grammar(self) -> list[tuple[str, Any]]:
        return [
            (r"CREATE API INTEGRATION IF NOT EXISTS (\w+) API_PROVIDER = aws_(?:gov_)?api_gateway .*", self._create),
            (r"ALTER API INTEGRATION (\w+) SET .*", self._existing),
            (r"DESCRIBE INTEGRATION (\w+)", self._describe),
            (r"CREATE OR REPLACE EXTERNAL FUNCTION ([\w.]+)\((.*?)\) RETURNS .* API_INTEGRATION = (\w+) .*", self._fn),
            (r"GRANT USAGE ON FUNCTION (.+) TO ROLE (\w+)", self._grant),
            (
                r'GRANT USAGE ON FUNCTION (.+) TO ROLE "((?:[^"]|"")+)"',
                lambda sig, role: self._grant(sig, role.replace('""', '"')),
            ),
            (r"SHOW GRANTS ON FUNCTION (.+)", self._show_grants),
            (r'GRANT USAGE ON FUNCTION (.+) TO DATABASE ROLE "(\w+)"\."(\w+)"', self._grant_database_role),
            (r"SELECT GET_DDL\('FUNCTION', '(.+)'\)", self._ddl),
            (r"DROP FUNCTION IF EXISTS (.+)", self._drop_function),
            (r"DROP INTEGRATION IF EXISTS (\w+)", self._drop_integration),
        ]

    def _create(self, name: str) -> None:
        self.integrations.setdefault(name, f"ABC123_SFCRole=2_{uuid.uuid4().hex[:8]}+def/ghi=")

    def _existing(self, name: str) -> None:
        if name not in self.integrations:
            raise missing(f"Integration '{name}'")

    def _describe(self, name: str) -> None:
        self._existing(name)
        self._rows = [
            ("ENABLED", "Boolean", "true", "false"),
            ("API_ALLOWED_PREFIXES", "List", PREFIX, "[]"),
            ("API_AWS_IAM_USER_ARN", "String", IAM_USER_ARN, ""),
            ("API_AWS_ROLE_ARN", "String", "arn:aws:iam::123456789012:role/x", ""),
            ("API_AWS_EXTERNAL_ID", "String", self.integrations[name], ""),
        ]

    def _fn(self, name: str, arguments: str, integration: str) -> None:
        self._existing(integration)
        types = ", ".join(argument.split(" ")[1] for argument in arguments.split(", ") if argument)
        self.functions[f"{name}({types})"] = integration
        self.grants = {(signature, role) for signature, role in self.grants if signature != f"{name}({types})"}

    def _grant(self, signature: str, role: str) -> None:
        if signature not in self.functions:
            raise missing(f"Function '{signature}'")
        self.grants.add((signature, role))

    def _grant_quoted(self, signature: str, role: str) -> None:
        self._grant(signature, role.replace('""', '"'))

    def _grant_database_role(self, signature: str, database: str, role: str) -> None:
        self._grant(signature, f"{DATABASE_ROLE}{database}.{role}")

    def _show_grants(self, signature: str) -> None:
        """Snowflake's columns, found by name; database roles named without their database (bundle 2026_06)."""
        if signature not in self.functions:
            raise missing(f"Function '{signature}'")
        self.description = [(name,) for name in SHOW_GRANTS_COLUMNS]

        def row(privilege: str, grantee: str, by: str) -> tuple[str, ...]:
            kind, name = (
                ("DATABASE_ROLE", grantee.removeprefix(DATABASE_ROLE).split(".")[-1])
                if grantee.startswith(DATABASE_ROLE)
                else ("ROLE", grantee)
            )
            return ("2026-11-30", privilege, "FUNCTION", signature, kind, name, "false", by)

        owner = [row("OWNERSHIP", "RECOMMENDER_DEPLOYER", "X")]
        self._rows = owner + [row("USAGE", g, "RECOMMENDER_DEPLOYER") for s, g in sorted(self.grants) if s == signature]

    def _ddl(self, signature: str) -> None:
        if signature not in self.functions:
            raise missing(f"Function '{signature}'")
        self._rows = [(f'create or replace external function ... API_INTEGRATION = "{self.functions[signature]}" ...',)]

    def _drop_integration(self, name: str) -> None:
        self.integrations.pop(name, None)

    def _drop_function(self, signature: str) -> None:
        self.functions.pop(signature, None)
        self.grants = {(s, role) for s, role in self.grants if s != signature}


DATABASE_ROLE = "database role:"  # marks a database role among the stand-in's grantees
# SHOW GRANTS ON <object>, as documented; newer bundles add columns, so readers go by name
SHOW_GRANTS_COLUMNS = (
    "created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option", "granted_by"
)  # fmt: skip


def missing(what: str) -> ProgrammingError:
    return ProgrammingError(
        msg=f"SQL compilation error:\n{what} does not exist or not authorized.", errno=2003, sqlstate="02000"
    )


# -- events ---------------------------------------------------------------------------------


def resource_properties(role_arn: str, role_name: str, **changes: Any) -> dict[str, Any]:
    properties = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
        "IntegrationName": INTEGRATION,
        "ApiRoleArn": role_arn,
        "ApiRoleName": role_name,
        "AllowedPrefix": PREFIX,
        "Database": "MOVIELENS",
        "Schema": "PUBLIC",
        "Comment": "Recommender functions; managed by CloudFormation",
        "Functions": [
            {
                "Name": "TRAIN_AND_GET_RECOMMENDATIONS",
                "Arguments": [["INPUT_TABLE", "VARCHAR"], ["OUTPUT_TABLE", "VARCHAR"]],
                "Returns": "VARIANT",
                "Volatile": "true",
                "Url": f"{PREFIX}train",
                "MaxBatchRows": "1",
            },
            {
                "Name": "TRAIN_AND_GET_RECOMMENDATIONS",
                "Arguments": [["INPUT_TABLE", "VARCHAR"], ["OUTPUT_TABLE", "VARCHAR"], ["OPTIONS", "OBJECT"]],
                "Returns": "VARIANT",
                "Volatile": "true",
                "Url": f"{PREFIX}train",
            },
            {
                "Name": "PIPELINE_STATUS",
                "Arguments": [["NAME", "VARCHAR"]],
                "Returns": "VARIANT",
                "Volatile": "false",
                "Url": f"{PREFIX}status",
                "MaxBatchRows": "20",
            },
        ],
        "GrantRoles": ["ANALYST", "DATA_SCIENTIST"],
        "Connection": {
            "Account": "myorg-myaccount",
            "User": "CDK_DEPLOYER",
            "Role": "ACCOUNTADMIN",
            "Warehouse": "COMPUTE_WH",
            "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:standin-key-AbCdEf",
        },
        "Retain": "false",
        "IamPropagationSeconds": "10",
    }
    properties.update(changes)
    return properties


def event(request: str, properties: dict[str, Any], *, old: dict | None = None, physical_id: str | None = None):
    body = {
        "RequestType": request,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/never-used",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Recommender-dev/guid",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "SnowflakeResource",
        "ResourceType": "Custom::SnowflakeIntegration",
        "ResourceProperties": properties,
    }
    if old is not None:
        body["OldResourceProperties"] = old
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    return body


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


@pytest.fixture
def api_role(iam) -> SimpleNamespace:
    """A fresh role in moto whose trust policy the handler must replace."""
    name = f"Stack-SnowflakeApiRole-{uuid.uuid4().hex[:8]}"
    placeholder = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(placeholder))["Role"]["Arn"]
    return SimpleNamespace(name=name, arn=arn)


@pytest.fixture
def standin() -> StandInSnowflake:
    return StandInSnowflake()


@pytest.fixture
def props(api_role) -> dict[str, Any]:
    return resource_properties(api_role.arn, api_role.name)


class Run:
    """``handler.respond`` with the stand-in cursor and moto's IAM; remembers the waits."""

    def __init__(self, standin: StandInSnowflake, iam: Any) -> None:
        self.standin, self.iam = standin, iam
        self.waits: list[tuple[float, int]] = []  # (seconds, statements executed before the wait)

    def __call__(self, request_event: dict[str, Any]) -> dict[str, Any]:
        return handler.respond(request_event, open_cursor=self.standin.open_cursor, iam=self.iam, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.waits.append((seconds, len(self.standin.statements)))


@pytest.fixture
def run(standin, iam) -> Run:
    return Run(standin, iam)


def trust_policy_in_iam(iam, role_name: str) -> dict[str, Any]:
    return iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]


def expected_trust_policy(external_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": IAM_USER_ARN},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def converge_statements(role_arn: str) -> list[str]:
    return [
        CREATE_INTEGRATION.format(role_arn=role_arn),
        ALTER_INTEGRATION.format(role_arn=role_arn),
        f"DESCRIBE INTEGRATION {INTEGRATION}",
        show(TRAIN),
        CREATE_TRAIN,
        *grants(TRAIN),
        show(TRAIN_WITH_OPTIONS),
        CREATE_TRAIN_WITH_OPTIONS,
        *grants(TRAIN_WITH_OPTIONS),
        show(STATUS),
        CREATE_STATUS,
        *grants(STATUS),
    ]


# -- Create / Update / Delete with the stand-in ---------------------------------------------


def test_create_runs_the_exact_statements_and_writes_the_trust_policy(run, standin, iam, api_role, props):
    answer = run(event("Create", props))

    assert standin.statements == converge_statements(api_role.arn)
    external_id = standin.integrations[INTEGRATION]
    assert "+" in external_id and "=" in external_id
    assert trust_policy_in_iam(iam, api_role.name) == expected_trust_policy(external_id)
    # the wait for IAM comes after DESCRIBE INTEGRATION and before the first function
    assert run.waits == [(10, 3)]
    assert answer == {
        "PhysicalResourceId": INTEGRATION,
        "Data": {
            "IntegrationName": INTEGRATION,
            "IamUserArn": IAM_USER_ARN,
            "ExternalId": external_id,
            "Functions": f"{TRAIN}, {TRAIN_WITH_OPTIONS}, {STATUS}",
        },
    }
    assert set(standin.functions) == {TRAIN, TRAIN_WITH_OPTIONS, STATUS}
    assert len(standin.grants) == 6
    assert len(json.dumps(answer["Data"])) < 4096


def test_update_drops_a_renamed_function_after_creating_its_successor(run, standin, iam, api_role, props):
    run(event("Create", props))
    external_id = standin.integrations[INTEGRATION]
    new = copy.deepcopy(props)
    new["Functions"][2]["Name"] = "RECOMMENDER_STATUS"
    del new["Functions"][1]  # the overload with options is gone
    standin.statements.clear()

    answer = run(event("Update", new, old=props, physical_id=INTEGRATION))

    create_new_status = CREATE_STATUS.replace("PIPELINE_STATUS", "RECOMMENDER_STATUS")
    assert standin.statements == [
        *converge_statements(api_role.arn)[:3],
        show(TRAIN),
        CREATE_TRAIN,
        *grants(TRAIN),
        show(NEW_STATUS),
        create_new_status,
        *grants(NEW_STATUS),
        *drop(TRAIN_WITH_OPTIONS),
        *drop(STATUS),
    ]
    assert set(standin.functions) == {TRAIN, NEW_STATUS}
    assert standin.integrations[INTEGRATION] == external_id  # never re-created
    assert trust_policy_in_iam(iam, api_role.name) == expected_trust_policy(external_id)
    assert answer["PhysicalResourceId"] == INTEGRATION
    assert answer["Data"]["Functions"] == f"{TRAIN}, {NEW_STATUS}"


def test_update_is_idempotent(run, standin, iam, api_role, props):
    run(event("Create", props))
    standin.statements.clear()
    first = run(event("Update", props, old=props, physical_id=INTEGRATION))
    first_statements = list(standin.statements)
    standin.statements.clear()
    second = run(event("Update", props, old=props, physical_id=INTEGRATION))

    assert standin.statements == first_statements == converge_statements(api_role.arn)
    assert second == first
    assert trust_policy_in_iam(iam, api_role.name) == expected_trust_policy(first["Data"]["ExternalId"])


def test_update_that_moves_the_role_points_the_integration_at_it(run, standin, iam, api_role, props):
    run(event("Create", props))
    external_id = standin.integrations[INTEGRATION]
    other = f"Other-SnowflakeApiRole-{uuid.uuid4().hex[:8]}"
    other_arn = iam.create_role(
        RoleName=other, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    moved = resource_properties(other_arn, other)
    standin.statements.clear()

    run(event("Update", moved, old=props, physical_id=INTEGRATION))

    assert standin.statements[1] == ALTER_INTEGRATION.format(role_arn=other_arn)
    assert trust_policy_in_iam(iam, other) == expected_trust_policy(external_id)


def test_delete_drops_functions_then_the_integration(run, standin, props):
    run(event("Create", props))
    standin.statements.clear()

    answer = run(event("Delete", props, physical_id=INTEGRATION))

    assert standin.statements == [
        *drop(TRAIN),
        *drop(TRAIN_WITH_OPTIONS),
        *drop(STATUS),
        f"DROP INTEGRATION IF EXISTS {INTEGRATION}",
    ]
    assert answer == {"PhysicalResourceId": INTEGRATION}
    assert standin.functions == {} and standin.integrations == {} and standin.grants == set()


def test_delete_with_retain_keeps_the_integration(run, standin, props):
    retained = {**props, "Retain": "true"}
    run(event("Create", retained))
    external_id = standin.integrations[INTEGRATION]
    standin.statements.clear()

    run(event("Delete", retained, physical_id=INTEGRATION))

    assert standin.statements == [*drop(TRAIN), *drop(TRAIN_WITH_OPTIONS), *drop(STATUS)]
    assert standin.functions == {}
    assert standin.integrations == {INTEGRATION: external_id}


def test_delete_when_everything_is_already_gone_succeeds(run, standin, props):
    answer = run(event("Delete", props, physical_id=INTEGRATION))

    assert answer == {"PhysicalResourceId": INTEGRATION}
    assert standin.statements[-1] == f"DROP INTEGRATION IF EXISTS {INTEGRATION}"
    assert len(standin.statements) == 7


def test_delete_when_the_database_is_gone_succeeds(run, standin, props):
    standin.failures["DROP FUNCTION"] = missing("Database 'MOVIELENS'")

    run(event("Delete", props, physical_id=INTEGRATION))

    assert standin.statements[-1] == f"DROP INTEGRATION IF EXISTS {INTEGRATION}"


def test_delete_of_the_old_name_after_a_rename_keeps_the_new_integrations_functions(run, standin, api_role, props):
    run(event("Create", props))
    renamed = {**props, "IntegrationName": "RECOMMENDER_API_V2"}
    answer = run(event("Update", renamed, old=props, physical_id=INTEGRATION))
    assert answer["PhysicalResourceId"] == "RECOMMENDER_API_V2"
    standin.statements.clear()

    # CloudFormation then deletes the old physical resource with the old properties
    run(event("Delete", props, physical_id=INTEGRATION))

    assert standin.statements == [
        f"SELECT GET_DDL('FUNCTION', '{TRAIN}')",
        f"SELECT GET_DDL('FUNCTION', '{TRAIN_WITH_OPTIONS}')",
        f"SELECT GET_DDL('FUNCTION', '{STATUS}')",
        f"DROP INTEGRATION IF EXISTS {INTEGRATION}",
    ]
    assert standin.functions == dict.fromkeys([TRAIN, TRAIN_WITH_OPTIONS, STATUS], "RECOMMENDER_API_V2")
    assert set(standin.integrations) == {"RECOMMENDER_API_V2"}


def test_delete_of_a_resource_that_was_never_created_touches_nothing(run, standin, props):
    answer = run(event("Delete", props, physical_id="2f1c9a3e-failed-create"))

    assert answer == {"PhysicalResourceId": "2f1c9a3e-failed-create"}
    assert standin.statements == [] and standin.sessions == []


def test_bad_properties_fail_before_anything_runs(run, standin, iam, api_role, props):
    bad = copy.deepcopy(props)
    bad["Functions"][1]["Url"] = f"{PREFIX}train'); DROP DATABASE MOVIELENS; --"

    with pytest.raises(InvalidPropertyError, match=r"^Functions\[1\]\.Url must be an https:// URL"):
        run(event("Create", bad))

    assert standin.statements == [] and standin.sessions == []
    assert "Condition" not in json.dumps(trust_policy_in_iam(iam, api_role.name))


def test_snowflake_error_reaches_cloudformation_as_one_sentence(run, standin, props):
    standin.failures["GRANT USAGE ON FUNCTION"] = ProgrammingError(
        msg="SQL compilation error:\nRole 'DATA_SCIENTIST' does not exist or not authorized.",
        errno=2003,
        sqlstate="02000",
    )

    with pytest.raises(SetupFailedError) as caught:
        run(event("Create", props))

    assert str(caught.value) == (
        f"Snowflake could not grant usage on {TRAIN} to role ANALYST: 002003 (02000): SQL compilation error: "
        "Role 'DATA_SCIENTIST' does not exist or not authorized."
    )


def test_missing_iam_role_stops_before_the_functions(run, standin, props):
    gone = resource_properties("arn:aws:iam::123456789012:role/NoSuchRole", "NoSuchRole")

    with pytest.raises(
        SetupFailedError, match=r"^Cannot update the trust policy of IAM role NoSuchRole: .*not found\.$"
    ):
        run(event("Create", gone))

    assert standin.statements[-1] == f"DESCRIBE INTEGRATION {INTEGRATION}"
    assert run.waits == []


def test_unreadable_old_properties_drop_nothing(run, standin, props):
    run(event("Create", props))
    standin.statements.clear()

    run(event("Update", props, old={"IntegrationName": "not valid!"}, physical_id=INTEGRATION))

    assert not any(s.startswith(("DROP", "SELECT GET_DDL")) for s in standin.statements)


# -- the real handler against fakesnow and moto ---------------------------------------------


@pytest.fixture
def lambda_aws(aws_env, monkeypatch) -> None:
    """The Lambda's boto3 default clients reach moto."""
    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_REGION", aws_env["AWS_DEFAULT_REGION"])


@pytest.fixture
def password_secret(aws_client) -> SimpleNamespace:
    password = f"pw-{uuid.uuid4().hex}"
    arn = aws_client("secretsmanager").create_secret(
        Name=f"standin-integration/{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"password": password})
    )["ARN"]
    return SimpleNamespace(arn=arn, password=password)


def connection_property(server: Server, secret_arn: str, **extra: str) -> dict[str, str]:
    return {
        "Account": "fakesnow",
        "User": "CDK_DEPLOYER",
        "Role": "ACCOUNTADMIN",
        "Warehouse": "COMPUTE_WH",
        "SecretArn": secret_arn,
        "Host": server.host,
        "Port": str(server.port),
        "Protocol": "http",
        "LoginTimeoutSeconds": "10",
        "NetworkTimeoutSeconds": "2",  # fakesnow answers unsupported DDL with HTTP 500, which the connector retries
        **extra,
    }


CONTEXT = SimpleNamespace(aws_request_id="request-1")


@pytest.fixture(scope="module")
def fakesnow_cursor(fakesnow: Server) -> Iterator[Any]:
    connection = fakesnow_connection(
        fakesnow.port, host=fakesnow.host, user="probe", login_timeout=10, network_timeout=2
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS MOVIELENS")
        cursor.execute("CREATE SCHEMA IF NOT EXISTS MOVIELENS.PUBLIC")
        yield cursor
    connection.close()


def _probe_setup():
    return parse_properties(resource_properties("arn:aws:iam::123456789012:role/R", "R"))


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        (lambda s: statements.create_integration(s.integration), "Parser Error"),
        (lambda s: statements.alter_integration(s.integration), "Parser Error"),
        (lambda s: statements.create_function(s.functions[0], s.integration.name), "Parser Error"),
        (lambda s: statements.grant_usage(s.functions[0], "ANALYST"), "Parser Error"),
        (lambda s: statements.function_ddl(s.functions[0]), "get_ddl does not exist"),
        (lambda s: statements.describe_integration(s.integration.name), "HTTP 500"),
        (lambda s: statements.drop_function(s.functions[0]), "HTTP 500"),
        (lambda s: statements.drop_integration(s.integration.name), "HTTP 500"),
    ],
    ids=[
        "create-integration",
        "alter-integration",
        "create-function",
        "grant",
        "get-ddl",
        "describe",
        "drop-function",
        "drop-integration",
    ],
)
def test_fakesnow_cannot_run_integration_ddl(fakesnow_cursor, statement, error):
    """Why the lifecycle tests use a stand-in: if this starts failing, move them onto fakesnow."""
    with pytest.raises(snowflake.connector.errors.Error, match=error):
        fakesnow_cursor.execute(statement(_probe_setup()))
    assert fakesnow_cursor.execute("SELECT 1").fetchall() == [(1,)]


def test_on_event_connects_with_the_secret_and_reports_snowflakes_refusal(
    lambda_aws, fakesnow, password_secret, api_role
):
    props = resource_properties(
        api_role.arn, api_role.name, Connection=connection_property(fakesnow, password_secret.arn)
    )

    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Create", props), CONTEXT)

    message = str(caught.value)
    assert message.startswith(
        f"Snowflake could not create API integration {INTEGRATION}: 001003 (42000): Parser Error: "
        'syntax error at or near "API"'
    )
    assert message.endswith(".") and "\n" not in message
    assert password_secret.password not in message


def test_on_event_delete_reports_a_failing_server_within_the_network_timeout(lambda_aws, fakesnow, password_secret):
    props = resource_properties(
        "arn:aws:iam::123456789012:role/R", "R", Connection=connection_property(fakesnow, password_secret.arn)
    )
    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Delete", props, physical_id=INTEGRATION), CONTEXT)

    assert (
        str(caught.value)
        == f"Snowflake could not drop external function {TRAIN}: 290500: HTTP 500: Internal Server Error."
    )


def test_on_event_reports_unreachable_snowflake_quickly(lambda_aws, fakesnow, password_secret):
    closed = free_port()
    connection = connection_property(fakesnow, password_secret.arn, Port=str(closed), LoginTimeoutSeconds="2")
    props = resource_properties("arn:aws:iam::123456789012:role/R", "R", Connection=connection)
    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Create", props), CONTEXT)

    message = str(caught.value)
    assert message.startswith("Cannot connect to Snowflake account fakesnow as user CDK_DEPLOYER within 2 s: 250001")
    assert message.endswith(f"check Connection, the Lambda's network access and the key in {password_secret.arn}.")
    assert password_secret.password not in message and "\n" not in message


def test_on_event_reports_a_missing_secret(lambda_aws, fakesnow):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf"
    props = resource_properties("arn:aws:iam::123456789012:role/R", "R", Connection=connection_property(fakesnow, arn))

    with pytest.raises(SetupFailedError, match=rf"^Cannot read secret {re.escape(arn)} \(ResourceNotFoundException\)"):
        handler.on_event(event("Create", props), CONTEXT)


def test_on_event_turns_a_bug_into_one_sentence(lambda_aws):
    with pytest.raises(RuntimeError) as caught:
        handler.on_event("not an event", CONTEXT)  # type: ignore[arg-type]

    assert str(caught.value) == (
        "The Snowflake integration handler failed unexpectedly (AttributeError); see its log for request request-1."
    )


# -- grants survive the replace --------------------------------------------------------------


def test_grants_made_by_hand_survive_a_redeploy(run, standin, api_role, props):
    """CREATE OR REPLACE drops every grant: roles granted by hand (a task owner, an analyst) get theirs back."""
    run(event("Create", props))
    standin.grants |= {
        (TRAIN, "TASK_OWNER"),
        (STATUS, 'Team "Analytics"'),
        (STATUS, f"{DATABASE_ROLE}MOVIELENS.READER"),
    }
    standin.statements.clear()

    run(event("Update", props, old=props, physical_id=INTEGRATION))

    assert (TRAIN, "TASK_OWNER") in standin.grants and (STATUS, 'Team "Analytics"') in standin.grants
    # a database role, listed without its database, is granted again with it
    assert f'GRANT USAGE ON FUNCTION {STATUS} TO DATABASE ROLE "MOVIELENS"."READER"' in standin.statements
    assert (STATUS, f"{DATABASE_ROLE}MOVIELENS.READER") in standin.grants
    assert f'GRANT USAGE ON FUNCTION {TRAIN} TO ROLE "TASK_OWNER"' in standin.statements
    assert f'GRANT USAGE ON FUNCTION {STATUS} TO ROLE "Team ""Analytics"""' in standin.statements
    # configured roles are granted once, not twice
    assert standin.statements.count(f"GRANT USAGE ON FUNCTION {TRAIN} TO ROLE ANALYST") == 1
    assert len(standin.grants) == 9


def test_grants_are_read_before_the_replace_that_drops_them(run, standin, api_role, props):
    run(event("Create", props))
    standin.statements.clear()
    run(event("Update", props, old=props, physical_id=INTEGRATION))
    assert standin.statements.index(show(TRAIN)) + 1 == standin.statements.index(CREATE_TRAIN)


def test_unreadable_grants_stop_the_deploy_before_anything_is_replaced(run, standin, api_role, props):
    run(event("Create", props))
    standin.failures["SHOW GRANTS"] = ProgrammingError(msg="Insufficient privileges to operate on function", errno=3001)
    standin.statements.clear()
    with pytest.raises(RuntimeError, match=r"Snowflake could not read the grants on .*TRAIN_AND_GET_RECOMMENDATIONS"):
        run(event("Update", props, old=props, physical_id=INTEGRATION))
    assert not [s for s in standin.statements if s.startswith("CREATE OR REPLACE")]


# -- the way out when Snowflake refuses us -----------------------------------------------------------


def unreachable(fakesnow, password_secret, **changes: Any) -> dict[str, Any]:
    connection = connection_property(fakesnow, password_secret.arn, Port=str(free_port()), LoginTimeoutSeconds="2")
    return resource_properties("arn:aws:iam::123456789012:role/R", "R", Connection=connection, **changes)


def test_destroy_while_snowflake_refuses_fails_with_the_cause(lambda_aws, fakesnow, password_secret):
    props = unreachable(fakesnow, password_secret)
    with pytest.raises(SetupFailedError, match=r"^Cannot connect to Snowflake account fakesnow"):
        handler.on_event(event("Delete", props, physical_id=INTEGRATION), CONTEXT)


def test_detached_update_and_delete_never_reach_snowflake(lambda_aws, fakesnow, password_secret):
    """cdk.json snowflake.detach: deploy, then destroy, complete while Snowflake is unreachable."""
    old = unreachable(fakesnow, password_secret)
    detached = unreachable(fakesnow, password_secret, Detached="true")

    updated = handler.on_event(event("Update", detached, old=old, physical_id=INTEGRATION), CONTEXT)
    assert updated["PhysicalResourceId"] == INTEGRATION  # same id: CloudFormation deletes nothing
    assert updated["Data"]["IntegrationName"] == INTEGRATION

    deleted = handler.on_event(event("Delete", detached, physical_id=INTEGRATION), CONTEXT)
    assert deleted == {"PhysicalResourceId": INTEGRATION}


def test_detached_leaves_snowflakes_objects_in_place(run, standin, props):
    run(event("Create", props))
    before = (dict(standin.functions), dict(standin.integrations), set(standin.grants))
    standin.statements.clear()
    detached = {**props, "Detached": "true"}
    run(event("Update", detached, old=props, physical_id=INTEGRATION))
    run(event("Delete", detached, physical_id=INTEGRATION))
    assert standin.statements == []
    assert (standin.functions, standin.integrations, standin.grants) == before


def test_on_event_signs_in_with_workload_identity_and_no_secret(lambda_aws, fakesnow, api_role, monkeypatch):
    """Connection.Auth "wif": the handler's own AWS role signs in; no secret exists or is read."""
    monkeypatch.setenv("SNOWFLAKE_WIF_ALLOWED_HOST_SUFFIXES", "localhost")  # admit the stand-in's host
    connection = connection_property(fakesnow, "unused", Host="localhost", Auth="wif", User="CDK_WIF_DEPLOYER")
    del connection["SecretArn"]
    props = resource_properties(api_role.arn, api_role.name, Connection=connection)

    with pytest.raises(SetupFailedError, match=f"^Snowflake could not create API integration {INTEGRATION}: "):
        handler.on_event(event("Create", props), CONTEXT)  # signed in: the stand-in then refuses the DDL

    lines = [json.loads(line)["login"] for line in fakesnow.log.read_text().splitlines() if line.startswith('{"login"')]
    assert {
        "user": "CDK_WIF_DEPLOYER",
        "authenticator": "WORKLOAD_IDENTITY",
        "provider": "AWS",
        "attested": True,
    } in lines


def test_a_secret_beside_workload_identity_is_refused(api_role, fakesnow):
    connection = connection_property(fakesnow, "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
    props = resource_properties(api_role.arn, api_role.name, Connection={**connection, "Auth": "wif"})
    with pytest.raises(InvalidPropertyError, match=r"Connection\.SecretArn must be absent with Auth 'wif'"):
        parse_properties(props)
