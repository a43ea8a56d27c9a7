"""How much memory this container may still use: its cgroup's limit (else the machine's RAM) less what it used.

The limit is the tightest of the cgroup v2 ``memory.max`` (bytes, or ``max`` for none), the
cgroup v1 ``memory.limit_in_bytes`` (a number near 2^63 for none) and ``MemTotal`` of
``/proc/meminfo`` ("total usable RAM", in kB). Those files are read under
:class:`~recommender.paths.SystemFiles` (``/``; ``SYSTEM_ROOT`` relocates it for tests, as
``OPT_ML`` relocates ``/opt/ml``). What the job holds is its own resident set, ``VmRSS`` of
``/proc/self/status`` (its peak so far from ``getrusage`` where that file cannot be read; on
Linux that peak also counts the parent's memory at fork, so it is only the fallback).

Sources: https://facebookmicrosites.github.io/cgroup2/docs/memory-controller.html (memory.max),
https://www.kernel.org/doc/Documentation/filesystems/proc.txt (MemTotal, as quoted in
https://gitlab.com/procps-ng/procps/-/issues/247; VmRSS in kB, same file), getrusage(2) (``ru_maxrss``
in kilobytes).
"""

from __future__ import annotations

import resource
from pathlib import Path

from recommender.paths import SystemFiles


def memory_limit(files: SystemFiles) -> int | None:
    """Bytes this container may use at most; None when none of the files says."""
    limits = [
        limit
        for limit in (_number(files.cgroup_v2_limit), _number(files.cgroup_v1_limit), _meminfo_total(files))
        if limit is not None
    ]
    return min(limits) if limits else None


def memory_left(files: SystemFiles) -> int | None:
    """Bytes left under :func:`memory_limit` beside what this process holds; None: no limit known."""
    limit = memory_limit(files)
    if limit is None:
        return None
    return max(limit - resident_bytes(), 0)


def resident_bytes() -> int:
    """This process's resident set now (its peak so far where ``/proc/self/status`` cannot be read)."""
    held = _status_kb(Path("/proc/self/status"), "VmRSS")
    return held * 1024 if held is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _number(path: Path) -> int | None:
    """A limit file's bytes; None if it is absent, says ``max`` or holds v1's "no limit" (beyond 2^60)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < 2**60 else None


def _meminfo_total(files: SystemFiles) -> int | None:
    total = _status_kb(files.meminfo, "MemTotal")
    return None if total is None else total * 1024


def _status_kb(path: Path, field: str) -> int | None:
    """The number of a ``Name:   1234 kB`` line (the format of /proc/meminfo and /proc/self/status)."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name == field and fields and fields[0].isdigit():
            return int(fields[0])
    return None
