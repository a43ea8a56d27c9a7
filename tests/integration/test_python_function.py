"""stacks.python_function: each Lambda asset holds its packages (shared code included) and, where asked, wheels.

The Snowflake integration asset installs its locked wheels from the local wheelhouse (no network);
every asset is bundled once per module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from stacks.python_function import PackageBundling, package_code, package_dir, source_digest
from tests.support.isolated import module_files

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "snowflake_integration"
SHARED = ROOT / "pipeline_shared"


@dataclass(frozen=True)
class Bundle:
    returned: object
    out_dir: Path
    seconds: float

    @property
    def package(self) -> Path:
        return self.out_dir / PACKAGE.name


def wheel_tags(dist_info: Path) -> list[str]:
    """The ``Tag:`` lines of a ``*.dist-info/WHEEL`` file, e.g. ``cp313-cp313-manylinux_2_17_x86_64``."""
    lines = (dist_info / "WHEEL").read_text().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]


def bundled(out_dir: Path, *packages: str) -> object:
    return PackageBundling({name: package_dir(name) for name in packages}, "3.13").try_bundle(str(out_dir), None)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    out_dir = tmp_path_factory.mktemp("asset-output")
    start = time.monotonic()
    returned = bundled(out_dir, "snowflake_integration", "pipeline_shared")
    return Bundle(returned, out_dir, time.monotonic() - start)


def test_package_pins_the_connector():
    assert "snowflake-connector-python==4.8.1" in (PACKAGE / "requirements.txt").read_text()


def test_try_bundle_returns_true(bundle: Bundle):
    assert bundle.returned is True
    print(f"bundling took {bundle.seconds:.1f} s")


@pytest.mark.parametrize(("name", "source"), [("snowflake_integration", PACKAGE), ("pipeline_shared", SHARED)])
def test_packages_are_copied_file_for_file(bundle: Bundle, name: str, source: Path):
    expected = {p.name for p in source.glob("*.py")}
    assert "__init__.py" in expected
    assert {p.name for p in (bundle.out_dir / name).glob("*.py")} == expected
    for file_name in expected:
        assert (bundle.out_dir / name / file_name).read_bytes() == (source / file_name).read_bytes(), file_name


@pytest.mark.parametrize(
    ("packages", "module"),
    [
        (("external_functions", "pipeline_shared"), "external_functions.handlers"),
        (("sagemaker_cleanup", "pipeline_shared"), "sagemaker_cleanup.handler"),
    ],
)
def test_bundled_asset_imports_from_itself(tmp_path: Path, packages: tuple[str, ...], module: str):
    """The handler module imports with only the asset on the path for first-party code."""
    assert bundled(tmp_path, *packages) is True
    files = module_files(tmp_path, module, "pipeline_shared")
    assert all(path.startswith(str(tmp_path)) for path in files), files


def test_requirements_not_copied_into_package(bundle: Bundle):
    assert not (bundle.package / "requirements.txt").exists()


def test_no_symlinks_anywhere(bundle: Bundle):
    links = [str(p.relative_to(bundle.out_dir)) for p in bundle.out_dir.rglob("*") if p.is_symlink()]
    assert links == []


def test_no_pycache_in_package(bundle: Bundle):
    assert not list(bundle.package.rglob("__pycache__"))
    assert not list(bundle.package.rglob("*.pyc"))


def test_no_bytecode_compiled_by_the_build_python(bundle: Bundle):
    """pip must not leave .pyc files of this machine's Python in an asset for another runtime."""
    caches = sorted(str(p.relative_to(bundle.out_dir)) for p in bundle.out_dir.rglob("__pycache__"))
    assert caches == [], f"{len(caches)} __pycache__ folders, e.g. {caches[:3]}"


def test_snowflake_connector_installed(bundle: Bundle):
    connector = bundle.out_dir / "snowflake" / "connector"
    assert (connector / "__init__.py").is_file()
    assert (connector / "connection.py").is_file()
    [dist_info] = bundle.out_dir.glob("snowflake_connector_python-*.dist-info")
    assert dist_info.name == "snowflake_connector_python-4.8.1.dist-info"


def test_connector_wheel_is_cpython_313_manylinux_x86_64(bundle: Bundle):
    [dist_info] = bundle.out_dir.glob("snowflake_connector_python-*.dist-info")
    tags = wheel_tags(dist_info)
    assert tags, (dist_info / "WHEEL").read_text()
    assert all(t.startswith("cp313-cp313-") for t in tags), tags
    assert all("manylinux" in t and t.endswith("x86_64") for t in tags), tags


def test_extension_modules_are_for_cpython_313_x86_64_linux(bundle: Bundle):
    extensions = [p for p in bundle.out_dir.rglob("*.so") if ".cpython-" in p.name]
    assert extensions, "no CPython extension modules were installed"
    wrong = [p.name for p in extensions if ".cpython-313-x86_64-linux-gnu" not in p.name]
    assert wrong == []
    connector_extensions = [p for p in extensions if "snowflake" in p.relative_to(bundle.out_dir).parts]
    assert connector_extensions, "snowflake-connector-python's compiled extensions are missing"


def test_every_binary_wheel_is_manylinux_x86_64(bundle: Bundle):
    """Every binary wheel (cryptography, cffi, ...) is manylinux x86_64, never macOS/Windows/aarch64."""
    dist_infos = list(bundle.out_dir.glob("*.dist-info"))
    assert len(dist_infos) > 5
    for dist_info in dist_infos:
        for tag in wheel_tags(dist_info):
            platform = tag.rsplit("-", 1)[1]
            assert platform == "any" or ("manylinux" in platform and platform.endswith("x86_64")), (dist_info, tag)


def test_package_code_does_not_bundle_at_construction(monkeypatch: pytest.MonkeyPatch):
    calls = []
    monkeypatch.setattr(PackageBundling, "try_bundle", lambda *args: calls.append(args) or True)
    code = package_code(("snowflake_integration", "pipeline_shared"), lambda_.Runtime.PYTHON_3_13)
    assert isinstance(code, lambda_.AssetCode)
    assert code.is_inline is False
    assert calls == [], "bundling ran at construction time"


def test_source_digest_follows_every_package(tmp_path: Path):
    """A change to a shared module changes the hash of every asset that carries it."""
    own, shared = tmp_path / "own", tmp_path / "shared"
    for folder in (own, shared):
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    before = source_digest([own, shared])
    (shared / "rules.py").write_text("LIMIT = 1\n")
    after = source_digest([own, shared])
    (shared / "__pycache__").mkdir()
    (shared / "__pycache__" / "rules.cpython-311.pyc").write_bytes(b"cache")
    assert before != after == source_digest([own, shared])


# What the python3.13 Lambda runtime provides besides the standard library (AWS SDK for Python and its dependencies).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


@pytest.mark.parametrize(
    ("packages", "handler"),
    [
        (("external_functions", "pipeline_shared"), "external_functions.handlers"),
        (("idle_endpoints", "external_functions", "pipeline_shared"), "idle_endpoints.handler"),
        (("sagemaker_cleanup", "pipeline_shared"), "sagemaker_cleanup.handler"),
    ],
    ids=["external-functions", "idle-endpoint-sweep", "sagemaker-cleanup"],
)
def test_a_pure_python_asset_imports_its_handler_with_only_what_the_lambda_runtime_has(
    packages: tuple[str, ...], handler: str, tmp_path: Path
) -> None:
    """A module the asset does not carry (cryptography, the Snowflake connector) fails here, not in AWS."""
    import subprocess
    import sys

    import boto3

    asset = tmp_path / "asset"
    asset.mkdir()
    assert bundled(asset, *packages) is True
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(boto3.__file__).parents[1]
    for name in RUNTIME_PACKAGES:
        source = site / name if (site / name).is_dir() else site / f"{name}.py"
        (runtime / source.name).symlink_to(source)
    code = f"import sys; sys.path[:0] = [{str(asset)!r}, {str(runtime)!r}]; import {handler}"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
