"""stacks.bundling.PipBundling on the real snowflake_integration package: wheels for Lambda, real files.

Downloads the pinned wheels from PyPI (pip's cache makes reruns fast); bundles once per module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from stacks.bundling import PipBundling, python_package_with_wheels

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "snowflake_integration"
IMAGE_MODULES = ROOT / "training_image" / "recommender"
LINKED = ("identifiers.py", "credentials.py")


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


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    out_dir = tmp_path_factory.mktemp("asset-output")
    start = time.monotonic()
    returned = PipBundling(PACKAGE, "3.13").try_bundle(str(out_dir), None)
    return Bundle(returned, out_dir, time.monotonic() - start)


def test_package_layout_is_what_the_test_expects():
    """Guards the premises below: the modules really are links and the pin is there."""
    for name in LINKED:
        assert (PACKAGE / name).is_symlink(), name
    assert "snowflake-connector-python==4.8.1" in (PACKAGE / "requirements.txt").read_text()


def test_try_bundle_returns_true(bundle: Bundle):
    assert bundle.returned is True
    print(f"bundling took {bundle.seconds:.1f} s")


@pytest.mark.parametrize("name", LINKED)
def test_linked_modules_are_copied_as_real_files(bundle: Bundle, name: str):
    copied = bundle.package / name
    assert copied.exists()
    assert not copied.is_symlink()
    assert copied.is_file()
    assert copied.read_bytes() == (IMAGE_MODULES / name).read_bytes()


def test_own_modules_are_copied(bundle: Bundle):
    expected = {p.name for p in PACKAGE.glob("*.py")}
    assert expected >= {"__init__.py", "lifecycle.py", *LINKED}
    assert {p.name for p in bundle.package.glob("*.py")} == expected
    for name in expected - set(LINKED):
        assert (bundle.package / name).read_bytes() == (PACKAGE / name).read_bytes(), name


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


def test_python_package_with_wheels_does_not_bundle_at_construction(monkeypatch: pytest.MonkeyPatch):
    calls = []
    monkeypatch.setattr(PipBundling, "try_bundle", lambda *args: calls.append(args) or True)
    code = python_package_with_wheels(PACKAGE, lambda_.Runtime.PYTHON_3_13)
    assert isinstance(code, lambda_.Code)
    assert isinstance(code, lambda_.AssetCode)
    assert code.is_inline is False
    assert calls == [], "bundling ran at construction time"
