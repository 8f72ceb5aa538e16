"""The sweep grid as a list of trials, each with a stable id and a cost estimate.

Pure functions: no Ray, no files. `plan_trials` expands model sizes x token
budgets x mixtures x seeds into `TrialConfig`s; `trial_id` hashes everything in
a trial that can change its numbers (not where it reads or writes, nor how it
is tracked), so a resumed sweep recognises trials it has already finished.
"""

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthrec.configtools import config_hash, to_dict
from synthrec.errors import ConfigError
from synthrec.lm.config import LMConfig, ModelSizeConfig, TrialConfig
from synthrec.tracking import resolve_tracking_uri

if TYPE_CHECKING:  # synthrec.config imports this package's config
    from synthrec.config import RunConfig

log = logging.getLogger(__name__)

# TrialConfig fields that say where a trial reads, writes or logs: they do not
# change its results, so they stay out of its id.
_LOCATION_FIELDS = (
    "corpus_dir",
    "tokenizer_dir",
    "out_dir",
    "tracking",
    "parent_run_id",
    "run_name",
)
_TRIAL_ID_CHARS = 12
# Written by synthrec.lm.build_tokenizer next to the tokenizer files.
_TOKENIZER_META = "synthrec_tokenizer.json"
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PlannedTrial:
    """One grid point: its config, id and the names it is reported under."""

    trial_id: str
    model: str
    mixture: str
    seed: int
    num_tokens: int
    config: TrialConfig


@dataclass(frozen=True)
class TrialCost:
    """Estimated training cost of one trial."""

    num_params_non_embedding: int
    flops_per_token: float
    flops: float
    gpu_hours: float
    # "lm.model_stats" or "6ND from the shape": how the FLOPs were estimated.
    method: str


# -- ids ----------------------------------------------------------------------


def trial_id(trial: TrialConfig) -> str:
    """A stable hash of what determines a trial's results (paths excluded)."""
    data = to_dict(trial)
    for name in _LOCATION_FIELDS:
        data.pop(name, None)
    return config_hash(data, length=_TRIAL_ID_CHARS)


# -- grid ---------------------------------------------------------------------


def plan_grid(
    cfg: "RunConfig",
    corpus_dir: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
) -> list[PlannedTrial]:
    """Every grid point in a fixed order: model, budget, mixture, seed."""
    sweep = cfg.sweep
    run_dir = Path(run_dir).resolve()
    tracking = dataclasses.replace(
        cfg.tracking, tracking_uri=_trial_tracking_uri(cfg, run_dir)
    )
    planned = []
    for model in sweep.model_sizes:
        lm = _lm_for_model(cfg, model)
        for num_tokens in sweep.token_budgets:
            for mixture_name, mixture in sweep.mixtures.items():
                for seed in sweep.seeds:
                    trial = TrialConfig(
                        model=dataclasses.replace(model),
                        lm=lm,
                        num_tokens=num_tokens,
                        mixture=dict(mixture),
                        seed=seed,
                        corpus_dir=str(Path(corpus_dir).resolve()),
                        tokenizer_dir=str(Path(tokenizer_dir).resolve()),
                        out_dir="",
                        tracking=tracking,
                        run_name=f"{model.name}-{num_tokens}-{mixture_name}-s{seed}",
                    )
                    _validate_trial(trial)
                    tid = trial_id(trial)
                    trial.out_dir = str(run_dir / "sweep" / "trials" / tid)
                    planned.append(
                        PlannedTrial(
                            tid, model.name, mixture_name, seed, num_tokens, trial
                        )
                    )
    _check_unique(planned)
    return planned


def plan_trials(
    cfg: "RunConfig",
    corpus_dir: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
) -> list[TrialConfig]:
    """The sweep's trials as TrialConfigs (ids: `trial_id(trial)`)."""
    return [p.config for p in plan_grid(cfg, corpus_dir, tokenizer_dir, run_dir)]


def num_gpus_per_trial(trial: TrialConfig) -> int:
    """GPUs a trial's Ray Train workers take (0 for a CPU trial)."""
    return trial.lm.num_workers if trial.lm.use_gpu else 0


def _lm_for_model(cfg: "RunConfig", model: ModelSizeConfig) -> LMConfig:
    # Bigger models may get more Ray Train workers (GPUs) than lm.num_workers.
    workers = cfg.sweep.num_workers_by_model.get(model.name, cfg.lm.num_workers)
    return dataclasses.replace(cfg.lm, num_workers=workers)


def _trial_tracking_uri(cfg: "RunConfig", run_dir: Path) -> str | None:
    # Trials log into the sweep's store: the configured URI or RUN/mlflow.db.
    if not cfg.tracking.enabled:
        return cfg.tracking.tracking_uri
    return resolve_tracking_uri(cfg.tracking, run_dir)


def _validate_trial(trial: TrialConfig) -> None:
    # Catch a trial the engine would refuse (e.g. a budget below one step) now,
    # not inside a Tune worker.
    try:
        trial.validate()
    except ConfigError as exc:
        raise ConfigError(f"sweep trial {trial.run_name}: {exc}") from None


def _check_unique(planned: list[PlannedTrial]) -> None:
    # Two mixtures with equal shares would be the same trial twice.
    seen: dict[str, PlannedTrial] = {}
    for p in planned:
        if p.trial_id in seen:
            other = seen[p.trial_id]
            raise ConfigError(
                f"sweep grid has the same trial twice ({other.config.run_name} and "
                f"{p.config.run_name}): make every mixture's shares different"
            )
        seen[p.trial_id] = p


# -- cost ---------------------------------------------------------------------


def shape_non_embedding_params(model: ModelSizeConfig) -> int:
    """Non-embedding parameters of a Qwen3 decoder with this shape.

    Per layer: q/k/v/o projections, the SwiGLU MLP (gate, up, down), two
    RMSNorms over the hidden size and the per-head q/k RMSNorms; plus the final
    norm. Embedding and output head are excluded (they scale with vocabulary).
    """
    h, d = model.hidden_size, model.head_dim
    attn = h * model.num_heads * d * 2 + h * model.num_kv_heads * d * 2
    mlp = 3 * h * model.intermediate_size
    norms = 2 * h + 2 * d
    return model.num_layers * (attn + mlp + norms) + h


def estimate_cost(
    trial: TrialConfig, assumed_flops_per_gpu_s: float, vocab_size: int | None
) -> TrialCost:
    """FLOPs and GPU-hours of one trial, by lm.model_stats when it is there."""
    stats = _model_stats(trial, vocab_size)
    if stats is not None:
        n = int(stats["num_params_non_embedding"])
        per_token = float(stats["flops_per_token"])
        method = "lm.model_stats" + ("" if vocab_size else " without output layer")
    else:
        n = shape_non_embedding_params(trial.model)
        per_token = 6.0 * n
        method = "6ND from the shape"
    flops = per_token * trial.num_tokens
    gpu_hours = flops / assumed_flops_per_gpu_s / SECONDS_PER_HOUR
    return TrialCost(n, per_token, flops, gpu_hours, method)


def plan_vocab_size(
    cfg: "RunConfig", tokenizer_dir: str | os.PathLike[str]
) -> int | None:
    """The built tokenizer's vocabulary, else sweep.plan_vocab_size (may be None)."""
    meta = Path(tokenizer_dir) / _TOKENIZER_META
    if meta.is_file():
        return int(json.loads(meta.read_text(encoding="utf-8"))["vocab_size"])
    return cfg.sweep.plan_vocab_size


def _model_stats(trial: TrialConfig, vocab_size: int | None) -> dict[str, Any] | None:
    # The LM engine's exact count (attention and output layer included).
    try:
        from synthrec.lm.model import model_stats
    except ImportError:
        return None
    return model_stats(trial.model, vocab_size or 0, trial.lm.max_seq_len)


# -- printing -----------------------------------------------------------------


def format_plan(
    planned: list[PlannedTrial], assumed_flops_per_gpu_s: float, vocab_size: int | None
) -> str:
    """A table of trials with estimated FLOPs and GPU-hours, and the totals.

    `hours` is the wall-clock estimate of a GPU trial on its `GPUs` (perfect
    scaling across them assumed); CPU trials show `-`.
    """
    header = (
        f"{'trial_id':<12}  {'model':<12} {'N (non-emb)':>12} {'tokens':>10} "
        f"{'mixture':<14} {'seed':>4} {'FLOPs':>9} {'GPU-h':>9} {'GPUs':>4} "
        f"{'hours':>8}"
    )
    lines = [header, "-" * len(header)]
    total_flops = total_hours = 0.0
    methods = set()
    for p in planned:
        cost = estimate_cost(p.config, assumed_flops_per_gpu_s, vocab_size)
        gpus = num_gpus_per_trial(p.config)
        methods.add(cost.method)
        total_flops += cost.flops
        total_hours += cost.gpu_hours
        lines.append(
            f"{p.trial_id:<12}  {p.model:<12} {_si(cost.num_params_non_embedding):>12} "
            f"{_si(p.num_tokens):>10} {p.mixture:<14} {p.seed:>4} "
            f"{cost.flops:>9.2e} {cost.gpu_hours:>9.3g} {gpus or '-':>4} "
            f"{f'{cost.gpu_hours / gpus:.3g}' if gpus else '-':>8}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{len(planned)} trials, {total_flops:.3e} FLOPs, {total_hours:.4g} GPU-hours "
        f"at an assumed {assumed_flops_per_gpu_s:.2e} FLOP/s per GPU "
        f"(FLOPs by {', '.join(sorted(methods))}, vocabulary {vocab_size or 'unknown'};"
        " evaluation not counted)"
    )
    return "\n".join(lines)


def _si(value: float) -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:g}"
