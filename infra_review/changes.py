"""What changed between two synthesized CloudFormation templates, in the terms a reviewer checks.

Security first: IAM and resource-policy statements added, widened or removed, anything made
public, deletion or retention policies changed, encryption turned off. Then resources added,
removed, replaced (with the create-only property that forces it, from CloudFormation's resource
schemas as cfn-lint ships them) and changed. Values that differ only by an asset hash (Lambda
code, container images rebuilt from changed sources) are counted, not listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

HASH = re.compile(r"[0-9a-f]{64}")
POLICY_PROPERTIES = {  # resource type -> properties holding a policy document
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::ApiGateway::RestApi": ("Policy",),
    "AWS::SecretsManager::ResourcePolicy": ("ResourcePolicy",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
}
ENCRYPTION = re.compile(r"(Encrypt|Kms|SSE)", re.IGNORECASE)
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


@dataclass
class StackChanges:
    stack: str
    security: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    asset_hashes: int = 0

    @property
    def empty(self) -> bool:
        parts = (self.security, self.added, self.removed, self.replaced, self.changed, self.outputs)
        return not any(parts) and not self.asset_hashes


def compare(stack: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> StackChanges:
    """The changes from ``old`` to ``new`` (either None: the stack is added or removed)."""
    changes = StackChanges(stack)
    before, after = (old or {}).get("Resources", {}), (new or {}).get("Resources", {})
    for name in sorted(after.keys() - before.keys()):
        changes.added.append(f"`{name}` ({after[name]['Type']})")
        _security(changes, name, {}, after[name])
    for name in sorted(before.keys() - after.keys()):
        changes.removed.append(f"`{name}` ({before[name]['Type']})")
        _security(changes, name, before[name], {})
    for name in sorted(before.keys() & after.keys()):
        _compare_resource(changes, name, before[name], after[name])
    _compare_outputs(changes, (old or {}).get("Outputs", {}), (new or {}).get("Outputs", {}))
    return changes


def _compare_resource(changes: StackChanges, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    kind = new["Type"]
    if old["Type"] != kind:
        changes.replaced.append(f"`{name}` ({old['Type']} → {kind}): the type changes")
        return
    differences = []
    policies = {f"Properties.{p}" for p in POLICY_PROPERTIES.get(kind, ())}
    policies |= {"Properties.Policies"} if kind == "AWS::IAM::Role" else set()
    for path, before, after in _differences(old.get("Properties", {}), new.get("Properties", {}), "Properties"):
        if any(path == p or path.startswith(f"{p}.") for p in policies):
            continue  # statement by statement in the security section
        if _only_hash(before, after) and not _creates_only(kind, path):  # a new hash there still replaces
            changes.asset_hashes += 1
        else:
            differences.append((path, before, after))
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if old.get(policy) != new.get(policy):
            changes.security.append(
                f"{policy} of `{name}` ({kind}): {old.get(policy) or 'default (Delete)'} → "
                f"{new.get(policy) or 'default (Delete)'}"
            )
    _security(changes, name, old, new)
    if not differences:
        return
    forcing = sorted({p for p, _, _ in differences if _creates_only(kind, p)})
    listed = "; ".join(f"{path}: {_show(before)} → {_show(after)}" for path, before, after in differences)
    if forcing:
        changes.replaced.append(f"`{name}` ({kind}): {', '.join(forcing)} forces replacement. {listed}")
    else:
        changes.changed.append(f"`{name}` ({kind}): {listed}")


def _differences(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict) and not _intrinsic(old) and not _intrinsic(new):
        found = []
        for key in sorted(old.keys() | new.keys()):
            found += _differences(old.get(key), new.get(key), f"{path}.{key}")
        return found
    return [] if old == new else [(path, old, new)]


def _intrinsic(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _only_hash(old: Any, new: Any) -> bool:
    texts = json.dumps(old, sort_keys=True), json.dumps(new, sort_keys=True)
    return texts[0] != texts[1] and bool(HASH.search(texts[0])) and HASH.sub("#", texts[0]) == HASH.sub("#", texts[1])


@cache
def _create_only(kind: str) -> tuple[str, ...]:
    """The type's create-only properties (changing one replaces the resource), as ``Properties.A.B`` paths."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
    except Exception:
        return ()
    return tuple(
        "Properties." + p.removeprefix("/properties/").replace("/", ".") for p in schema.get("createOnlyProperties", [])
    )


def _creates_only(kind: str, path: str) -> bool:
    return any(path == p or path.startswith(f"{p}.") for p in _create_only(kind))


def _security(changes: StackChanges, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    kind = new.get("Type") or old.get("Type", "")
    before, after = old.get("Properties", {}), new.get("Properties", {})
    documents = [(p, before.get(p), after.get(p)) for p in POLICY_PROPERTIES.get(kind, ())]
    if kind == "AWS::IAM::Role":
        inline = {p.get("PolicyName"): p.get("PolicyDocument") for p in before.get("Policies", [])}
        inline_new = {p.get("PolicyName"): p.get("PolicyDocument") for p in after.get("Policies", [])}
        documents += [
            (f"Policies[{n}]", inline.get(n), inline_new.get(n)) for n in sorted(inline.keys() | inline_new.keys())
        ]
        managed = sorted(
            set(map(_show, after.get("ManagedPolicyArns", []))) - set(map(_show, before.get("ManagedPolicyArns", [])))
        )
        changes.security += [f"IAM: `{name}` gains managed policy {arn}" for arn in managed]
    for where, old_document, new_document in documents:
        _statements(changes, f"`{name}` ({kind}) {where}", old_document, new_document)
    if kind == "AWS::Lambda::Permission" and after and after != before:
        principal = _show(after.get("Principal"))
        narrowed = any(after.get(k) for k in ("SourceArn", "SourceAccount", "PrincipalOrgID"))
        public = after.get("Principal") == "*" and not narrowed and after.get("FunctionUrlAuthType") != "AWS_IAM"
        changes.security.append(
            f"{'PUBLIC: ' if public else ''}Lambda permission `{name}`: {principal} may {_show(after.get('Action'))}"
            + (f" from {_show(after.get('SourceArn'))}" if after.get("SourceArn") else "")
        )
    opened_api = bool(after) and after.get("AuthorizationType", "NONE") == "NONE" != before.get("AuthorizationType")
    if kind == "AWS::ApiGateway::Method" and opened_api:
        changes.security.append(f"PUBLIC: API method `{name}` has no authorization (AuthorizationType NONE)")
    if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and before:
        for key in ("Roles", "Users", "Groups"):
            gained = sorted(set(map(_show, after.get(key, []))) - set(map(_show, before.get(key, []))))
            if gained:
                changes.security.append(f"IAM: `{name}` ({kind}) now also applies to {key.lower()} {', '.join(gained)}")
    acl = str(after.get("AccessControl", ""))
    if (
        kind == "AWS::S3::Bucket"
        and acl.startswith(("Public", "AuthenticatedRead"))
        and acl != before.get("AccessControl")
    ):
        changes.security.append(f"PUBLIC: bucket `{name}` AccessControl {acl}")
    if kind == "AWS::S3::Bucket" and before:
        block_before = before.get("PublicAccessBlockConfiguration", {})
        block_after = after.get("PublicAccessBlockConfiguration", {})
        opened = [
            flag for flag in PUBLIC_ACCESS_FLAGS if block_before.get(flag) is True and block_after.get(flag) is not True
        ]
        if opened:
            changes.security.append(f"PUBLIC: bucket `{name}` no longer has {', '.join(opened)}")
    if before:
        for path, was, now in _differences(before, after, "Properties"):
            if ENCRYPTION.search(path) and was not in (None, False) and now in (None, False):
                changes.security.append(f"Encryption off: `{name}` ({kind}) {path}: {_show(was)} → {_show(now)}")


def _statements(changes: StackChanges, where: str, old: Any, new: Any) -> None:
    """Statements added, widened (more actions, resources or principals; a condition dropped) or removed."""
    before, after = _normalized(old), _normalized(new)
    for statement in after:
        if statement in before:
            continue
        kin = [s for s in before if (s["Effect"], s["Sid"]) == (statement["Effect"], statement["Sid"]) and s["Sid"]]
        kin = kin or [s for s in before if s["Effect"] == statement["Effect"] and _overlaps(s, statement)]
        public = statement["Effect"] == "Allow" and "*" in statement["Principal"] and not statement["Condition"]
        label = "PUBLIC: " if public else ""
        if kin:
            old_one = kin[0]
            grown = [
                f"+ {key.lower()} {', '.join(sorted(set(statement[key]) - set(old_one[key])))}"
                for key in ("Action", "Resource", "Principal")
                if set(statement[key]) - set(old_one[key])
            ]
            if old_one["Condition"] and old_one["Condition"] != statement["Condition"]:
                grown.append(f"condition {old_one['Condition']} → {statement['Condition'] or 'none'}")
            if grown:
                changes.security.append(f"{label}IAM widened: {where}: {statement['Effect']} " + "; ".join(grown))
                continue
        changes.security.append(f"{label}IAM added: {where}: {_describe(statement)}")
    for statement in before:
        if statement in after:
            continue
        if statement["Effect"] == "Deny":  # less denied is more allowed
            if any(_covers(s, statement) for s in after):
                continue  # a Deny at least as broad remains
            kept = [s for s in after if _overlaps(statement, s) and s["Condition"] == statement["Condition"]]
            lost = [
                f"- {key.lower()} {', '.join(sorted(set(statement[key]) - set(kept[0][key])))}"
                for key in ("Action", "Resource", "Principal")
                if kept and set(statement[key]) - set(kept[0][key])
            ]
            if not kept or lost:
                what = "; ".join(lost) if kept else f"removed: {_describe(statement)}"
                changes.security.append(f"IAM widened (a Deny narrowed): {where}: {what}")
        elif not any(_overlaps(statement, s) for s in after):
            changes.security.append(f"IAM removed: {where}: {_describe(statement)}")


def _normalized(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [
        {
            "Sid": s.get("Sid", ""),
            "Effect": s.get("Effect", "Allow"),
            "Action": sorted(map(_show, _as_list(s.get("Action")))),
            "Resource": sorted(map(_show, _as_list(s.get("Resource")))),
            "Principal": sorted(_principals(s.get("Principal"))),
            "Not": _exclusions(s),
            "Condition": _show(s["Condition"]) if s.get("Condition") else "",
        }
        for s in statements
    ]


def _covers(wide: dict[str, Any], narrow: dict[str, Any]) -> bool:
    """``wide`` applies wherever ``narrow`` does: same effect and exclusions, no condition, a superset of the rest."""
    return (
        (wide["Effect"], wide["Not"]) == (narrow["Effect"], narrow["Not"])
        and not wide["Condition"]
        and all(set(narrow[key]) <= set(wide[key]) for key in ("Action", "Resource", "Principal"))
    )


def _exclusions(statement: dict[str, Any]) -> str:
    """NotAction, NotResource and NotPrincipal, which grant or deny everything but what they name."""
    found = {k: statement[k] for k in ("NotAction", "NotResource", "NotPrincipal") if k in statement}
    return _show(found) if found else ""


def _principals(principal: Any) -> list[str]:
    if principal is None:
        return []
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [
            f"{kind}:{_show(v)}" if _show(v) != "*" else "*"
            for kind, values in principal.items()
            for v in _as_list(values)
        ]
    return [_show(principal)]


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same effect and exclusions, sharing an action: one statement grown (or shrunk) into the other."""
    return a["Effect"] == b["Effect"] and a["Not"] == b["Not"] and bool(set(a["Action"]) & set(b["Action"]))


def _describe(statement: dict[str, Any]) -> str:
    text = f"{statement['Effect']} {', '.join(statement['Action'])} on {', '.join(statement['Resource']) or '-'}"
    if statement["Principal"]:
        text += f" to {', '.join(statement['Principal'])}"
    if statement["Not"]:
        text += f" except {statement['Not']}"
    if statement["Condition"]:
        text += f" when {statement['Condition']}"
    return text


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _show(value: Any) -> str:
    """A value on one line: strings as they are, Ref/GetAtt/Join as the ``${...}`` text they make, the rest as JSON."""
    value = _rendered(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _rendered(value: Any) -> Any:
    """``value`` with CloudFormation's Ref, GetAtt, Join and Sub written as the text they produce."""
    if isinstance(value, list):
        return [_rendered(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"${{{arg}}}"
        if key == "Fn::GetAtt":
            return f"${{{'.'.join(arg) if isinstance(arg, list) else arg}}}"
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            parts = [_rendered(part) for part in arg[1]]
            if all(isinstance(part, str) for part in parts):
                return str(arg[0]).join(parts)
        if key == "Fn::Sub" and isinstance(arg, str):
            return arg
    return {k: _rendered(v) for k, v in value.items()}


def _compare_outputs(changes: StackChanges, old: dict[str, Any], new: dict[str, Any]) -> None:
    for name in sorted(new.keys() - old.keys()):
        changes.outputs.append(f"added `{name}`")
    for name in sorted(old.keys() - new.keys()):
        changes.outputs.append(f"removed `{name}`")
    for name in sorted(old.keys() & new.keys()):
        if old[name] != new[name] and not _only_hash(old[name], new[name]):
            changes.outputs.append(
                f"changed `{name}`: {_show(old[name].get('Value'))} → {_show(new[name].get('Value'))}"
            )
