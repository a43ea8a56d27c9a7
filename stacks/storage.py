"""ArtifactStorage: the pipeline's S3 bucket for model artifacts, secure by default."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge, acknowledge_checkov


class ArtifactStorage(Construct):
    """An encrypted, TLS-only, private bucket with server access logs; emptied and removed on destroy."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        common: dict[str, Any] = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": RemovalPolicy.DESTROY,
            "auto_delete_objects": True,
        }
        # Kept on destroy: S3 keeps delivering access logs after a bucket is emptied, so deleting
        # this one can fail the stack's deletion (aws/aws-cdk#21776); its lifecycle empties it.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            **{
                **common,
                "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
                "removal_policy": RemovalPolicy.RETAIN,
                "auto_delete_objects": False,
            },
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log bucket of the artifact bucket; logging it again would recurse.",
        )
        acknowledge_checkov(
            self.access_logs,
            "AWS::S3::Bucket",
            {
                "CKV_AWS_18": "This is the access-log bucket of the artifact bucket; logging it again would recurse.",
                "CKV_AWS_21": "Access logs are written once and expire after 90 days; versions would only keep more.",
            },
        )
        self.bucket = s3.Bucket(
            self,
            "Artifacts",
            **common,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))],
        )

    @property
    def models_prefix(self) -> str:
        """Where training jobs write ``<job>/output/model.tar.gz``."""
        return f"{self.prefix}/models/"
