"""The SageMaker ``/opt/ml`` directory layout, relocatable with the ``OPT_ML`` variable."""

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
