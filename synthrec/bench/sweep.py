"""Scheduling overhead of a sweep on Ray Tune vs calling run_trial in a loop.

Both sides run the same tiny trials (real `lm.run_trial`, local CPU path) on
a corpus written from scratch, one trial at a time, tracking off, each from
a cold start (fresh process state on the Tune side, fresh output folders on
both). Baseline: a plain Python loop over `run_trial` in this process.
Reported: wall time, time inside run_trial, per-trial overhead of Tune over
the loop, and the share of wall time spent outside training. Ray start-up is
timed separately (the sweep assumes a running Ray).

    python -m synthrec.bench sweep [--trials-per-size 4] [--out DIR]
"""

import argparse
import logging
import tempfile
import time
from pathlib import Path

from synthrec.config import RayConfig, RunConfig
from synthrec.configtools import from_dict
from synthrec.sweep.tinycorpus import TINY_LM, TINY_MODEL_SIZES

log = logging.getLogger(__name__)

_SIZES = TINY_MODEL_SIZES
_LM = TINY_LM


def _config(trials_per_size: int, concurrency: int) -> RunConfig:
    budgets = [256 * 2**i for i in range(trials_per_size)]
    return from_dict(
        RunConfig,
        {
            "lm": _LM,
            "sweep": {
                "model_sizes": _SIZES,
                "token_budgets": budgets,
                "max_concurrent_trials": concurrency,
            },
            "tracking": {"enabled": False},
        },
    )


def _baseline(cfg: RunConfig, corpus: Path, tokenizer: Path, run_dir: Path) -> dict:
    """The named baseline: run_trial on every planned trial in a Python loop."""
    from synthrec.lm import run_trial
    from synthrec.sweep import plan_trials

    trials = plan_trials(cfg, corpus, tokenizer, run_dir)
    train_s = 0.0
    started = time.perf_counter()
    for trial in trials:
        trial.tracking.enabled = False
        t0 = time.perf_counter()
        run_trial(trial)
        train_s += time.perf_counter() - t0
    wall = time.perf_counter() - started
    return {"trials": len(trials), "wall_s": wall, "train_s": train_s}


def _tune(cfg: RunConfig, corpus: Path, tokenizer: Path, run_dir: Path) -> dict:
    from synthrec.io import read_json
    from synthrec.sweep import run_sweep
    from synthrec.tracking import Tracker

    started = time.perf_counter()
    curves = run_sweep(cfg, corpus, tokenizer, run_dir, Tracker.disabled())
    wall = time.perf_counter() - started
    timings = read_json(run_dir / "sweep" / "timings.json")
    return {
        "trials": int(curves["trial_id"].nunique()),
        "wall_s": wall,
        "train_s": timings["train_s_sum"],
        "concurrency": timings["concurrency"],
    }


def _report(name: str, row: dict) -> None:
    outside = 1.0 - row["train_s"] / (row["wall_s"] * row.get("concurrency", 1))
    print(
        f"{name:<28} trials={row['trials']:>2}  wall={row['wall_s']:7.2f} s  "
        f"in run_trial={row['train_s']:7.2f} s  "
        f"per trial={row['wall_s'] / row['trials']:5.2f} s  "
        f"outside training={outside:6.1%}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthrec.bench sweep")
    parser.add_argument("--trials-per-size", type=int, default=4)
    parser.add_argument("--out", default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args(argv)

    from synthrec.raylocal import init_ray, shutdown_ray
    from synthrec.sweep.tinycorpus import write_tiny_corpus

    root = Path(args.out or tempfile.mkdtemp(prefix="synthrec-bench-sweep-"))
    corpus, tokenizer = write_tiny_corpus(root / "inputs")
    serial = _config(args.trials_per_size, 1)

    loop = _baseline(serial, corpus, tokenizer, root / "loop")
    t0 = time.perf_counter()
    init_ray(RayConfig(num_cpus=2, object_store_memory_bytes=256 * 1024**2), root)
    ray_start_s = time.perf_counter() - t0
    try:
        tune1 = _tune(serial, corpus, tokenizer, root / "tune1")
        tune2 = _tune(
            _config(args.trials_per_size, 2), corpus, tokenizer, root / "tune2"
        )
    finally:
        shutdown_ray()

    print(f"work folder: {root}; Ray start-up (not counted below): {ray_start_s:.1f} s")
    _report("baseline: run_trial loop", loop)
    _report("Ray Tune, 1 at a time", tune1)
    _report("Ray Tune, 2 at a time", tune2)
    overhead = (tune1["wall_s"] - loop["wall_s"]) / loop["trials"]
    print(
        f"Tune scheduling overhead per trial vs the loop (1 at a time): "
        f"{overhead:+.2f} s (goal < 2 s); Tune/loop wall ratio "
        f"{tune1['wall_s'] / loop['wall_s']:.2f}x"
    )
    return 0
