"""Config of a sweep: the grid of model sizes x token budgets x mixtures x seeds."""

from dataclasses import dataclass, field

from synthrec.configtools import require
from synthrec.lm.config import ModelSizeConfig


def _default_mixtures() -> dict[str, dict[str, float]]:
    return {"all": {"item_text": 0.2, "cf": 0.3, "uih": 0.5}}


@dataclass
class SweepConfig:
    model_sizes: list[ModelSizeConfig] = field(default_factory=lambda: [ModelSizeConfig()])
    token_budgets: list[int] = field(default_factory=lambda: [65536])
    mixtures: dict[str, dict[str, float]] = field(default_factory=_default_mixtures)
    seeds: list[int] = field(default_factory=lambda: [0])
    # None: derived from the Ray cluster's resources.
    max_concurrent_trials: int | None = None

    def validate(self) -> None:
        require(len(self.model_sizes) >= 1, "sweep.model_sizes", self.model_sizes,
                "list at least one model size")
        require(all(b > 0 for b in self.token_budgets), "sweep.token_budgets",
                self.token_budgets, "budgets must be positive token counts")
        names = [m.name for m in self.model_sizes]
        require(len(set(names)) == len(names), "sweep.model_sizes", names,
                "model size names must be unique")
        for name, mix in self.mixtures.items():
            require(all(v >= 0 for v in mix.values()) and sum(mix.values()) > 0,
                    f"sweep.mixtures.{name}", mix, "shares must be >= 0 and not all 0")
