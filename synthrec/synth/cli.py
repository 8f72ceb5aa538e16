"""`synthrec generate CONFIG --out RUN`: data -> semantic IDs -> RUN/corpus."""

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "generate",
        help="generate the layered synthetic corpus (prepares data and SIDs if needed)",
    )
    parser.add_argument("config", help="run config YAML (data, sids, synth, ray, seed)")
    parser.add_argument(
        "--out",
        required=True,
        help="run folder: reads/writes OUT/data, OUT/sids; writes OUT/corpus",
    )
    parser.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.io import read_json
    from synthrec.pipeline import prepare_data, semantic_ids, synthetic_corpus
    from synthrec.raylocal import shutdown_ray
    from synthrec.synth.corpus import MANIFEST_FILE

    # The pipeline's stage functions: each reuses its outputs only when the
    # config that made them is unchanged.
    cfg = load_config(args.config)
    out = Path(args.out)
    prepared = prepare_data(cfg, out)
    sids = semantic_ids(cfg, out, prepared)
    try:
        corpus = synthetic_corpus(cfg, out, prepared, sids)
    finally:
        shutdown_ray()
    _print_totals(read_json(corpus / MANIFEST_FILE))
    print(f"corpus: {corpus}")
    return 0


def _print_totals(manifest: dict[str, Any]) -> None:
    print(f"{'split':<6} {'name':<16} {'rows':>10} {'tokens':>12}")
    for split in ("train", "eval"):
        for name, t in sorted(manifest["totals"][split].items()):
            print(f"{split:<6} {name:<16} {t['rows']:>10,} {t['tokens']:>12,}")
