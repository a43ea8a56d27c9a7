"""``python -m local_mode`` (``make local``): the whole pipeline end to end, no cloud needed."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from local_mode.pipeline import LocalPipeline, local_config
from snowflake_sql.movielens import DatasetError, read_movielens, synthetic_movielens
from stacks.config import ConfigError, load_environments

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recommender-local",
        description=(
            "Run the recommender pipeline end to end on loopback stand-ins: fakesnow for Snowflake, moto for "
            "AWS, the real Lambda handlers behind a local API gateway, and the real training and serve programs "
            "for SageMaker. Prints each step with timings; stops every process it started."
        ),
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="MovieLens ml-latest-small.zip or its unpacked folder (default: ../shared/datasets' copy, "
        "else a synthetic MovieLens-shaped set)",
    )
    parser.add_argument("--env", default="dev", help="cdk.json environment whose names to use (default: dev)")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / ".local", help="where stand-in data and logs go (default: .local/)"
    )
    parser.add_argument("--fresh", action="store_true", help="delete the workdir's data first")
    parser.add_argument("--summary", type=Path, help="also write a JSON summary of the results here")
    args = parser.parse_args(argv)

    try:
        context = json.loads((ROOT / "cdk.json").read_text())["context"].get("recommender")
        environments = {config.name: config for config in load_environments(context)}
        if args.env not in environments:
            raise ConfigError(f"cdk.json has no environment '{args.env}': choose one of {', '.join(environments)}.")
        data, source = _dataset(args.data)
    except (ConfigError, DatasetError) as error:
        print(error, file=sys.stderr)
        return 2

    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)
    pipeline = LocalPipeline(local_config(environments[args.env]), data, source, args.workdir, print)
    try:
        summary = pipeline.run()
    except KeyboardInterrupt:
        print("\ninterrupted: every process started has been stopped", file=sys.stderr)
        return 130
    except Exception as error:  # a failed step: say which, after everything has been stopped
        print(f"\nlocal mode failed: {error}", file=sys.stderr)
        print(f"logs: {args.workdir / 'logs'} and {args.workdir / 'sagemaker'}", file=sys.stderr)
        return 1
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=2, default=str))
    return 0


def _dataset(path: Path | None) -> tuple:
    if path is not None:
        return read_movielens(path), str(path)
    for candidate in (SHARED / "ml-latest-small.zip", SHARED / "ml-latest-small"):
        if candidate.exists():
            return read_movielens(candidate), str(candidate)
    print(f"notice: {SHARED} has no MovieLens copy; using a synthetic MovieLens-shaped set", file=sys.stderr)
    return synthetic_movielens(), "synthetic MovieLens-shaped data"


if __name__ == "__main__":
    sys.exit(main())
