"""The container's contract that can be checked without Docker: Dockerfile, pins, entry commands."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.isolated import module_files

ROOT = Path(__file__).resolve().parents[3]
IMAGE = ROOT / "training_image"
REQUIREMENT_FILES = [
    ROOT / "requirements.txt",
    ROOT / "requirements-dev.txt",
    ROOT / "requirements-checkov.txt",
    IMAGE / "requirements.txt",
    ROOT / "lambda_src" / "snowflake_integration" / "requirements.lock",
]


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
    assert any("training_image/bin/train training_image/bin/serve /usr/local/bin/" in line for line in copies)


def copy_sources() -> list[str]:
    """The build-context paths the Dockerfile's COPY lines read (the context is the project root)."""
    sources = []
    for line in dockerfile_instructions():
        if line.startswith("COPY "):
            sources.extend(line.split()[1:-1])
    return sources


def test_copy_lines_name_files_that_exist_in_the_build_context():
    sources = copy_sources()
    assert "pipeline_shared/" in sources and "training_image/recommender/" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_dockerignore_admits_exactly_the_dockerfile_and_what_it_copies():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = [source.rstrip("/") for source in copy_sources()] + ["training_image/Dockerfile"]

    def admits(entry: str, source: str) -> bool:
        return source == entry or source.startswith(f"{entry}/")

    assert all(any(admits(entry, source) for entry in admitted) for source in sources)
    assert all(any(admits(entry, source) for source in sources) for entry in admitted)


def test_image_layout_runs_the_training_program(tmp_path):
    """Lay out /opt/program as the COPY lines do and run train from there alone."""
    for line in dockerfile_instructions():
        parts = line.split()
        if parts[0] != "COPY" or parts[-1].startswith("/"):
            continue
        for source in parts[1:-1]:
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, tmp_path / parts[-1], ignore=shutil.ignore_patterns("__pycache__"))
    files = module_files(tmp_path, "recommender.train", "pipeline_shared.training_options")
    assert all(path.startswith(str(tmp_path)) for path in files), files
    # the build's warm-up step runs from that layout and leaves the compiled kernels cached beside the code
    [warm_up] = [line.split(maxsplit=1)[1] for line in dockerfile_instructions() if "recommender.fitting" in line]
    assert warm_up == "python -m recommender.fitting"
    done = subprocess.run(
        [sys.executable, "-m", "recommender.fitting"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    cached = {path.name.split(".")[0] for path in (tmp_path / "recommender" / "__pycache__").glob("*.nbi")}
    assert {"sgd", "ease"} <= cached


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
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"usage: {command}" in done.stdout
