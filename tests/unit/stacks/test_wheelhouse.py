"""stacks.wheelhouse: the Lambdas' wheels pinned in full and installed without the network."""

import re
from pathlib import Path

import pytest

from stacks import wheelhouse

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("package", wheelhouse.LOCKED_PACKAGES)
def test_the_lock_pins_every_wheel_and_keeps_the_direct_pins(package):
    folder = ROOT / package
    lock = [line for line in (folder / wheelhouse.LOCK).read_text().splitlines() if line and not line.startswith("#")]
    assert lock and all(re.fullmatch(r"[a-z0-9.-]+==[0-9][0-9A-Za-z.]*", line) for line in lock), lock
    for line in (folder / wheelhouse.REQUIREMENTS).read_text().splitlines():
        pin = line.split("#")[0].strip().lower().replace("_", "-")
        if pin:
            assert re.sub(r"\[.*\]", "", pin) in lock, f"{pin} is not in the lock: regenerate it"


def test_wheel_platforms_follow_the_lambdas_architecture():
    assert "--platform=manylinux2014_x86_64" in wheelhouse.wheel_options("3.13", "x86_64")
    assert "--platform=manylinux2014_aarch64" in wheelhouse.wheel_options("3.13", "arm64")
    assert "--python-version=3.13" in wheelhouse.wheel_options("3.13", "arm64")
    with pytest.raises(ValueError, match="No wheel platforms known"):
        wheelhouse.wheel_options("3.13", "riscv")


def test_installing_without_a_wheelhouse_says_what_to_run(tmp_path):
    lock = tmp_path / wheelhouse.LOCK
    lock.write_text("six==1.17.0\n")
    with pytest.raises(wheelhouse.WheelhouseError, match="run make install"):
        wheelhouse.install([lock], tmp_path / "out", "3.13", "arm64")  # never filled for arm64
