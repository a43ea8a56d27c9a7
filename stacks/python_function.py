"""PythonFunction: every Lambda of the pipeline, built one way from first-party packages.

A function's code is the packages it names (e.g. ``external_functions`` and ``pipeline_shared``),
copied from where Python imports them, plus -- when a package holds a ``requirements.lock`` --
its pinned third-party wheels for the Lambda's Python and architecture, installed with pip from
the local wheelhouse (``stacks.wheelhouse``: no Docker, no network). The asset hash is the digest
of those sources, so a change to a shared module re-deploys every function that carries it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, Duration, ILocalBundling, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import wheelhouse
from stacks.nag import LAMBDA_BASIC_EXECUTION, acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", wheelhouse.REQUIREMENTS, wheelhouse.LOCK)


def package_dir(name: str) -> Path:
    """The folder Python imports first-party package ``name`` from."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{name} is not an importable package: run make install.")
    return Path(next(iter(spec.submodule_search_locations)))


@jsii.implements(ILocalBundling)
class PackageBundling:
    """Copy the packages into the asset, after installing the packages' ``requirements.lock`` files from the wheelhouse.

    CDK calls ``try_bundle(output_dir, options)`` positionally and does not pass the asset's
    source, so the packages are given here.
    """

    def __init__(self, packages: Mapping[str, Path], python_version: str, architecture: str = "x86_64") -> None:
        self.packages, self.python_version, self.architecture = dict(packages), python_version, architecture

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        """Bundle into ``output_dir``; ``options`` (CDK's) are not needed for a local run."""
        del options
        target = Path(output_dir)
        locks = [folder / wheelhouse.LOCK for folder in self.packages.values() if (folder / wheelhouse.LOCK).exists()]
        if locks:
            wheelhouse.install(locks, target, self.python_version, self.architecture)
        shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts name this machine's Python
        for name, folder in self.packages.items():
            shutil.copytree(folder, target / name, ignore=_IGNORED, dirs_exist_ok=True)
        return True


def source_digest(folders: Sequence[Path]) -> str:
    """SHA-256 of every source file's relative path and bytes (bytecode caches ignored)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in _source_files(folder):
            digest.update(f"{folder.name}/{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _source_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def package_code(
    packages: Sequence[str], runtime: lambda_.Runtime = RUNTIME, architecture: lambda_.Architecture = ARCHITECTURE
) -> lambda_.Code:
    """Lambda code holding ``packages`` (and their pinned wheels), bundled locally.

    CDK requires a Docker image for bundling, but :class:`PackageBundling` always bundles (or
    raises), so Docker is never started; the image's command only explains that.
    """
    folders = {name: package_dir(name) for name in packages}
    version = runtime.name.removeprefix("python")
    return lambda_.Code.from_asset(
        str(next(iter(folders.values()))),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_digest(list(folders.values())) + version + architecture.name,
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            command=["bash", "-c", "echo 'this asset is bundled locally (stacks/python_function.py)' >&2; exit 1"],
            # jsii.implements makes it an ILocalBundling for CDK, which passes the options positionally (see above).
            local=cast(ILocalBundling, PackageBundling(folders, version, architecture.name)),
        ),
    )


class PythonFunction(lambda_.Function):
    """A python3.13 Lambda from first-party packages, with its own log group (kept ``log_retention``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        packages: Sequence[str],
        handler: str,
        description: str,
        log_retention: logs.RetentionDays,
        timeout: Duration,
        memory_size: int | None = None,
        environment: Mapping[str, str] | None = None,
        tracing: bool = False,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=package_code(packages, RUNTIME, ARCHITECTURE),
            timeout=timeout,
            memory_size=memory_size,
            environment=dict(environment) if environment else None,
            tracing=lambda_.Tracing.ACTIVE if tracing else None,
            reserved_concurrent_executions=reserved_concurrency,
            log_group=logs.LogGroup(
                scope, f"{construct_id}Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
            ),
            description=description,
        )
        acknowledge(self, LAMBDA_BASIC_EXECUTION, "AWSLambdaBasicExecutionRole only lets the function write its logs.")
        acknowledge(self, "AwsSolutions-L1", "The function is pinned to python3.13, the runtime its code is tested on.")
