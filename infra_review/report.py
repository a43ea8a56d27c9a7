"""The review as Markdown: one section per stack that changed, its security findings first."""

from __future__ import annotations

from collections.abc import Sequence

from infra_review.changes import StackChanges

NOTHING = "No infrastructure changes."


def markdown(base: str, changes: Sequence[StackChanges]) -> str:
    """The report for all stacks (``NOTHING`` when none changed)."""
    changed = [c for c in changes if not c.empty]
    lines = [f"# Infrastructure review against `{base}`", ""]
    if not changed:
        return "\n".join([*lines, NOTHING, ""])
    for stack in changed:
        lines += [f"## {stack.stack}", ""]
        security = stack.security or ["nothing security-relevant changed"]
        lines += ["### Security", "", *(f"- {item}" for item in security), ""]
        sections = (
            ("Added", stack.added),
            ("Removed", stack.removed),
            ("Replaced", stack.replaced),
            ("Changed", stack.changed),
            ("Outputs", stack.outputs),
        )
        for title, items in sections:
            if items:
                lines += [f"### {title}", "", *(f"- {item}" for item in items), ""]
        if stack.asset_hashes:
            lines += [
                f"{stack.asset_hashes} asset hash(es) changed: Lambda code or images rebuilt from changed sources.",
                "",
            ]
    unchanged = [c.stack for c in changes if c.empty]
    if unchanged:
        lines += [f"Unchanged: {', '.join(unchanged)}.", ""]
    return "\n".join(lines)
