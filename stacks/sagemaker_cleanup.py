"""SageMakerCleanup: on ``cdk destroy``, stop training jobs and remove the endpoints, configs and models made from SQL.

``deploy_model`` creates SageMaker objects at run time, outside CloudFormation; they would
bill forever after the stack is gone. This custom resource deletes everything tagged with the
pipeline's prefix when the stack is deleted, and waits until it is gone.
"""

from __future__ import annotations

import re

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from pipeline_shared.resources import training_job_prefix, tuning_job_prefix
from stacks.nag import LAMBDA_BASIC_EXECUTION, acknowledge, acknowledge_wildcards
from stacks.python_function import PythonFunction


class SageMakerCleanup(Construct):
    """Deletes the pipeline's run-time SageMaker objects when the stack is deleted."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)

        def function(name: str, handler: str) -> PythonFunction:
            return PythonFunction(
                self,
                name,
                packages=("sagemaker_cleanup", "pipeline_shared"),
                handler=f"sagemaker_cleanup.handler.{handler}",
                description="Deletes the pipeline's SageMaker endpoints, configs and models on stack delete",
                log_retention=log_retention,
                timeout=Duration.minutes(5),
            )

        on_event, is_complete = function("OnEvent", "on_event"), function("IsComplete", "is_complete")
        self.functions = {"cleanup-on-event": on_event, "cleanup-is-complete": is_complete}
        for handler in (on_event, is_complete):
            self._grant(handler, prefix)
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=Duration.seconds(30),
            total_timeout=Duration.minutes(30),
            log_group=logs.LogGroup(
                self, "ProviderLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
            ),
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::SageMakerCleanup",
            properties={"ResourcePrefix": prefix},
        )
        self._acknowledge(prefix)

    def _grant(self, handler: PythonFunction, prefix: str) -> None:
        """List anything (no resource types); stop this prefix's jobs; delete this prefix's hosted objects."""
        stack = Stack.of(self)
        owned = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name=f"{prefix}-*")
            for kind in ("endpoint", "endpoint-config", "model")
        ]
        jobs = stack.format_arn(
            service="sagemaker", resource="training-job", resource_name=f"{training_job_prefix(prefix)}*"
        )
        tuning = stack.format_arn(
            service="sagemaker", resource="hyper-parameter-tuning-job", resource_name=f"{tuning_job_prefix(prefix)}*"
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:ListEndpoints",
                    "sagemaker:ListEndpointConfigs",
                    "sagemaker:ListModels",
                    "sagemaker:ListTrainingJobs",
                    "sagemaker:ListHyperParameterTuningJobs",
                ],
                resources=["*"],
            )
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:ListTags", "sagemaker:StopTrainingJob"],
                resources=[jobs],
            )
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:ListTags", "sagemaker:StopHyperParameterTuningJob"],
                resources=[tuning],
            )
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:ListTags",
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DeleteModel",
                ],
                resources=owned,
            )
        )

    def _acknowledge(self, prefix: str) -> None:
        """cdk-nag's findings that do not apply here, each with its reason."""
        acknowledge(
            self,
            LAMBDA_BASIC_EXECUTION,
            "AWSLambdaBasicExecutionRole only lets CDK's provider functions write their own logs.",
        )
        acknowledge_wildcards(
            self,
            "SageMaker List* calls have no resource type; describes and deletes are scoped to <prefix>-* (and the "
            "handlers touch only objects tagged by this pipeline); CDK's provider invokes its handlers' versions.",
            allowed=[
                rf"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:(training-job|hyper-parameter-tuning-job|model|endpoint-config|endpoint)/{re.escape(prefix)}-.*",
                r"Resource::\*",
                r"Resource::<[A-Za-z0-9]+\.Arn>:\*",
            ],
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            "The provider's runtime is chosen by CDK.",
        )
        acknowledge(
            self,
            "AwsSolutions-SF1",
            "CDK's provider state machine logs through the provider's own log group.",
        )
        acknowledge(
            self,
            "AwsSolutions-SF2",
            "X-Ray tracing of CDK's internal provider state machine adds cost and no insight.",
        )
