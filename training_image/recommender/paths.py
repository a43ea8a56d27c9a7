"""The SageMaker ``/opt/ml`` directory layout and the system files the job reads, each relocatable for tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OptMl:
    """Paths of the SageMaker container contract under one root (default ``/opt/ml``)."""

    root: Path

    @classmethod
    def from_env(cls) -> OptMl:
        return cls(Path(os.environ.get("OPT_ML", "/opt/ml")))

    @property
    def hyperparameters(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"


@dataclass(frozen=True)
class SystemFiles:
    """Where the container's memory limit is read, under one root (default ``/``, relocatable with ``SYSTEM_ROOT``)."""

    root: Path

    @classmethod
    def from_env(cls) -> SystemFiles:
        return cls(Path(os.environ.get("SYSTEM_ROOT", "/")))

    @property
    def cgroup_v2_limit(self) -> Path:
        return self.root / "sys" / "fs" / "cgroup" / "memory.max"

    @property
    def cgroup_v1_limit(self) -> Path:
        return self.root / "sys" / "fs" / "cgroup" / "memory" / "memory.limit_in_bytes"

    @property
    def meminfo(self) -> Path:
        return self.root / "proc" / "meminfo"
