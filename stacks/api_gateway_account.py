"""ApiGatewayAccountStack: API Gateway's account-wide CloudWatch role, owned by one stack per account and region.

Access logging on a REST API stage needs the account's API Gateway CloudWatch role. It is one
setting per account and region: if every environment's stack set it, they would overwrite each
other on every deploy. This stack owns it; each environment's stack depends on it. Both the role
and the setting are kept on destroy -- other APIs in the account may log through them.
"""

from __future__ import annotations

from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.nag import acknowledge


class ApiGatewayAccountStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, env: Environment | None) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="API Gateway's CloudWatch role for the movie recommender's access logs (kept on destroy)",
        )
        role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account role for access logs uses the AWS policy made for exactly that purpose.",
        )


def account_stack_name(account: str | None, region: str | None) -> str:
    """``Recommender-account`` for the CLI's account and region, else one named after them."""
    return "-".join(["Recommender-account", *(part for part in (account, region) if part)])
