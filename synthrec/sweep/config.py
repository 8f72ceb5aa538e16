"""Config of a sweep: the grid of model sizes x token budgets x mixtures x seeds.

A sweep spec is an ordinary run config (`synthrec.config.RunConfig` YAML); its
`sweep:` section lists the grid and how trials are scheduled, and its `lm:`
section holds the training settings every trial shares.
"""

from dataclasses import dataclass, field

from synthrec.configtools import require
from synthrec.lm.config import ModelSizeConfig

# Dense bf16 throughput of one H100 at ~40% model-FLOPs utilisation; only used to
# turn estimated FLOPs into GPU-hours in `synthrec sweep plan`.
DEFAULT_ASSUMED_FLOPS_PER_GPU_S = 4.0e14


def _default_mixtures() -> dict[str, dict[str, float]]:
    return {"all": {"item_text": 0.2, "cf": 0.3, "uih": 0.5}}


@dataclass
class SweepConfig:
    model_sizes: list[ModelSizeConfig] = field(
        default_factory=lambda: [ModelSizeConfig()]
    )
    token_budgets: list[int] = field(default_factory=lambda: [65536])
    # mixture name -> modality -> share of training tokens
    mixtures: dict[str, dict[str, float]] = field(default_factory=_default_mixtures)
    seeds: list[int] = field(default_factory=lambda: [0])

    # None: derived from the Ray cluster's CPUs (CPU trials) or GPUs (GPU trials).
    max_concurrent_trials: int | None = None
    # CPUs reserved for each trial's own process; a local (CPU) trial trains there.
    cpus_per_trial: float = 1.0
    # model size name -> Ray Train workers (one GPU each) for that size; sizes not
    # listed use lm.num_workers. Bigger models get more GPUs.
    num_workers_by_model: dict[str, int] = field(default_factory=dict)
    # Tune retries of a failed trial; a retry resumes from the trial's checkpoints.
    max_failures: int = 1
    # For `sweep plan` only: sustained training FLOP/s of one GPU.
    assumed_flops_per_gpu_s: float = DEFAULT_ASSUMED_FLOPS_PER_GPU_S
    # For `sweep plan` before the tokenizer is built: its vocabulary size (the
    # output layer's FLOPs); null leaves the output layer out of the estimate.
    plan_vocab_size: int | None = None

    def validate(self) -> None:
        self._validate_grid()
        self._validate_scheduling()

    def _validate_grid(self) -> None:
        require(
            len(self.model_sizes) >= 1,
            "sweep.model_sizes",
            self.model_sizes,
            "list at least one model size",
        )
        names = [m.name for m in self.model_sizes]
        require(
            len(set(names)) == len(names),
            "sweep.model_sizes",
            names,
            "model size names must be unique",
        )
        require(
            len(self.token_budgets) >= 1 and all(b > 0 for b in self.token_budgets),
            "sweep.token_budgets",
            self.token_budgets,
            "list one or more positive token counts",
        )
        require(
            len(set(self.token_budgets)) == len(self.token_budgets),
            "sweep.token_budgets",
            self.token_budgets,
            "remove the duplicates",
        )
        require(
            len(self.mixtures) >= 1,
            "sweep.mixtures",
            self.mixtures,
            "name at least one mixture, e.g. {all: {uih: 1.0}}",
        )
        for name, mix in self.mixtures.items():
            require(
                len(mix) >= 1
                and all(v >= 0 for v in mix.values())
                and sum(mix.values()) > 0,
                f"sweep.mixtures.{name}",
                mix,
                "shares must be >= 0 and not all 0",
            )
        require(
            len(self.seeds) >= 1 and all(s >= 0 for s in self.seeds),
            "sweep.seeds",
            self.seeds,
            "list one or more non-negative seeds",
        )
        require(
            len(set(self.seeds)) == len(self.seeds),
            "sweep.seeds",
            self.seeds,
            "remove the duplicates",
        )

    def _validate_scheduling(self) -> None:
        require(
            self.max_concurrent_trials is None or self.max_concurrent_trials >= 1,
            "sweep.max_concurrent_trials",
            self.max_concurrent_trials,
            "use a positive number, or null to derive it from the cluster",
        )
        require(
            self.cpus_per_trial > 0,
            "sweep.cpus_per_trial",
            self.cpus_per_trial,
            "use a positive number of CPUs",
        )
        names = {m.name for m in self.model_sizes}
        for name, workers in self.num_workers_by_model.items():
            require(
                name in names,
                f"sweep.num_workers_by_model.{name}",
                workers,
                f"name one of the model sizes: {', '.join(sorted(names))}",
            )
            require(
                workers >= 1,
                f"sweep.num_workers_by_model.{name}",
                workers,
                "use 1 or more workers",
            )
        require(
            self.max_failures >= 0,
            "sweep.max_failures",
            self.max_failures,
            "use 0 (no retries) or more",
        )
        require(
            self.assumed_flops_per_gpu_s > 0,
            "sweep.assumed_flops_per_gpu_s",
            self.assumed_flops_per_gpu_s,
            "use a positive FLOP/s figure",
        )
        require(
            self.plan_vocab_size is None or self.plan_vocab_size >= 1,
            "sweep.plan_vocab_size",
            self.plan_vocab_size,
            "use a positive vocabulary size or null",
        )
