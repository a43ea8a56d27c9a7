"""SageMaker's roles: one for training jobs, one for endpoints -- each with only what it needs."""

from __future__ import annotations

import re

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.nag import acknowledge_wildcards
from stacks.training_image import TrainingImage


class SageMakerExecutionRole(Construct):
    """Training jobs: pull the image, read/write the pipeline's bucket prefix, read the Snowflake secret, log."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: TrainingImage,
        bucket: s3.IBucket,
        bucket_prefix: str,
        secret: secretsmanager.ISecret | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = sagemaker_role(self, image, "Runs the recommender's training jobs")
        if secret is not None:  # None: the jobs sign in to Snowflake as this role (workload identity)
            secret.grant_read(self.role)
        # Explicit object actions (no s3:Get* style wildcards) on the pipeline's prefix only.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[f"{bucket.bucket_arn}/{bucket_prefix}*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{bucket_prefix}*"]}},
            )
        )
        # GetBucketLocation has no s3:prefix key: under that condition it would never be allowed.
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]))
        grant_logs_and_metrics(self.role, "/aws/sagemaker/*")
        acknowledge_wildcards(
            self.role,
            "Wildcards are scoped: objects under the pipeline's bucket prefix, SageMaker's own log groups, "
            "cloudwatch:PutMetricData (no resource type; limited by a namespace condition) and "
            "ecr:GetAuthorizationToken (account-wide by design).",
            allowed=[
                rf"Resource::<[A-Za-z0-9]+\.Arn>/{re.escape(bucket_prefix)}\*",
                r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/\*"
                r"(:log-stream:\*)?",
                r"Resource::\*",
            ],
        )


class SageMakerHostingRole(Construct):
    """What an endpoint's container may do: pull the image, read model artifacts, write logs and metrics.

    Endpoints never see the Snowflake secret and cannot write to the bucket.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, image: TrainingImage, bucket: s3.IBucket, models_prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = sagemaker_role(self, image, "Runs the recommender's endpoints")
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket.bucket_arn}/{models_prefix}*"])
        )
        grant_logs_and_metrics(self.role, "/aws/sagemaker/Endpoints/*")
        acknowledge_wildcards(
            self.role,
            "Wildcards are scoped: model artifacts under the pipeline's models prefix (read only), SageMaker's "
            "endpoint log groups, cloudwatch:PutMetricData (no resource type; limited by a namespace condition) "
            "and ecr:GetAuthorizationToken (account-wide by design).",
            allowed=[
                rf"Resource::<[A-Za-z0-9]+\.Arn>/{re.escape(models_prefix)}\*",
                r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/"
                r"Endpoints/\*(:log-stream:\*)?",
                r"Resource::\*",
            ],
        )


def grant_logs_and_metrics(role: iam.Role, log_group_pattern: str) -> None:
    """Let SageMaker write the role's logs (log groups matching the pattern) and its metrics."""
    log_groups = Stack.of(role).format_arn(
        service="logs", resource="log-group", resource_name=log_group_pattern, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_groups, f"{log_groups}:log-stream:*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],  # PutMetricData has no resource type; the condition scopes it
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        )
    )


def sagemaker_role(scope: Construct, image: TrainingImage, description: str) -> iam.Role:
    """A role SageMaker assumes, allowed to pull the recommender image."""
    # Only SageMaker acting for this account may assume it (confused-deputy protection).
    sagemaker = iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(
        {"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
    )
    role = iam.Role(scope, "Role", assumed_by=sagemaker, description=description)
    image.grant_pull(role)
    return role
