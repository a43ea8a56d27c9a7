"""Run Python with a folder (an asset, an image layout) first on the path, and see where modules load from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def module_files(folder: Path, *modules: str) -> list[str]:
    """Import ``modules`` in a child interpreter with ``folder`` first on the path; their ``__file__``s.

    Raises AssertionError with the child's stderr when an import fails.
    """
    code = f"import importlib; print(*(importlib.import_module(m).__file__ for m in {list(modules)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(folder)},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
