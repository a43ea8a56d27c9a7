"""The CDK app synthesized once per test session, offline, without Docker or asset bundling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app as cdk_app

ROOT = Path(__file__).resolve().parents[2]


def project_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context with bundling skipped (asset hashes become placeholders)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:bundling-stacks": [], **overrides}


@dataclass(frozen=True)
class Synthesized:
    templates: dict[str, dict[str, Any]]
    assertions: dict[str, Template]
    outdir: Path


def synthesize(outdir: Path, context: dict[str, Any]) -> Synthesized:
    app = cdk.App(context=context, outdir=str(outdir))
    stacks = cdk_app.build(app)
    assertions = {stack.stack_name: Template.from_stack(stack) for stack in stacks}
    assembly = app.synth()
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return Synthesized(templates, assertions, outdir)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), project_context())


@pytest.fixture(scope="session")
def dev(synthesized: Synthesized) -> Template:
    return synthesized.assertions["Recommender-dev"]


@pytest.fixture(scope="session")
def dev_template(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates["Recommender-dev"]
