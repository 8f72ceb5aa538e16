"""The whole run's config: one typed tree, loaded from one YAML file."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthrec.configtools import from_dict, load_yaml, require
from synthrec.datasets.config import DataConfig
from synthrec.lm.config import LMConfig
from synthrec.sasrec.config import SasrecConfig
from synthrec.scaling.config import ScalingConfig
from synthrec.sids.config import SidConfig
from synthrec.sweep.config import SweepConfig
from synthrec.synth.config import SynthConfig
from synthrec.tracking.config import TrackingConfig


@dataclass
class RayConfig:
    # None starts a private local Ray on 127.0.0.1; otherwise "auto" or ray://...
    address: str | None = None
    num_cpus: int | None = None
    object_store_memory_bytes: int = 512 * 1024 * 1024


@dataclass
class RunConfig:
    name: str = "synthrec"
    seed: int = 0
    # Default output folder for `synthrec run` (overridden by --out).
    out_dir: str = "runs/default"
    data: DataConfig = field(default_factory=DataConfig)
    sids: SidConfig = field(default_factory=SidConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    sasrec: SasrecConfig = field(default_factory=SasrecConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    ray: RayConfig = field(default_factory=RayConfig)

    def validate(self) -> None:
        require(self.seed >= 0, "seed", self.seed, "use a non-negative integer")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load and validate a run config from YAML (plus optional overrides)."""
    from synthrec.configtools import deep_merge

    data = load_yaml(path)
    if overrides:
        data = deep_merge(data, overrides)
    return from_dict(RunConfig, data)
