"""Structured JSON log lines (one object per line) for CloudWatch, never containing row data.

In Lambda they go to stdout (CloudWatch); local mode sends them to a file with :func:`send_to`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

_stream: TextIO | None = None


def send_to(stream: TextIO | None) -> None:
    """Write log lines to ``stream`` instead of stdout (None: back to stdout)."""
    global _stream
    _stream = stream


def log(level: str, message: str, **fields: Any) -> None:
    record = {"level": level, "message": message, "timestamp": round(time.time(), 3), **fields}
    print(json.dumps(record, default=str, separators=(",", ":")), file=_stream or sys.stdout, flush=True)
