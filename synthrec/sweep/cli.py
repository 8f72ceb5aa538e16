"""`synthrec sweep plan|run SPEC` and `synthrec ui RUN_DIR`."""

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from synthrec.errors import SynthrecError

if TYPE_CHECKING:
    from synthrec.config import RunConfig

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="plan or run a scaling sweep (Ray Tune)")
    sweep_sub = sweep.add_subparsers(dest="sweep_command", metavar="SWEEP_COMMAND")

    plan = sweep_sub.add_parser(
        "plan",
        help="print the trials with estimated FLOPs and GPU-hours",
        description="Expand SPEC's sweep grid and print every trial, its id, "
        "estimated training FLOPs and GPU-hours; nothing runs.",
    )
    plan.add_argument("spec", help="run config YAML with a sweep: section")
    plan.add_argument(
        "--out", default=None, help="run folder (default: out_dir in the spec)"
    )
    plan.set_defaults(func=_plan)

    run = sweep_sub.add_parser(
        "run",
        help="run the sweep's trials on Ray Tune",
        description="Prepare (or reuse) the corpus and tokenizer in OUT, then run "
        "every trial of SPEC's grid; writes OUT/sweep/curves.parquet.",
    )
    run.add_argument("spec", help="run config YAML with a sweep: section")
    run.add_argument("--out", required=True, help="run folder")
    run.add_argument(
        "--corpus",
        default=None,
        help="an existing corpus folder (with --tokenizer): skip the data stages",
    )
    run.add_argument("--tokenizer", default=None, help="an existing tokenizer folder")
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue a sweep in OUT: skip finished trials",
    )
    run.set_defaults(func=_run)
    sweep.set_defaults(func=lambda _args: sweep.print_help() or 2)

    ui = sub.add_parser(
        "ui",
        help="open the MLflow UI of a run folder on 127.0.0.1",
        description="Serve RUN_DIR/mlflow.db with the MLflow UI on 127.0.0.1.",
    )
    ui.add_argument("run_dir", help="a run folder holding mlflow.db")
    ui.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    ui.set_defaults(func=_ui)


def _plan(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.sweep.plan import format_plan, plan_grid, plan_vocab_size

    cfg = load_config(args.spec)
    run_dir = Path(args.out or cfg.out_dir)
    tokenizer_dir = run_dir / "tokenizer"
    planned = plan_grid(cfg, run_dir / "corpus", tokenizer_dir, run_dir)
    vocab = plan_vocab_size(cfg, tokenizer_dir)
    print(format_plan(planned, cfg.sweep.assumed_flops_per_gpu_s, vocab))
    return 0


def _run(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.raylocal import init_ray, shutdown_ray
    from synthrec.sweep.runner import run_sweep
    from synthrec.tracking import Tracker

    cfg = load_config(args.spec)
    run_dir = Path(args.out)
    _refuse_silent_resume(run_dir, args.resume)
    corpus_dir, tokenizer_dir = _inputs(cfg, run_dir, args.corpus, args.tokenizer)
    tracker = Tracker.from_config(cfg.tracking, run_dir)
    init_ray(cfg.ray, run_dir)
    try:
        curves = run_sweep(cfg, corpus_dir, tokenizer_dir, run_dir, tracker)
    finally:
        shutdown_ray()
    print(
        f"{curves['trial_id'].nunique()} trials, {len(curves)} curve points: "
        f"{run_dir / 'sweep' / 'curves.parquet'}"
    )
    return 0


def _inputs(
    cfg: "RunConfig", run_dir: Path, corpus: str | None, tokenizer: str | None
) -> tuple[Path, Path]:
    # Given folders are used as they are; otherwise data -> ... -> tokenizer run.
    if (corpus is None) != (tokenizer is None):
        raise SynthrecError("give both --corpus and --tokenizer, or neither")
    if corpus is not None and tokenizer is not None:
        return Path(corpus), Path(tokenizer)
    from synthrec.pipeline import prepare_inputs

    return prepare_inputs(cfg, run_dir)


def _refuse_silent_resume(run_dir: Path, resume: bool) -> None:
    # A second `run` into the same folder must say that it means to continue.
    trials = run_dir / "sweep" / "trials"
    finished = list(trials.glob("*/record.json")) if trials.is_dir() else []
    if finished and not resume:
        raise SynthrecError(
            f"{run_dir} already holds a sweep with {len(finished)} finished trials; "
            "pass --resume to continue it, or choose another --out"
        )


def _ui(args: argparse.Namespace) -> int:
    from synthrec.sweep.ui import serve_ui

    return serve_ui(Path(args.run_dir), args.port)
