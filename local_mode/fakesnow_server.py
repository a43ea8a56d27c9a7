"""The fakesnow server with its databases kept in a folder.

``fakesnow -s`` serves one shared in-memory instance; its ``-d`` folder only applies to fakesnow's
patch mode. Local mode wants its Snowflake data to outlive a run, so this starts the same server
app with the shared instance backed by a folder (one DuckDB file per database).

Run as ``python -m local_mode.fakesnow_server --port PORT --data DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True, help="folder for the databases (created if missing)")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    fakesnow.server.shared_fs = FakeSnow(db_path=str(args.data))
    uvicorn.run(fakesnow.server.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
