"""SnowflakeIntegration: Snowflake's API integration and external functions, created by CloudFormation.

A custom resource (handler in lambda_src/snowflake_integration) creates the API integration
once, points it at this API, copies the integration's IAM user and external ID into the
Snowflake role's trust policy, and creates and grants the external functions. It connects
with key-pair authentication from the Snowflake secret.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from pipeline_shared.catalogue import ExternalFunction
from stacks.config import SnowflakeConfig
from stacks.external_function_api import ExternalFunctionApi
from stacks.nag import LAMBDA_BASIC_EXECUTION, acknowledge, acknowledge_wildcards
from stacks.python_function import PythonFunction
from stacks.secrets import grant_secret_read


class SnowflakeIntegration(Construct):
    """The Snowflake side of the pipeline as one CloudFormation resource."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: ExternalFunctionApi,
        snowflake: SnowflakeConfig,
        secret: secretsmanager.ISecret | None,
        functions: tuple[ExternalFunction, ...],
        log_retention: logs.RetentionDays,
        iam_propagation_seconds: int = 15,
    ) -> None:
        super().__init__(scope, construct_id)
        handler = PythonFunction(
            self,
            "Handler",
            packages=("snowflake_integration", "pipeline_shared"),
            handler="snowflake_integration.handler.on_event",
            description="Creates the Snowflake API integration and external functions",
            log_retention=log_retention,
            timeout=Duration.minutes(5),
            memory_size=512,
        )
        if secret is not None:  # None: the handler signs in to Snowflake as its own role (workload identity)
            grant_secret_read(secret, handler)
        self.handler = handler
        handler.add_to_role_policy(
            iam.PolicyStatement(actions=["iam:UpdateAssumeRolePolicy"], resources=[api.snowflake_role.role_arn])
        )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=handler,
            log_group=logs.LogGroup(
                self, "ProviderLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
            ),
        )
        connection = {
            "Account": snowflake.account,
            "User": snowflake.user,
            "Role": snowflake.role,
            "Warehouse": snowflake.warehouse,
            **({"SecretArn": secret.secret_arn} if secret is not None else {"Auth": snowflake.auth}),
        }
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::SnowflakeIntegration",
            properties={
                "IntegrationName": snowflake.integration_name,
                "ApiRoleArn": api.snowflake_role.role_arn,
                "ApiRoleName": api.snowflake_role.role_name,
                "AllowedPrefix": api.url,
                "Database": snowflake.database,
                "Schema": snowflake.schema,
                "Functions": [entry for f in functions for entry in f.as_properties(api.route_url(f.path))],
                "GrantRoles": list(snowflake.grant_roles),
                "Connection": connection,
                "Retain": json.dumps(snowflake.retain_integration),
                "Detached": json.dumps(snowflake.detach),
                "IamPropagationSeconds": str(iam_propagation_seconds),
                # CloudFormation would reset the trust policy if the role's template trust ever
                # changed; the digest makes that change re-run this resource, which rewrites it.
                "ApiRoleTrustDigest": _digest(Stack.of(self).resolve(_trust_policy(api.snowflake_role))),
            },
        )
        acknowledge(
            self,
            LAMBDA_BASIC_EXECUTION,
            "AWSLambdaBasicExecutionRole only lets CDK's provider function write its own logs.",
        )
        acknowledge_wildcards(
            self,
            "CDK's provider framework invokes its handler's versions (<handler-arn>:*).",
            allowed=[r"Resource::<[A-Za-z0-9]+\.Arn>:\*"],
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            "The provider's runtime is chosen by CDK.",
        )

    @property
    def integration_name(self) -> str:
        return self.resource.get_att_string("IntegrationName")

    @property
    def handler_role_arn(self) -> str:
        """The role the custom resource runs as: the DDL user's workload identity with auth "wif"."""
        return self.handler.role.role_arn if self.handler.role else ""

    @property
    def function_names(self) -> str:
        return self.resource.get_att_string("Functions")


def _digest(document: object) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def _trust_policy(role: iam.Role) -> Any:
    """The role's trust policy as CloudFormation JSON (every role CDK makes has one)."""
    if role.assume_role_policy is None:
        raise ValueError(f"{role.node.path} has no trust policy: build it with assumed_by.")
    return role.assume_role_policy.to_json()
