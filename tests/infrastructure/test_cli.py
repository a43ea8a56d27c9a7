"""The pinned CDK CLI synthesizes the app with no network, no AWS credentials and no Docker.

This is `make synth` as a user runs it, asset bundling included, inside a network namespace of
its own (``unshare -n``): the Snowflake integration's Lambda is bundled with pip from the local
wheelhouse that `make install` fills.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.infrastructure.conftest import ROOT


def test_cdk_cli_synth_needs_no_network_no_credentials_and_no_docker(tmp_path: Path) -> None:
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "the pinned CDK CLI is missing: run `make install` (make test does)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PIP_CACHE_DIR=env.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),  # before HOME moves
        HOME=str(tmp_path),  # no ~/.aws, no CDK cache
        PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
        DOCKER_HOST="unix:///nonexistent.sock",
    )
    out = tmp_path / "cdk.out"
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to synthesize without network"
    done = subprocess.run(
        [unshare, "--net", str(cli), "synth", "--quiet", "--no-notices", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.template.json")) == [
        "Recommender-account.template.json",
        "Recommender-dev.template.json",
        "Recommender-prod.template.json",
    ]
    package = json.loads((ROOT / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"] == "2.1148.1"
