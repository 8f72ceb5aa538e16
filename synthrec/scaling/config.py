"""Config of the scaling-law fits."""

from dataclasses import dataclass

from synthrec.configtools import require


@dataclass
class ScalingConfig:
    huber_delta: float = 1e-3
    num_bootstrap: int = 200
    confidence_level: float = 0.9
    # Points below this many tokens are dropped from fits (warm-up region).
    min_tokens: int = 0

    def validate(self) -> None:
        require(0 < self.confidence_level < 1, "scaling.confidence_level",
                self.confidence_level, "use a value between 0 and 1")
