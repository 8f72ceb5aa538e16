"""Config of the scaling-law fits."""

from dataclasses import dataclass
from typing import Literal

from synthrec.configtools import require


@dataclass
class ScalingConfig:
    # Huber threshold on log-loss residuals; the objective is summed over points.
    huber_delta: float = 1e-3
    # Bootstrap resamples (by run) for every interval; 0 turns intervals off.
    num_bootstrap: int = 200
    confidence_level: float = 0.9
    seed: int = 0
    # Points below this many tokens are dropped from fits (warm-up region).
    min_tokens: int = 0
    # Fit only annealed points (kind final/cooldown) when the table has a `kind`.
    annealed_only: bool = False
    # Weight of un-annealed (`kind == trunk`) points relative to annealed ones.
    trunk_weight: float = 1.0
    # Drop NaN/inf losses with a warning instead of refusing to fit that eval set.
    drop_nonfinite: bool = False
    # "lbfgs": L-BFGS from the best grid starts; "varpro": variable projection.
    method: Literal["lbfgs", "varpro"] = "lbfgs"
    # L-BFGS runs from this many best points of the initialisation grid.
    num_starts: int = 8
    # With several mixtures in the table, the main fits use this one (None: the
    # mixture with the most points); every mixture also gets per-size L(D) fits.
    mixture: str | None = None
    # Run the held-out self-checks (largest N, largest D) in fit_curves.
    holdout: bool = True
    # Fit L(N) from the per-size losses at the largest D all sizes reached.
    fit_by_size: bool = True

    def validate(self) -> None:
        require(
            self.huber_delta > 0,
            "scaling.huber_delta",
            self.huber_delta,
            "use a positive threshold such as 1e-3",
        )
        require(
            self.num_bootstrap >= 0,
            "scaling.num_bootstrap",
            self.num_bootstrap,
            "use 0 (no intervals) or a positive count such as 1000",
        )
        require(
            0 < self.confidence_level < 1,
            "scaling.confidence_level",
            self.confidence_level,
            "use a value between 0 and 1",
        )
        require(
            self.min_tokens >= 0,
            "scaling.min_tokens",
            self.min_tokens,
            "use a non-negative token count",
        )
        require(
            self.trunk_weight >= 0,
            "scaling.trunk_weight",
            self.trunk_weight,
            "use a non-negative weight (0 excludes un-annealed points)",
        )
        require(
            self.method in ("lbfgs", "varpro"),
            "scaling.method",
            self.method,
            "choose 'lbfgs' or 'varpro'",
        )
        require(
            self.num_starts >= 1,
            "scaling.num_starts",
            self.num_starts,
            "use at least one start",
        )
