"""The Lambdas' third-party wheels, kept on this machine so synth and bundling never need the network.

A package that needs wheels holds ``requirements.txt`` (what it asks for) and ``requirements.lock``
(its whole pinned dependency set for the Lambda's Python and platform). ``make install`` fills
``.wheelhouse/<python>-<architecture>/`` from the locks; bundling installs from there with
``--no-index``. Regenerate a lock after changing ``requirements.txt`` with
``python -m stacks.wheelhouse lock lambda_src/<package>``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".wheelhouse"
PYTHON_VERSION = "3.13"  # the Lambdas' runtime (stacks.python_function.RUNTIME)
REQUIREMENTS, LOCK = "requirements.txt", "requirements.lock"
# manylinux platforms pip may take wheels for, per Lambda architecture
PLATFORMS: dict[str, tuple[str, ...]] = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
}
LOCKED_PACKAGES = ("lambda_src/snowflake_integration", "pipeline_shared")


class WheelhouseError(RuntimeError):
    """The wheels a bundle needs are not on this machine."""


def wheelhouse_dir(python_version: str, architecture: str) -> Path:
    return WHEELHOUSE / f"cp{python_version.replace('.', '')}-{architecture}"


def wheel_options(python_version: str, architecture: str) -> list[str]:
    """pip options that select binary wheels for the Lambda's CPython and platform."""
    if architecture not in PLATFORMS:
        raise ValueError(f"No wheel platforms known for Lambda architecture {architecture!r}.")
    return [
        "--only-binary=:all:",
        "--implementation=cp",
        f"--python-version={python_version}",
        *(f"--platform={platform}" for platform in PLATFORMS[architecture]),
    ]


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"], check=True)


def fill(locks: Sequence[Path], python_version: str = PYTHON_VERSION, architecture: str = "x86_64") -> Path:
    """Download every locked wheel (from the package index) into the wheelhouse; returns its folder."""
    target = wheelhouse_dir(python_version, architecture)
    target.mkdir(parents=True, exist_ok=True)
    for lock in locks:
        _pip("download", "--no-deps", *wheel_options(python_version, architecture), "-d", str(target), "-r", str(lock))
    return target


def install(locks: Sequence[Path], target: Path, python_version: str, architecture: str) -> None:
    """Install ``locks`` into ``target`` in one pip run from the wheelhouse alone (no index, no network).

    One run, so that a wheel two locks pin (at the same version) is installed once.
    """
    wheels = wheelhouse_dir(python_version, architecture)
    if not wheels.is_dir():
        raise WheelhouseError(
            f"No wheelhouse at {wheels.relative_to(ROOT)} for the Lambda's wheels: run make install, which fills it."
        )
    _pip(
        "install",
        "--no-index",
        f"--find-links={wheels}",
        "--no-deps",
        "--no-compile",  # bytecode of this machine's Python would be useless on the Lambda's
        *wheel_options(python_version, architecture),
        "--target",
        str(target),
        *(option for lock in locks for option in ("-r", str(lock))),
    )


def write_lock(package: Path, python_version: str = PYTHON_VERSION, architecture: str = "x86_64") -> Path:
    """Resolve ``package/requirements.txt`` for the Lambda and pin every wheel it takes in ``requirements.lock``."""
    with tempfile.TemporaryDirectory(prefix="lock-") as scratch:
        _pip("download", *wheel_options(python_version, architecture), "-d", scratch, "-r", str(package / REQUIREMENTS))
        pins = sorted(_pin(wheel.name) for wheel in Path(scratch).glob("*.whl"))
    lock = package / LOCK
    header = (
        f"# Every wheel {package.name}'s Lambda takes (CPython {python_version}, {architecture}), pinned.\n"
        f"# Generated from {REQUIREMENTS} by `python -m stacks.wheelhouse lock {package.relative_to(ROOT)}`.\n"
    )
    lock.write_text(header + "".join(f"{pin}\n" for pin in pins))
    return lock


def _pin(wheel_name: str) -> str:
    name, version = wheel_name.split("-")[:2]
    return f"{name.replace('_', '-').lower()}=={version}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.wheelhouse", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("fill", help="download every locked wheel into .wheelhouse/ (make install runs this)")
    lock = verbs.add_parser("lock", help="rewrite a package's requirements.lock from its requirements.txt")
    lock.add_argument("package", type=Path, help="e.g. lambda_src/snowflake_integration or pipeline_shared")
    args = parser.parse_args(argv)
    if args.verb == "fill":
        print(f"wheelhouse: {fill([ROOT / p / LOCK for p in LOCKED_PACKAGES]).relative_to(ROOT)}")
    else:
        print(f"wrote {write_lock(args.package.resolve()).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
