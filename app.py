#!/usr/bin/env python3
"""The CDK app: one RecommenderStack per environment configured in cdk.json (see README, Configuration)."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.api_gateway_account import ApiGatewayAccountStack, account_stack_name
from stacks.config import CONTEXT_KEY, ConfigError, load_environments
from stacks.recommender_stack import RecommenderStack


def build(app: cdk.App) -> list[RecommenderStack]:
    """Add every configured environment's stack, one API Gateway account stack per account and region, and cdk-nag.

    Environments with ``manageApiGatewayAccountRole: false`` leave the account's API Gateway CloudWatch role
    alone (a shared account that has one already); the account stack exists only for those that manage it.
    """
    environments = load_environments(app.node.try_get_context(CONTEXT_KEY))
    accounts: dict[tuple[str | None, str | None], ApiGatewayAccountStack] = {}
    stacks = []
    for config in environments:
        where = (config.account, config.region)
        if config.manage_api_gateway_account_role and where not in accounts:
            env = cdk.Environment(account=config.account, region=config.region) if any(where) else None
            accounts[where] = ApiGatewayAccountStack(app, account_stack_name(*where), env=env)
        stack = RecommenderStack(app, config=config)
        if config.manage_api_gateway_account_role:
            reason = "access logging needs the account's API Gateway CloudWatch role"
            stack.add_stack_dependency(accounts[where], reason)
        stacks.append(stack)
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
