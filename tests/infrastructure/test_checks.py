"""Static checks of the synthesized templates: cdk-nag, cfn-lint, and the reviewed snapshot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

import app as cdk_app
from tests.infrastructure.conftest import ROOT, Synthesized, project_context

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
HASH = re.compile(r"[0-9a-f]{64}")


def test_cdk_nag_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_cdk_nag_still_rejects_a_wildcard_outside_the_allow_lists(tmp_path: Path) -> None:
    """The acknowledgements are narrow: one stray wildcard resource fails synth."""
    app = cdk.App(context=project_context(), outdir=str(tmp_path))
    [stack, *_] = cdk_app.build(app)
    role = stack.node.find_child("SageMakerRole").node.find_child("Role")
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::someone-else/*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-IAM5[Resource::arn:aws:s3:::someone-else/*]" in report


def test_cfn_lint_is_clean(synthesized: Synthesized) -> None:
    """W3005 (a DependsOn also implied by a reference) is how CDK writes Lambda roles; nothing else is allowed."""
    templates = sorted(str(p) for p in synthesized.outdir.glob("*.template.json"))
    assert len(templates) == 3  # the API Gateway account stack, dev, prod
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            *templates,  # before the options: --ignore-checks takes several values
            "--format",
            "parseable",
            "--ignore-checks",
            "W3005",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def normalised(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes (which change with any source edit) replaced by a placeholder."""
    return json.loads(HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.mark.parametrize("stack", ["Recommender-account", "Recommender-dev", "Recommender-prod"])
def test_template_matches_the_reviewed_snapshot(synthesized: Synthesized, stack: str) -> None:
    """Infrastructure changes show up in pull requests: refresh with `make snapshot` and review the diff."""
    path = SNAPSHOTS / f"{stack}.template.json"
    current = normalised(synthesized.templates[stack])
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert path.exists(), "no snapshot yet: run `make snapshot` and commit it"
    assert current == json.loads(path.read_text()), f"{stack} changed: run `make snapshot`, review and commit the diff"


def test_app_refuses_broken_configuration_with_one_message(tmp_path: Path) -> None:
    context = project_context()
    del context["recommender"]["environments"]["dev"]["snowflake"]["account"]
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        'cdk.json: context recommender.environments.dev.snowflake.account is missing: set it, e.g. "myorg-myaccount".'
    )


CHECKOV_OPTIONS = ("--skip-download", "--output", "json")  # offline: no guideline download


def test_checkov_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    """checkov over every template: each finding is fixed or skipped with a reason beside the resource."""
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    assert checkov.exists(), "checkov is missing: run `make install` (make test does)"
    done = subprocess.run(
        [str(checkov), "--directory", str(synthesized.outdir), "--framework", "cloudformation", *CHECKOV_OPTIONS],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']}" for r in reports for c in r["results"]["failed_checks"]]
    assert failed == [], done.stderr[-2000:]
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    assert skipped and all(len(c["check_result"].get("suppress_comment", "")) > 20 for c in skipped)
    # reserved concurrency is opt-in (training.concurrentStarts): unset, the train function's finding is
    # acknowledged with the reason like every other function's
    unreserved = [c["resource"] for c in skipped if c["check_id"] == "CKV_AWS_115"]
    assert any("TrainFunction" in resource for resource in unreserved)
