"""The container's contract that can be checked without Docker: Dockerfile, pins, entry commands."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "training_image"
REQUIREMENT_FILES = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt", IMAGE / "requirements.txt"]


def dockerfile_instructions():
    lines = (IMAGE / "Dockerfile").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_base_image_is_a_pinned_slim_python():
    base = [line for line in dockerfile_instructions() if line.startswith("FROM ")]
    assert len(base) == 1
    assert re.fullmatch(r"FROM python:\d+\.\d+\.\d+-slim-\w+", base[0])


def test_default_command_is_exec_form_and_code_stays_outside_opt_ml():
    instructions = dockerfile_instructions()
    cmd = [line for line in instructions if line.startswith(("CMD", "ENTRYPOINT"))]
    assert cmd == ['CMD ["serve"]']
    copies = [line for line in instructions if line.startswith("COPY")]
    assert copies and not any("/opt/ml" in line for line in copies)
    assert any("bin/train bin/serve /usr/local/bin/" in line for line in copies)


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_requirement_is_pinned(path):
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r "):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][0-9A-Za-z.]*", line), (
                f"{path.name}: {line!r} is not pinned"
            )


@pytest.mark.parametrize("command", ["train", "serve"])
def test_container_commands_run(command):
    """The scripts SageMaker calls as ``train`` and ``serve`` start and answer --help."""
    script = IMAGE / "bin" / command
    assert os.access(script, os.X_OK)
    env = {**os.environ, "PYTHONPATH": str(IMAGE)}
    done = subprocess.run(
        [sys.executable, str(script), "--help"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"usage: {command}" in done.stdout
