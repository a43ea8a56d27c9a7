"""The GitHub Actions workflow: actionlint-clean, actions pinned to commits, least permissions, the right jobs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ACTIONLINT = Path(sys.executable).with_name("actionlint")


def lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ACTIONLINT), "-no-color", str(path)], capture_output=True, text=True, check=False)


def test_actionlint_passes_and_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    assert (result := lint(WORKFLOW)).returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-24.04", "runs-on: ${{ nosuch.context }}", 1))
    assert lint(broken).returncode != 0


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_permissions_are_least_and_only_the_review_job_comments() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert "permissions" not in jobs["test"]
    assert jobs["review"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "secrets." not in WORKFLOW.read_text()  # no cloud credentials: everything runs on stand-ins


def test_pull_requests_are_tested_and_reviewed_and_main_is_tested() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"] == {"branches": ["main"]}
    steps = {name: [s.get("run", "") for s in job["steps"]] for name, job in workflow["jobs"].items()}
    assert "make test" in steps["test"]
    assert workflow["jobs"]["review"]["if"] == "github.event_name == 'pull_request'"
    assert any(run.startswith('make review BASE="$BASE_SHA"') for run in steps["review"])
    review_env = next(s["env"] for s in workflow["jobs"]["review"]["steps"] if "env" in s)
    assert review_env == {"BASE_SHA": "${{ github.event.pull_request.base.sha }}"}
