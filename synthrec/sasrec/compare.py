"""Real vs synthetic (vs mix) histories: train SASRec on each, test on real data.

Every source is trained with the same budget from the same initial weights
(per seed), validated on the real valid item of every user, and its best
checkpoint is tested on the real test item of every user with the user's
train + valid history as input. Outputs: out_dir/summary.json (metrics, mean
and std over seeds, the synthetic/real ratio), out_dir/timings.json, and one
MLflow metric per (source, metric) through the given Tracker.
"""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from synthrec.configtools import config_hash, to_dict
from synthrec.datasets.prepared import PreparedData
from synthrec.errors import SynthrecError
from synthrec.io import atomic_path, write_json, write_text
from synthrec.sasrec.config import SasrecConfig
from synthrec.sasrec.data import (
    BatchStream,
    EvalSet,
    SequencePool,
    make_eval_set,
    make_pool,
    train_sequences,
)
from synthrec.sasrec.evaluate import evaluate
from synthrec.sasrec.metrics import SAMPLED_NEGATIVES, sample_negatives, tracking_key
from synthrec.sasrec.train import build_model, resolve_device, train_model
from synthrec.tracking import Tracker

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
TIMINGS_FILE = "timings.json"
TABLE_FILE = "table.txt"
RUNS_FILE = "runs.json"


# -- aggregation (pure) ---------------------------------------------------------------


def mean_and_std(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
    """{metric: mean, metric_std: population std} over seeds (std 0 for one seed)."""
    out: dict[str, float] = {}
    for name in per_seed[0]:
        values = np.array([run[name] for run in per_seed], dtype=np.float64)
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std())
    return out


def ratio(numerator: dict[str, float], denominator: dict[str, float]) -> dict[str, Any]:
    """Per-metric numerator / denominator of the means; None where it is 0."""
    return {
        name: (numerator[name] / value if value else None)
        for name, value in denominator.items()
        if not name.endswith("_std")
    }


# -- sources --------------------------------------------------------------------------


def _pools_and_shares(
    cfg: SasrecConfig,
    real: SequencePool,
    synthetic: SequencePool | None,
) -> dict[str, tuple[list[SequencePool], list[float]]]:
    """Which pools each configured source draws from, and in what shares."""
    plans: dict[str, tuple[list[SequencePool], list[float]]] = {}
    for source in cfg.train_on:
        if source == "real":
            plans[source] = ([real], [1.0])
        elif synthetic is None:
            log.warning(
                "SASRec: no synthetic sequences given; skipping source %r", source
            )
        elif source == "synthetic":
            plans[source] = ([synthetic], [1.0])
        else:
            share = cfg.mix_synthetic_fraction
            plans[source] = ([real, synthetic], [1.0 - share, share])
    return plans


def _synthetic_pool(
    sequences: list[np.ndarray] | None,
    num_items: int,
    max_seq_len: int,
    windows: Literal["last", "all"],
) -> SequencePool | None:
    if sequences is None:
        return None
    pool = make_pool(sequences, max_seq_len, "synthetic", windows)
    if int(pool.windows.max()) > num_items:
        raise SynthrecError(
            f"synthetic sequences contain item id {int(pool.windows.max())} > n_items "
            f"{num_items}; walks must use the prepared data's item_idx"
        )
    return pool


# -- one training run -------------------------------------------------------------------


def _train_and_test(
    source: str,
    plan: tuple[list[SequencePool], list[float]],
    sets: tuple[EvalSet, EvalSet],
    negatives: tuple[np.ndarray | None, np.ndarray | None],
    cfg: SasrecConfig,
    num_items: int,
    seed: int,
    out_dir: Path,
    tracker: Tracker,
) -> tuple[dict[str, Any], float]:
    """Train on `source` with `seed`; return the best checkpoint's test metrics."""
    valid_set, test_set = sets
    torch.manual_seed(seed)  # same seed -> same initial weights for every source
    model = build_model(cfg, num_items).to(resolve_device(cfg.device))
    stream = BatchStream(plan[0], plan[1], cfg.batch_size, np.random.default_rng(seed))
    result = train_model(
        model,
        stream,
        valid_set,
        cfg,
        seed,
        tracker,
        f"{source}/seed{seed}",
        negatives[0],
    )

    model.load_state_dict(result.best_state)
    test = evaluate(model, test_set, cfg, negatives[1])
    if cfg.save_checkpoints:
        with atomic_path(out_dir / source / f"seed{seed}" / "best.pt") as tmp:
            torch.save(result.best_state, tmp)
    run = {
        "source": source,
        "seed": seed,
        "test": test,
        "best_valid": result.best_valid,
        "best_step": result.best_step,
        "steps": result.steps,
        "items_seen": result.items_seen,
        "stopped_early": result.stopped_early,
        "curve": result.curve,
    }
    log.info("SASRec %s seed %d: test %s", source, seed, _short(test))
    return run, result.seconds


# -- the comparison -----------------------------------------------------------------------


def run_comparison(
    prepared: PreparedData,
    synthetic_sequences: list[np.ndarray] | None,
    cfg: SasrecConfig,
    out_dir: Path,
    tracker: Tracker,
    seed: int,
) -> dict[str, Any]:
    """Train SASRec per source and seed; test all on the same real interactions."""
    cfg.validate()
    threads = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _compare(
            prepared, synthetic_sequences, cfg, Path(out_dir), tracker, seed
        )
    finally:
        torch.set_num_threads(threads)


def _compare(
    prepared: PreparedData,
    synthetic_sequences: list[np.ndarray] | None,
    cfg: SasrecConfig,
    out_dir: Path,
    tracker: Tracker,
    seed: int,
) -> dict[str, Any]:
    num_items = prepared.n_items

    # Data: real train windows, synthetic windows, and the two real eval sets.
    real = make_pool(
        train_sequences(prepared), cfg.max_seq_len, "real train", cfg.train_windows
    )
    synthetic = _synthetic_pool(
        synthetic_sequences, num_items, cfg.max_seq_len, cfg.train_windows
    )
    plans = _pools_and_shares(cfg, real, synthetic)
    valid_set = make_eval_set(prepared, ("train",), "valid")
    test_set = make_eval_set(prepared, ("train", "valid"), "test")
    seeds = [seed + i for i in range(cfg.num_seeds)]
    log.info(
        "SASRec: sources %s, seeds %s, protocol %s, %d valid / %d test users, "
        "%d items; real %d sequences / %d target items%s",
        list(plans),
        seeds,
        cfg.protocol,
        len(valid_set),
        len(test_set),
        num_items,
        len(real),
        real.num_target_items,
        ""
        if synthetic is None
        else f"; synthetic {len(synthetic)} / {synthetic.num_target_items}",
    )
    tracker.log_params({"sasrec." + k: v for k, v in to_dict(cfg).items()})

    # Train and test every (source, seed); negatives are shared across sources.
    runs, seconds = [], {}
    for run_seed in seeds:
        negatives = _protocol_negatives(cfg, (valid_set, test_set), num_items, run_seed)
        for source, plan in plans.items():
            run, secs = _train_and_test(
                source,
                plan,
                (valid_set, test_set),
                negatives,
                cfg,
                num_items,
                run_seed,
                out_dir,
                tracker,
            )
            runs.append(run)
            seconds[f"{source}/seed{run_seed}"] = round(secs, 3)

    summary = _summarize(cfg, runs, list(plans), (valid_set, test_set), real, synthetic)
    write_json(out_dir / RUNS_FILE, runs)
    _write_outputs(summary, seconds, out_dir, tracker)
    return summary


def _protocol_negatives(
    cfg: SasrecConfig, sets: tuple[EvalSet, EvalSet], num_items: int, seed: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if cfg.protocol == "full_ranking":
        return None, None
    rng = np.random.default_rng([seed, SAMPLED_NEGATIVES])
    valid_set, test_set = sets
    return (
        sample_negatives(rng, valid_set.histories, valid_set.targets, num_items),
        sample_negatives(rng, test_set.histories, test_set.targets, num_items),
    )


def _summarize(
    cfg: SasrecConfig,
    runs: list[dict[str, Any]],
    sources: list[str],
    sets: tuple[EvalSet, EvalSet],
    real: SequencePool,
    synthetic: SequencePool | None,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "protocol": cfg.protocol,
        "exclude_history": cfg.exclude_history,
        "seeds": sorted({run["seed"] for run in runs}),
        "num_valid_users": len(sets[0]),
        "num_test_users": len(sets[1]),
        "train_sequences": {"real": len(real)},
        "train_target_items": {"real": real.num_target_items},
        "config_hash": config_hash(cfg),
    }
    if synthetic is not None:
        summary["train_sequences"]["synthetic"] = len(synthetic)
        summary["train_target_items"]["synthetic"] = synthetic.num_target_items
    for source in sources:
        summary[source] = mean_and_std(
            [r["test"] for r in runs if r["source"] == source]
        )
    for source in sources:
        if source != "real" and "real" in summary:
            summary[f"ratio_{source}_over_real"] = ratio(
                summary[source], summary["real"]
            )
    # Per-run test metrics stay in the summary; curves go to runs.json.
    summary["runs"] = [{k: v for k, v in r.items() if k != "curve"} for r in runs]
    return summary


def _write_outputs(
    summary: dict[str, Any], seconds: dict[str, float], out_dir: Path, tracker: Tracker
) -> None:
    write_json(out_dir / SUMMARY_FILE, summary)
    write_json(out_dir / TIMINGS_FILE, seconds)
    write_text(out_dir / TABLE_FILE, format_table(summary))
    prefix = (
        "sasrec"
        if summary["protocol"] == "full_ranking"
        else (f"sasrec/{summary['protocol']}")
    )
    metrics = {
        f"{prefix}/{source}/{tracking_key(name)}": value
        for source in ("real", "synthetic", "mix")
        if source in summary
        for name, value in summary[source].items()
    }
    tracker.log_metrics(metrics)
    tracker.set_tags({"sasrec.protocol": summary["protocol"]})
    tracker.log_artifact(out_dir / SUMMARY_FILE)
    tracker.log_artifact(out_dir / TABLE_FILE)


# -- the printed table ------------------------------------------------------------------


def format_table(summary: dict[str, Any]) -> str:
    """Real vs synthetic vs mix per metric (mean ± std) with the ratio to real."""
    sources = [s for s in ("real", "synthetic", "mix") if s in summary]
    ratios = [s for s in sources if s != "real" and f"ratio_{s}_over_real" in summary]
    first = summary[sources[0]]
    names = [n for n in first if not n.endswith("_std")]
    protocol = summary["protocol"]
    note = "" if protocol == "full_ranking" else "  (SAMPLED: 100 negatives per user)"
    lines = [
        f"SASRec on real test interactions: protocol {protocol}{note}, "
        f"{summary['num_test_users']} users, seeds {summary['seeds']}",
        f"{'metric':<12}"
        + "".join(f"{s:>20}" for s in sources)
        + "".join(f"{s + '/real':>16}" for s in ratios),
    ]
    for name in names:
        cells = "".join(
            f"{summary[s][name]:>11.4f} ± {summary[s][name + '_std']:<6.4f}"
            for s in sources
        )
        rcells = "".join(
            _ratio_cell(summary[f"ratio_{s}_over_real"][name]) for s in ratios
        )
        lines.append(f"{name:<12}{cells}{rcells}")
    return "\n".join(lines) + "\n"


def _ratio_cell(value: float | None) -> str:
    return f"{'n/a':>16}" if value is None else f"{value:>16.2f}"


def _short(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
