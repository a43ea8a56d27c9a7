"""Reading a Snowflake secret: Secrets Manager's GetSecretValue, and its customer-managed KMS key when it has one.

GetSecretValue on a secret encrypted with a customer-managed key also needs kms:Decrypt on that key
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html). CDK's
``grant_read`` grants it only through the key's policy (a ``ViaServicePrincipal``), which an
imported key cannot take, so for an imported key nothing is granted (aws/aws-cdk#10160, #20087).
The grant here goes into the reader's own policy instead, limited as Secrets Manager uses the key:
through Secrets Manager in the secret's region, for this secret's ARN as encryption context
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html; AWS's own
AWSSecretsManagerClientReadOnlyAccess policy uses the same two conditions:
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSecretsManagerClientReadOnlyAccess.html).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager


def grant_secret_read(secret: secretsmanager.ISecret, grantee: iam.IGrantable) -> None:
    """Let ``grantee`` read ``secret``'s value, decrypting it with its KMS key if it was imported with one."""
    secret.grant_read(grantee)
    key = secret.encryption_key
    if key is None:  # Secrets Manager's own key (aws/secretsmanager): no KMS permission needed
        return
    # A secret known by name has a partial ARN; Secrets Manager's context names the full one (-XXXXXX suffix).
    secret_arn = secret.secret_full_arn or f"{secret.secret_arn}-??????"
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["kms:Decrypt"],
        resource_arns=[key.key_arn],
        conditions={
            # the secret's own region (from its ARN), where Secrets Manager calls KMS
            "StringEquals": {"kms:ViaService": f"secretsmanager.{secret.env.region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:SecretARN": secret_arn},
        },
    )
