"""`synthrec run CONFIG [--out DIR]`: the main job from one YAML file."""

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run",
        help="run the whole method on one config (data -> ... -> fits)",
        description="Run every stage on CONFIG and write OUT/summary.json. "
        "Stages whose outputs exist for the same config are reused.",
    )
    parser.add_argument("config", help="run config YAML, e.g. sweeps/local.yaml")
    parser.add_argument(
        "--out", default=None, help="output folder (default: out_dir in the config)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.pipeline import format_summary, run_pipeline

    cfg = load_config(args.config)
    out = Path(args.out or cfg.out_dir)
    summary = run_pipeline(cfg, out)
    print(format_summary(summary), end="")
    print(f"summary: {out / 'summary.json'}")
    return 0
