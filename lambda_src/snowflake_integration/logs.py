"""Structured JSON log lines (one object per line) for CloudWatch; never credentials."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def log(level: str, message: str, **fields: Any) -> None:
    record = {"level": level, "message": message, "timestamp": round(time.time(), 3), **fields}
    print(json.dumps(record, default=str, separators=(",", ":")), file=sys.stdout, flush=True)
