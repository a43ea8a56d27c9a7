"""IdleEndpointSweep: hourly, take down this pipeline's endpoints that nobody invoked for ``endpointIdleHours``.

Off unless cdk.json sets ``endpointIdleHours`` on the environment. An EventBridge schedule runs a small Lambda
(``lambda_src/idle_endpoints``) that reads each endpoint's ``Invocations`` from CloudWatch and undeploys the
idle ones as ``undeploy_model`` does, recording why for ``pipeline_status``.
"""

from __future__ import annotations

import re

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from external_functions.deployment_records import FOLDER
from pipeline_shared import settings
from stacks.nag import acknowledge_wildcards
from stacks.python_function import PythonFunction


class IdleEndpointSweep(Construct):
    """The schedule and the sweep function, allowed to read endpoint metrics and delete only this pipeline's objects."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        bucket: s3.IBucket,
        idle_hours: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PythonFunction(
            self,
            "Function",
            packages=("idle_endpoints", "external_functions", "pipeline_shared"),
            handler="idle_endpoints.handler.handler",
            description=f"Takes down {prefix}'s endpoints with no invocations for {idle_hours} h",
            log_retention=log_retention,
            timeout=Duration.minutes(5),
            environment=settings.variables(
                {
                    settings.RESOURCE_PREFIX: prefix,
                    settings.ARTIFACT_BUCKET: bucket.bucket_name,
                    settings.ENDPOINT_IDLE_HOURS: idle_hours,
                }
            ),
            tracing=True,
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"Hourly: undeploy {prefix}'s endpoints idle for {idle_hours} h",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],  # the next hour is the retry
        )
        self._grant(prefix, bucket)

    def _grant(self, prefix: str, bucket: s3.IBucket) -> None:
        stack = Stack.of(self)
        owned = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name=f"{prefix}-*")
            for kind in ("endpoint", "endpoint-config", "model")
        ]
        statements = [
            iam.PolicyStatement(
                actions=[  # no resource types: List* and GetMetricStatistics
                    "sagemaker:ListEndpoints",
                    "sagemaker:ListEndpointConfigs",
                    "sagemaker:ListModels",
                    "cloudwatch:GetMetricStatistics",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                actions=[
                    "sagemaker:ListTags",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DeleteModel",
                ],
                resources=owned,
            ),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{prefix}/{FOLDER}/*")]),
        ]
        for statement in statements:
            self.function.add_to_role_policy(statement)
        acknowledge_wildcards(
            self,
            "SageMaker List* calls and CloudWatch GetMetricStatistics have no resource type; describes and deletes "
            "are scoped to <prefix>-* (and only objects tagged by this pipeline are touched); deployment records are "
            "the objects under <prefix>/deployments/ of the pipeline's bucket.",
            allowed=[
                rf"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:(model|endpoint-config|endpoint)/{re.escape(prefix)}-\*",
                r"Resource::\*",
                rf"Resource::<[A-Za-z0-9]+\.Arn>/{re.escape(prefix)}/{FOLDER}/\*",
            ],
        )
