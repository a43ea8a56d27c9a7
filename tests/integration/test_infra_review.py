"""``make review`` as a reviewer runs it: offline, on a clone of the repository, against HEAD."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GIT = shutil.which("git") or "git"


def review(tree: Path, base: str) -> subprocess.CompletedProcess:
    """``python -m infra_review --base BASE`` with ``tree``'s own code and templates, no AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(tree)
    return subprocess.run(
        [sys.executable, "-m", "infra_review", "--base", base], cwd=tree, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed project (a clone, so the working tree starts equal to HEAD)."""
    tree = tmp_path_factory.mktemp("review") / "repo"
    subprocess.run([GIT, "clone", "--quiet", str(ROOT), str(tree)], check=True)
    return tree


def test_no_change_reports_nothing_and_an_edit_is_reported(clone: Path) -> None:
    unchanged = review(clone, "HEAD")
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout.strip().endswith("No infrastructure changes.")

    cdk_json = clone / "cdk.json"
    document = json.loads(cdk_json.read_text())
    document["context"]["recommender"]["environments"]["dev"]["logRetentionDays"] = 90
    cdk_json.write_text(json.dumps(document, indent=2))
    handler = clone / "lambda_src" / "external_functions" / "training.py"  # the Lambda's own sources, not HEAD's
    handler.write_text(handler.read_text() + "\n# an edit\n")
    edited = review(clone, "HEAD")
    assert edited.returncode == 0, edited.stderr
    dev = edited.stdout.split("## Recommender-dev", 1)[1].split("\n## ", 1)[0]
    prod = edited.stdout.split("## Recommender-prod", 1)[1].split("\n## ", 1)[0]
    assert "### Changed" in dev and "Properties.RetentionInDays: 30 → 90" in dev
    assert "RetentionInDays" not in prod  # only dev's retention was edited
    assert "asset hash(es) changed" in dev and "asset hash(es) changed" in prod
    assert "Unchanged: Recommender-account." in edited.stdout


def test_a_revision_that_cannot_be_checked_out_fails_with_one_sentence(clone: Path) -> None:
    failed = review(clone, "no-such-revision")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("make review: Cannot check out no-such-revision")


def test_make_review_needs_a_base_and_passes_it_on() -> None:
    make = shutil.which("make") or "make"
    missing = subprocess.run([make, "--no-print-directory", "review"], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode != 0
    assert "make review: say what to compare with, e.g. make review BASE=origin/main" in missing.stderr
    planned = subprocess.run(
        [make, "-n", "review", "BASE=HEAD", "OUTPUT=r.md"], cwd=ROOT, capture_output=True, text=True
    )
    assert '-m infra_review --base "HEAD" --output r.md' in planned.stdout
