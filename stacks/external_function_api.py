"""ExternalFunctionApi: the API Gateway REST API and Lambdas that Snowflake's external functions call.

What AWS checks, and where it is documented:
- CloudWatch Logs authorizes most actions on a log group (CreateLogGroup, PutRetentionPolicy) against
  ``arn:...:log-group:NAME:*``, tagging against the ARN without ``:*``: both are granted
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl).
- ``sagemaker:InstanceTypes`` holds every instance type a create request names
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html;
  https://docs.aws.amazon.com/sagemaker/latest/dg/security_iam_id-based-policy-examples.html).
  It is multivalued, so it takes ``ForAllValues``, which is also true when the request has no value
  at all -- a serverless endpoint config names no instance type and stays allowed; a ``Null`` check
  makes the key required where a request always has it
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
- Reserved concurrency is opt-in: Lambda lets a function reserve only up to the account's unreserved
  concurrency minus 100, and new accounts have reduced concurrency quotas, so a default reservation
  fails the first deploy (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html,
  https://docs.aws.amazon.com/lambda/latest/dg/limits.html).
- ``LambdaIntegration`` adds a second invoke permission for the console's ``test-invoke-stage``
  unless ``allow_test_invoke=False``
  (https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_apigateway/LambdaIntegration.html).
"""

from __future__ import annotations

import re

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipeline_shared.catalogue import CATALOGUE, InstanceTypeLimit, Permission, ResourceKind
from pipeline_shared.resources import TRAINING_LOG_GROUP, training_job_prefix, tuning_job_prefix
from stacks.nag import acknowledge, acknowledge_checkov, acknowledge_wildcards
from stacks.python_function import PythonFunction

STAGE = "prod"
PACKAGES = ("external_functions", "pipeline_shared")


class ExternalFunctionApi(Construct):
    """A regional REST API with one IAM-authorised POST route per function, callable only by the Snowflake role.

    Each route has its own Lambda with only the permissions its function needs; training jobs and
    endpoint configs only on the configured instance types. ``train_concurrency``: reserved concurrency
    of the train function (None: none reserved; job starts stay bounded by maxJobsPerBatch and the
    running-job check).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        training_role: iam.IRole,
        hosting_role: iam.IRole,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        throttle_rate_limit: int,
        throttle_burst_limit: int,
        training_instance_type: str,
        endpoint_instance_type: str,
        train_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        prefix = environment["RESOURCE_PREFIX"]
        self.snowflake_role = self._snowflake_role()
        self.api = self._rest_api(stack, log_retention, throttle_rate_limit, throttle_burst_limit)
        self.functions = self._routes(environment, log_retention, train_concurrency)
        instance_types = {"training": training_instance_type, "endpoint": endpoint_instance_type}
        self._grant(stack, prefix, environment["ARTIFACT_BUCKET"], training_role, hosting_role, instance_types)
        self._acknowledge(prefix)

    def _snowflake_role(self) -> iam.Role:
        """The role Snowflake assumes, unusable until the Snowflake integration custom resource writes its trust.

        It replaces the trust policy with the integration's IAM user and external ID; until then nobody can
        use it: every signed request carries aws:PrincipalArn, so "Null: true" never matches.
        """
        return iam.Role(
            self,
            "SnowflakeRole",
            assumed_by=iam.AccountRootPrincipal().with_conditions({"Null": {"aws:PrincipalArn": "true"}}),
            description="Assumed by Snowflake to call the recommender's external functions",
        )

    def _rest_api(
        self, stack: Stack, log_retention: logs.RetentionDays, throttle_rate_limit: int, throttle_burst_limit: int
    ) -> apigw.RestApi:
        """The regional REST API: IAM auth on every route, a resource policy admitting only Snowflake's role."""
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        caller = f"arn:{stack.partition}:sts::{stack.account}:assumed-role/{self.snowflake_role.role_name}/snowflake"
        api = apigw.RestApi(
            self,
            "Api",
            description="Snowflake external functions of the movie recommender",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Access logging uses the account's API Gateway CloudWatch role: ApiGatewayAccountStack owns it.
            cloud_watch_role=False,
            min_compression_size=Size.bytes(1024),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        principals=[iam.ArnPrincipal(caller)],
                        actions=["execute-api:Invoke"],
                        resources=["execute-api:/*"],
                    ),
                    # Identity policies granting execute-api:Invoke on "*" must not reach it either.
                    iam.PolicyStatement(
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=["execute-api:Invoke"],
                        resources=["execute-api:/*"],
                        conditions={"StringNotEquals": {"aws:PrincipalArn": self.snowflake_role.role_arn}},
                    ),
                ]
            ),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=False,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        self.snowflake_role.add_to_policy(
            iam.PolicyStatement(
                actions=["execute-api:Invoke"],
                resources=[api.arn_for_execute_api("POST", "/*", STAGE)],
            )
        )

        return api

    def _routes(
        self, environment: dict[str, str], log_retention: logs.RetentionDays, train_concurrency: int | None
    ) -> dict[str, PythonFunction]:
        """One POST route and Lambda per catalogue function."""
        functions: dict[str, PythonFunction] = {}
        for function in CATALOGUE:
            handler = PythonFunction(
                self,
                f"{function.path.capitalize()}Function",
                packages=PACKAGES,
                handler=f"external_functions.handlers.{function.handler}",
                description=f"Snowflake external function route /{function.path}",
                log_retention=log_retention,
                timeout=Duration.seconds(28),  # API Gateway's integration limit is 29 s
                memory_size=512,
                environment=environment,
                tracing=True,
                # each train call may start billed jobs: at most this many run at once, when opted in
                reserved_concurrency=train_concurrency if function.path == "train" else None,
            )
            # Only the stage Snowflake calls may invoke the function, not the console's test-invoke-stage.
            integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
            self.api.root.add_resource(function.path).add_method("POST", integration)
            functions[function.path] = handler

        return functions

    @property
    def url(self) -> str:
        """``https://<api>.execute-api.<region>.amazonaws.com/prod/``."""
        return self.api.url

    def route_url(self, path: str) -> str:
        return f"{self.api.url}{path}"

    def _grant(
        self,
        stack: Stack,
        prefix: str,
        bucket: str,
        training_role: iam.IRole,
        hosting_role: iam.IRole,
        instance_types: dict[str, str],
    ) -> None:
        """Each function gets the catalogue's permissions on this pipeline's objects, nothing else."""

        def arns(kind: ResourceKind) -> list[str]:
            if kind == "*":
                return ["*"]
            if kind == "training-logs":
                group = stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=TRAINING_LOG_GROUP,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
                return [group, f"{group}:*"]
            if kind == "endpoint-logs":  # the trailing wildcard also matches the groups' ":*" form
                return [
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/sagemaker/Endpoints/{prefix}-*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ]
            if kind == "deployment-records":
                return [f"arn:{stack.partition}:s3:::{bucket}/{prefix}/deployments/*"]
            if kind == "artifact-bucket":
                return [f"arn:{stack.partition}:s3:::{bucket}"]
            if kind == "tuning-job":
                return [
                    stack.format_arn(
                        service="sagemaker",
                        resource="hyper-parameter-tuning-job",
                        resource_name=f"{tuning_job_prefix(prefix)}*",
                    )
                ]
            patterns = {
                "training-job": f"{training_job_prefix(prefix)}*",
                "tuned-training-job": f"{tuning_job_prefix(prefix)}*",
            }
            resource = "training-job" if kind == "tuned-training-job" else kind
            return [
                stack.format_arn(
                    service="sagemaker", resource=resource, resource_name=patterns.get(kind, f"{prefix}-*")
                )
            ]

        def statement(permission: Permission) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                actions=list(permission.actions),
                resources=[arn for kind in permission.on for arn in arns(kind)],
                conditions=_instance_type_conditions(permission.instance_types, instance_types),
            )

        roles = {"training": training_role, "hosting": hosting_role}
        for function in CATALOGUE:
            handler = self.functions[function.path]
            for permission in function.permissions:
                handler.add_to_role_policy(statement(permission))
            if function.passes_role:
                handler.add_to_role_policy(_pass_role(roles[function.passes_role]))

    def _acknowledge(self, prefix: str) -> None:
        acknowledge_wildcards(
            self,
            "SageMaker resources and their endpoint log groups are scoped to this pipeline's name prefix (<prefix>-*); "
            "the training log group's :* form is how CloudWatch Logs names the group for PutRetentionPolicy; "
            "deployment records are the objects under <prefix>/deployments/ of the pipeline's bucket; "
            "ListTrainingJobs, ListEndpointConfigs, ListModels and "
            "X-Ray's trace actions have no resource type; Snowflake's role may POST to this API's routes only.",
            allowed=[
                rf"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:(training-job|hyper-parameter-tuning-job|model|endpoint-config|endpoint)/{re.escape(prefix)}-.*",
                r"Resource::\*",
                rf"Resource::arn:<AWS::Partition>:s3:::<[A-Za-z0-9]+>/{re.escape(prefix)}/deployments/\*",
                rf"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/{re.escape(prefix)}-\*",
                rf"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{TRAINING_LOG_GROUP}:\*",
                rf"Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<[A-Za-z0-9]+>/{STAGE}/POST/\*",
            ],
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "Snowflake sends gzip bodies; the Lambdas validate every batch and answer 400 with a reason.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "IAM authorisation plus a resource policy admit only Snowflake's assumed role; no public traffic.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG6",
            "Access logs are on; execution logs would record request bodies (Snowflake data) and are left off.",
        )
        acknowledge_checkov(
            self.api,
            "AWS::ApiGateway::Stage",
            {
                "CKV_AWS_120": "Every answer depends on the query's rows and the deployed model: a cache would "
                "serve stale predictions and results of side-effecting calls (train, deploy)."
            },
        )
        acknowledge(
            self.api,
            "AwsSolutions-COG4",
            "Callers are authorised with AWS IAM (Snowflake's assumed role), not Cognito.",
        )


def _instance_type_conditions(
    limit: InstanceTypeLimit | None, instance_types: dict[str, str]
) -> dict[str, dict[str, object]] | None:
    """The IAM conditions that hold a create call to the configured instance type (None: no limit)."""
    if limit is None:
        return None
    conditions: dict[str, dict[str, object]] = {
        "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": [instance_types[limit.setting]]}
    }
    if limit.required:  # ForAllValues alone is also true for a request that names no instance type
        conditions["Null"] = {"sagemaker:InstanceTypes": "false"}
    return conditions


def _pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )
