"""Lambda assets with third-party wheels, bundled with pip on this machine (no Docker needed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling, SymlinkFollowMode
from aws_cdk import aws_lambda as lambda_

PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")


@jsii.implements(ILocalBundling)
class PipBundling:
    """Install ``requirements.txt`` for the Lambda runtime as binary wheels, then copy the package.

    CDK calls ``try_bundle(output_dir, options)`` positionally; the package folder is given here
    because CDK does not pass the asset's source path.
    """

    def __init__(self, package: Path, python_version: str) -> None:
        self.package, self.python_version = package, python_version

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        """Bundle into ``output_dir``; ``options`` (CDK's) are not needed for a local pip run."""
        del options
        target = Path(output_dir)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        wheels_for_lambda = [
            "--no-compile",  # bytecode of this machine's Python would be useless on the Lambda's
            "--only-binary=:all:",
            "--implementation=cp",
            f"--python-version={self.python_version}",
            *(f"--platform={platform}" for platform in PLATFORMS),
        ]
        requirements = ["--target", str(target), "-r", str(self.package / "requirements.txt")]
        subprocess.run([*pip, *wheels_for_lambda, *requirements], check=True)
        # Console scripts point at this machine's interpreter: useless in a Lambda.
        shutil.rmtree(target / "bin", ignore_errors=True)
        shutil.copytree(
            self.package,
            target / self.package.name,
            symlinks=False,  # copy what the links point at: the Lambda gets real files
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt"),
            dirs_exist_ok=True,
        )
        return True


def python_package_with_wheels(package: Path, runtime: lambda_.Runtime) -> lambda_.Code:
    """Code for ``runtime`` from a package folder holding a ``requirements.txt``, bundled locally with pip.

    CDK requires a Docker image for bundling, but :class:`PipBundling` always bundles (or raises),
    so Docker is never started; the image's command only explains that, should it ever run.
    """
    version = runtime.name.removeprefix("python")
    return lambda_.Code.from_asset(
        str(package),
        follow_symlinks=SymlinkFollowMode.ALWAYS,  # the hash must change when a linked module does
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            command=["bash", "-c", "echo 'this asset is bundled locally with pip (stacks/bundling.py)' >&2; exit 1"],
            local=PipBundling(package, version),
        ),
    )
