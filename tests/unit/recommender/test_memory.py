"""recommender.memory: the container's memory limit from its cgroup files or /proc/meminfo, under a relocatable root.

Formats: cgroup v2 ``memory.max`` holds bytes or ``max``
(https://facebookmicrosites.github.io/cgroup2/docs/memory-controller.html); v1's
``memory.limit_in_bytes`` holds a number near 2^63 when unlimited; ``/proc/meminfo``'s ``MemTotal``
is in kB (https://www.kernel.org/doc/Documentation/filesystems/proc.txt).
"""

from pathlib import Path

import pytest

from recommender.memory import memory_left, memory_limit, resident_bytes
from recommender.paths import SystemFiles

MEMINFO = "MemTotal:        8039860 kB\nMemFree:         7000000 kB\nMemAvailable:    7500000 kB\n"


def system(root: Path, *, v2: str | None = None, v1: str | None = None, meminfo: str | None = MEMINFO) -> SystemFiles:
    files = SystemFiles(root)
    for path, text in ((files.cgroup_v2_limit, v2), (files.cgroup_v1_limit, v1), (files.meminfo, meminfo)):
        if text is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return files


def test_the_cgroup_v2_limit_when_it_is_below_the_machines_memory(tmp_path):
    assert memory_limit(system(tmp_path, v2="2147483648\n")) == 2147483648


@pytest.mark.parametrize(("v2", "v1"), [("max\n", None), (None, "9223372036854771712\n"), (None, None)])
def test_no_cgroup_limit_leaves_the_machines_memory(tmp_path, v2, v1):
    assert memory_limit(system(tmp_path, v2=v2, v1=v1)) == 8039860 * 1024


def test_a_cgroup_v1_limit(tmp_path):
    assert memory_limit(system(tmp_path, v1="1073741824")) == 1073741824


def test_nothing_to_read_is_no_limit(tmp_path):
    files = system(tmp_path, meminfo=None)
    assert memory_limit(files) is None
    assert memory_left(files) is None


def test_what_is_left_is_the_limit_less_this_process(tmp_path):
    files = system(tmp_path, v2=str(4 * 2**30))
    held = resident_bytes()
    assert 10 * 2**20 < held < 4 * 2**30
    left = memory_left(files)
    assert 4 * 2**30 - held - 100 * 2**20 <= left <= 4 * 2**30 - held + 100 * 2**20
    assert memory_left(system(tmp_path / "tiny", v2="1000")) == 0


def test_the_root_comes_from_system_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SYSTEM_ROOT", str(tmp_path))
    assert SystemFiles.from_env().meminfo == tmp_path / "proc" / "meminfo"
    monkeypatch.delenv("SYSTEM_ROOT")
    assert SystemFiles.from_env().cgroup_v2_limit == Path("/sys/fs/cgroup/memory.max")
