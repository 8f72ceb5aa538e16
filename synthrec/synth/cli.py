"""`synthrec generate CONFIG --out RUN`: data -> semantic IDs -> RUN/corpus."""

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CORPUS_DIR = "corpus"


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
    from synthrec.raylocal import init_ray, shutdown_ray
    from synthrec.synth.corpus import generate_corpus

    cfg = load_config(args.config)
    out = Path(args.out)
    prepared = _prepared(cfg, out / "data")
    sids = _semantic_ids(cfg, out / "sids", prepared)
    init_ray(cfg.ray, out)
    try:
        manifest = generate_corpus(
            prepared, sids, cfg.synth, out / CORPUS_DIR, cfg.seed
        )
    finally:
        shutdown_ray()
    _print_totals(manifest)
    print(f"corpus: {out / CORPUS_DIR}")
    return 0


def _prepared(cfg: Any, data_dir: Path) -> Any:
    from synthrec.datasets import load_prepared, prepare_dataset
    from synthrec.datasets.prepared import MANIFEST_FILE

    if (data_dir / MANIFEST_FILE).is_file():
        log.info("generate: reusing prepared data in %s", data_dir)
        return load_prepared(data_dir)
    return prepare_dataset(cfg.data, data_dir, cfg.seed)


def _semantic_ids(cfg: Any, sids_dir: Path, prepared: Any) -> Any:
    from synthrec.sids import fit_semantic_ids
    from synthrec.sids.semantic_ids import META_FILE, SemanticIds
    from synthrec.synth.corpus import training_sequences

    if (sids_dir / META_FILE).is_file():
        log.info("generate: reusing semantic IDs in %s", sids_dir)
        return SemanticIds.load(sids_dir)
    sids = fit_semantic_ids(
        prepared.items,
        prepared.train_item_idx(),
        cfg.sids,
        cfg.seed,
        # Held-out users stay unseen by the SIDs too (uih_real).
        train_sequences=training_sequences(prepared, cfg.synth, cfg.seed),
    )
    sids.save(sids_dir)
    return sids


def _print_totals(manifest: dict[str, Any]) -> None:
    print(f"{'split':<6} {'name':<16} {'rows':>10} {'tokens':>12}")
    for split in ("train", "eval"):
        for name, t in sorted(manifest["totals"][split].items()):
            print(f"{split:<6} {name:<16} {t['rows']:>10,} {t['tokens']:>12,}")
