"""`synthrec sasrec CONFIG --out DIR`: SASRec on real vs synthetic histories.

Prepares the data (or reuses OUT/data), takes the synthetic walks from a
generated corpus (`--corpus`) or draws them in-process from the train item
graph with the config's synth.graph and synth.walks settings, runs the
comparison into OUT/sasrec and prints the table.
"""

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SASREC_DIR = "sasrec"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sasrec",
        help="train SASRec on real vs synthetic histories; test on real interactions",
    )
    parser.add_argument("config", help="run config YAML (data, synth, sasrec, seed)")
    parser.add_argument(
        "--out",
        required=True,
        help="run folder: reads/writes OUT/data, writes OUT/sasrec",
    )
    parser.add_argument(
        "--corpus",
        default=None,
        help="a generated corpus folder to read the uih walks from "
        "(default: draw walks from the train item graph)",
    )
    parser.add_argument(
        "--num-seeds", type=int, default=None, help="override sasrec.num_seeds"
    )
    parser.add_argument(
        "--protocol",
        choices=["full_ranking", "sampled_100"],
        default=None,
        help="override sasrec.protocol",
    )
    parser.set_defaults(func=_sasrec)


def _sasrec(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.pipeline import prepare_data
    from synthrec.sasrec.compare import format_table, run_comparison
    from synthrec.tracking import Tracker

    cfg = load_config(args.config, {"sasrec": _overrides(args)})
    out = Path(args.out)
    prepared = prepare_data(cfg, out)
    walks = _walks(cfg, prepared, args.corpus)
    tracker = Tracker.from_config(cfg.tracking, out)
    with tracker.run("sasrec", tags={"synthrec.kind": "sasrec"}) as run:
        summary = run_comparison(
            prepared, walks, cfg.sasrec, out / SASREC_DIR, run, cfg.seed
        )
    print(format_table(summary), end="")
    print(f"summary: {out / SASREC_DIR / 'summary.json'}")
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.num_seeds is not None:
        overrides["num_seeds"] = args.num_seeds
    if args.protocol is not None:
        overrides["protocol"] = args.protocol
    return overrides


def _walks(cfg: Any, prepared: Any, corpus: str | None) -> list[np.ndarray]:
    """Synthetic histories: a corpus's uih walks, or node2vec walks drawn here."""
    from synthrec.synth import build_item_graph, random_walks, training_sequences

    if corpus is not None:
        from synthrec.synth import read_walk_sequences

        return read_walk_sequences(corpus)
    train = training_sequences(prepared, cfg.synth, cfg.seed)
    graph = build_item_graph(train, prepared.n_items, cfg.synth.graph)
    walks = random_walks(graph, cfg.synth.walks, cfg.seed).to_list()
    log.info(
        "sasrec: drew %d node2vec walks (p=%s, q=%s) over the train item graph",
        len(walks),
        cfg.synth.walks.p,
        cfg.synth.walks.q,
    )
    return walks
