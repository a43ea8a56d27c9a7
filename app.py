#!/usr/bin/env python3
"""The CDK app: one RecommenderStack per environment configured in cdk.json (see README, Configuration)."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import CONTEXT_KEY, ConfigError, load_environments
from stacks.recommender_stack import RecommenderStack


def build(app: cdk.App) -> list[RecommenderStack]:
    """Add every configured environment's stack and the cdk-nag checks to ``app``."""
    environments = load_environments(app.node.try_get_context(CONTEXT_KEY))
    stacks = [RecommenderStack(app, config=config) for config in environments]
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
