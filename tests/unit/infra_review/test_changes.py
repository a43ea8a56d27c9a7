"""infra_review: the report a reviewer reads for synthetic template pairs, exactly."""

from __future__ import annotations

import copy
from typing import Any

from infra_review.changes import compare
from infra_review.report import markdown

ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}, "/*"]]}


def template() -> dict[str, Any]:
    return {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "recs-artifacts",
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                },
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
            },
            "ReaderPolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "reader",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ARN}],
                    },
                    "Roles": [{"Ref": "Role"}],
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": "assets", "S3Key": "a" * 64 + ".zip"},
                    "Handler": "handler.main",
                    "MemorySize": 512,
                },
            },
        }
    }


def review(old: dict[str, Any], new: dict[str, Any]) -> str:
    return markdown("main", [compare("Recommender-dev", old, new)])


def test_nothing_changed() -> None:
    assert review(template(), template()) == "# Infrastructure review against `main`\n\nNo infrastructure changes.\n"


def test_a_widened_policy_is_a_security_finding_first() -> None:
    new = template()
    statement = new["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement["Action"] = ["s3:GetObject", "s3:PutObject"]
    statement["Resource"] = [ARN, "*"]
    assert review(template(), new) == (
        "# Infrastructure review against `main`\n\n"
        "## Recommender-dev\n\n"
        "### Security\n\n"
        "- IAM widened: `ReaderPolicy` (AWS::IAM::Policy) PolicyDocument: Allow + action s3:PutObject; + resource *\n"
    )


def test_a_public_statement_is_marked_public() -> None:
    new = template()
    new["Resources"]["BucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "Bucket"},
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ARN}]
            },
        },
    }
    assert review(template(), new) == (
        "# Infrastructure review against `main`\n\n"
        "## Recommender-dev\n\n"
        "### Security\n\n"
        "- PUBLIC: IAM added: `BucketPolicy` (AWS::S3::BucketPolicy) PolicyDocument: "
        "Allow s3:GetObject on arn:${AWS::Partition}:s3:::${Bucket}/* to *\n\n"
        "### Added\n\n"
        "- `BucketPolicy` (AWS::S3::BucketPolicy)\n"
    )


def test_a_renamed_bucket_is_replaced_and_the_property_named() -> None:
    new = template()
    new["Resources"]["Bucket"]["Properties"]["BucketName"] = "recs-artifacts-2"
    assert review(template(), new) == (
        "# Infrastructure review against `main`\n\n"
        "## Recommender-dev\n\n"
        "### Security\n\n"
        "- nothing security-relevant changed\n\n"
        "### Replaced\n\n"
        "- `Bucket` (AWS::S3::Bucket): Properties.BucketName forces replacement. "
        "Properties.BucketName: recs-artifacts → recs-artifacts-2\n"
    )


def test_retention_dropped_encryption_off_and_public_access_opened() -> None:
    new = template()
    bucket = new["Resources"]["Bucket"]
    del bucket["DeletionPolicy"], bucket["Properties"]["BucketEncryption"]
    bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = False
    text = review(template(), new)
    security = text.split("### Security\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert security == [
        "- DeletionPolicy of `Bucket` (AWS::S3::Bucket): Retain → default (Delete)",
        "- PUBLIC: bucket `Bucket` no longer has BlockPublicPolicy",
        "- Encryption off: `Bucket` (AWS::S3::Bucket) Properties.BucketEncryption: "
        '{"ServerSideEncryptionConfiguration":[{"ServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]} → null',
    ]
    assert "### Changed\n\n- `Bucket` (AWS::S3::Bucket): Properties.BucketEncryption" in text


def test_asset_hash_churn_is_one_line_and_real_changes_are_listed() -> None:
    new = template()
    new["Resources"]["Function"]["Properties"]["Code"]["S3Key"] = "b" * 64 + ".zip"
    assert review(template(), new) == (
        "# Infrastructure review against `main`\n\n"
        "## Recommender-dev\n\n"
        "### Security\n\n"
        "- nothing security-relevant changed\n\n"
        "1 asset hash(es) changed: Lambda code or images rebuilt from changed sources.\n"
    )
    new["Resources"]["Function"]["Properties"]["MemorySize"] = 1024
    assert "- `Function` (AWS::Lambda::Function): Properties.MemorySize: 512 → 1024\n" in review(template(), new)


def test_a_removed_stack_lists_its_resources_and_their_policies() -> None:
    text = markdown(
        "main", [compare("Recommender-old", template(), None), compare("Recommender-dev", template(), template())]
    )
    assert "## Recommender-old" in text and "- IAM removed: `ReaderPolicy` (AWS::IAM::Policy) PolicyDocument" in text
    assert "### Removed\n\n- `Bucket` (AWS::S3::Bucket)\n- `Function` (AWS::Lambda::Function)\n" in text
    assert text.endswith("Unchanged: Recommender-dev.\n")


def security_lines(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return compare("Recommender-dev", old, new).security


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": document}}}}


def test_an_allow_turned_into_not_action_is_reported() -> None:
    old = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    new = policy({"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"})
    assert security_lines(old, new) == [
        'IAM added: `P` (AWS::IAM::Policy) PolicyDocument: Allow  on * except {"NotAction":"s3:GetObject"}',
        "IAM removed: `P` (AWS::IAM::Policy) PolicyDocument: Allow s3:GetObject on *",
    ]


def test_a_deny_removed_or_narrowed_is_a_widening() -> None:
    role = {"StringNotEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/snowflake"}}
    ip = {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    both = [
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*", "Principal": "*", "Condition": role},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*", "Principal": "*", "Condition": ip},
    ]
    assert security_lines(policy(*both), policy(both[0])) == [
        "IAM widened (a Deny narrowed): `P` (AWS::IAM::Policy) PolicyDocument: removed: Deny execute-api:Invoke "
        'on * to * when {"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}'
    ]
    narrowed = security_lines(
        policy({"Effect": "Deny", "Action": ["s3:DeleteObject", "s3:PutObject"], "Resource": "*"}),
        policy({"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": "*"}),
    )
    assert "IAM widened (a Deny narrowed): `P` (AWS::IAM::Policy) PolicyDocument: - action s3:PutObject" in narrowed
    broader_remains = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*", "Principal": "*"}
    assert security_lines(policy(broader_remains, both[1]), policy(broader_remains)) == []


def test_a_lambda_permission_for_everyone_is_public_only_without_a_source() -> None:
    def permission(**extra: str) -> dict[str, Any]:
        properties = {"Action": "lambda:InvokeFunction", "FunctionName": "f", "Principal": "*", **extra}
        return {"Resources": {"L": {"Type": "AWS::Lambda::Permission", "Properties": properties}}}

    assert security_lines({"Resources": {}}, permission())[0].startswith("PUBLIC: Lambda permission `L`")
    scoped = security_lines({"Resources": {}}, permission(SourceAccount="123456789012"))
    assert scoped and not scoped[0].startswith("PUBLIC")


def test_an_existing_policy_attached_to_another_role_is_a_security_finding() -> None:
    old = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    new = copy.deepcopy(old)
    old["Resources"]["P"]["Properties"]["Roles"] = [{"Ref": "A"}]
    new["Resources"]["P"]["Properties"]["Roles"] = [{"Ref": "A"}, {"Ref": "B"}]
    assert security_lines(old, new) == ["IAM: `P` (AWS::IAM::Policy) now also applies to roles ${B}"]
