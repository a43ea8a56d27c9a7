"""ContainerImage: the SageMaker container, built from ``training_image/Dockerfile`` at deploy time.

Training jobs and endpoints run the same image (its ``train`` and ``serve`` entry points).

The build context is the project root, so the image carries ``pipeline_shared`` beside its own
package; the root ``.dockerignore`` admits only what the Dockerfile copies.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct


class ContainerImage(Construct):
    """A linux/amd64 Docker image asset; synth needs no Docker, ``cdk deploy`` builds and pushes it."""

    def __init__(self, scope: Construct, construct_id: str, *, context: Path, dockerfile: str) -> None:
        super().__init__(scope, construct_id)
        self.asset = ecr_assets.DockerImageAsset(
            self,
            "Asset",
            directory=str(context),
            file=dockerfile,
            platform=ecr_assets.Platform.LINUX_AMD64,
            ignore_mode=IgnoreMode.DOCKER,
        )

    @property
    def image_uri(self) -> str:
        return self.asset.image_uri

    def grant_pull(self, grantee: iam.IGrantable) -> None:
        self.asset.repository.grant_pull(grantee)
