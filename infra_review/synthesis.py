"""Synthesize the CDK app of the working tree or of a git revision, offline: no AWS, no Docker, no bundling.

The app runs as ``cdk synth`` runs it (``python app.py`` with ``CDK_OUTDIR`` and
``CDK_CONTEXT_JSON``, the context being that tree's ``cdk.json`` with bundling skipped), with that
tree's packages first on ``PYTHONPATH`` -- its root and every ``package-dir`` folder of its
``pyproject.toml`` (the Lambdas' and the image's packages), so each side hashes its own sources.
Both sides run with this venv's libraries: :func:`requirements_differ` says when they would not.
A revision is checked out in a temporary git worktree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GIT = shutil.which("git") or "git"


class SynthesisError(RuntimeError):
    """The app could not be synthesized; the message says where and why (one sentence)."""


REQUIREMENTS = ("requirements.txt", "requirements-dev.txt", "training_image/requirements.txt", "package-lock.json")


def synthesize(project: Path, outdir: Path) -> dict[str, dict[str, Any]]:
    """Every stack's template (by stack name) of the CDK app in ``project``."""
    try:
        context = json.loads((project / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError) as exc:
        raise SynthesisError(f"Cannot read {project / 'cdk.json'} ({type(exc).__name__}).") from None
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(folder) for folder in _package_folders(project)),
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({**context, "aws:cdk:bundling-stacks": []}),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    done = subprocess.run([sys.executable, "app.py"], cwd=project, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SynthesisError(f"Synthesizing {project} failed (exit {done.returncode}): {last}")
    try:
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthesisError(f"Synthesizing {project} wrote no cloud assembly ({type(exc).__name__}).") from None
    templates = {}
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == "aws:cloudformation:stack":
            file = artifact["properties"]["templateFile"]
            name = artifact.get("displayName") or Path(file).name.removesuffix(".template.json")
            templates[name] = json.loads((outdir / file).read_text(encoding="utf-8"))
    return templates


def _package_folders(project: Path) -> list[Path]:
    """The tree's import roots: itself, then the folders its pyproject maps packages from (``package-dir``)."""
    folders = [project]
    try:
        settings = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return folders
    for location in settings.get("tool", {}).get("setuptools", {}).get("package-dir", {}).values():
        folder = (project / location).parent
        if folder not in folders:
            folders.append(folder)
    return folders


def requirements_differ(base: Path, head: Path) -> list[str]:
    """The pinned dependency files that differ between the two trees (the CDK library among them)."""

    def text(tree: Path, name: str) -> str | None:
        path = tree / name
        return path.read_text(encoding="utf-8") if path.exists() else None

    return [name for name in REQUIREMENTS if text(base, name) != text(head, name)]


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """``revision`` in a temporary git worktree, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="review-") as folder:
        tree = Path(folder) / "tree"
        added = subprocess.run(
            [GIT, "worktree", "add", "--detach", str(tree), revision],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            last = (added.stderr.strip().splitlines() or ["git failed"])[-1]
            raise SynthesisError(f"Cannot check out {revision}: {last}")
        try:
            yield tree
        finally:
            subprocess.run(
                [GIT, "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True, check=False
            )
