"""``python -m infra_review --base REV``: print the Markdown review of the working tree against REV.

Exit 0 whether or not anything changed; 1 when either side cannot be synthesized.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from infra_review.changes import compare
from infra_review.report import markdown
from infra_review.synthesis import ROOT, SynthesisError, checkout, requirements_differ, synthesize


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make review", description=__doc__)
    parser.add_argument("--base", required=True, help="git revision to compare with, e.g. origin/main or HEAD")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="review-out-") as out:
            print(f"synthesizing {args.base} ...", file=sys.stderr, flush=True)
            with checkout(args.base) as tree:
                before = synthesize(tree, Path(out) / "base")
                differ = requirements_differ(tree, ROOT)
            print("synthesizing the working tree ...", file=sys.stderr, flush=True)
            after = synthesize(ROOT, Path(out) / "head")
    except SynthesisError as exc:
        print(f"make review: {exc}", file=sys.stderr)
        return 1
    stacks = sorted(before.keys() | after.keys())
    report = markdown(args.base, [compare(name, before.get(name), after.get(name)) for name in stacks])
    if differ:
        report += (
            f"\nNote: {', '.join(differ)} changed. Both sides were synthesized with the working tree's "
            "libraries, so changes that come only from a library update (the CDK's generated policies, say) "
            "are not shown here: run `make synth` at both revisions to compare them.\n"
        )
    print(report)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
