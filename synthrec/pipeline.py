"""The main job: real log -> semantic IDs -> synthetic corpus -> SASRec -> sweep -> fits.

`run_pipeline` calls each stage's one public function in order and records
what each took. Stages whose outputs already exist for the same inputs are
reused (a stage marker holds the hash of everything that determines them), so
an interrupted run resumes where it stopped.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from synthrec.config import RunConfig
from synthrec.configtools import config_hash, to_dict
from synthrec.io import read_json, write_json, write_text
from synthrec.tracking import Tracker

log = logging.getLogger(__name__)

T = TypeVar("T")

STAGES_DIR = ".stages"
SUMMARY_FILE = "summary.json"
SUMMARY_TABLE_FILE = "summary.txt"


@dataclass
class StageClock:
    """Wall time per stage, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, fn: Callable[[], T]) -> T:
        log.info("stage %s: start", name)
        start = time.perf_counter()
        result = fn()
        self.seconds[name] = round(time.perf_counter() - start, 3)
        log.info("stage %s: done in %.1f s", name, self.seconds[name])
        return result


# -- stage reuse ------------------------------------------------------------


def _stage_key(cfg: RunConfig, *sections: str) -> str:
    """Hash of the config sections (and seed) that determine a stage's output."""
    return config_hash(
        {"seed": cfg.seed, **{s: to_dict(getattr(cfg, s)) for s in sections}}
    )


def _is_done(run_dir: Path, stage: str, key: str) -> bool:
    marker = run_dir / STAGES_DIR / f"{stage}.json"
    return marker.is_file() and read_json(marker).get("key") == key


def _mark_done(run_dir: Path, stage: str, key: str) -> None:
    write_json(run_dir / STAGES_DIR / f"{stage}.json", {"key": key})


# -- stages -----------------------------------------------------------------


def prepare_data(cfg: RunConfig, run_dir: Path) -> Any:
    from synthrec.datasets import prepare_dataset

    return prepare_dataset(cfg.data, run_dir / "data", cfg.seed)


def semantic_ids(cfg: RunConfig, run_dir: Path, prepared: Any) -> Any:
    from synthrec.sids import fit_semantic_ids
    from synthrec.sids.semantic_ids import SemanticIds
    from synthrec.synth import training_sequences

    out = run_dir / "sids"
    # The synth config decides which users are held out of every training structure.
    key = _stage_key(cfg, "data", "sids", "synth")
    if _is_done(run_dir, "sids", key):
        log.info("semantic IDs: reusing %s", out)
        return SemanticIds.load(out)
    sids = fit_semantic_ids(
        prepared.items,
        prepared.train_item_idx(),
        cfg.sids,
        cfg.seed,
        train_sequences=training_sequences(prepared, cfg.synth, cfg.seed),
    )
    sids.save(out)
    _mark_done(run_dir, "sids", key)
    return sids


def synthetic_corpus(cfg: RunConfig, run_dir: Path, prepared: Any, sids: Any) -> Path:
    from synthrec.raylocal import init_ray
    from synthrec.synth import generate_corpus

    out = run_dir / "corpus"
    key = _stage_key(cfg, "data", "sids", "synth")
    if _is_done(run_dir, "corpus", key):
        log.info("synthetic corpus: reusing %s", out)
        return out
    init_ray(cfg.ray, run_dir)
    generate_corpus(prepared, sids, cfg.synth, out, cfg.seed)
    _mark_done(run_dir, "corpus", key)
    return out


def lm_tokenizer(cfg: RunConfig, run_dir: Path, corpus_dir: Path, sids: Any) -> Path:
    from synthrec.lm import build_tokenizer

    out = run_dir / "tokenizer"
    key = config_hash(
        {
            "corpus": _stage_key(cfg, "data", "sids", "synth"),
            "tokenizer": cfg.lm.tokenizer,
            "bpe": cfg.lm.bpe_vocab_size,
            "max_vocab": cfg.lm.max_vocab_size,
        }
    )
    if not _is_done(run_dir, "tokenizer", key):
        build_tokenizer(
            corpus_dir,
            sids.special_tokens(),
            out,
            kind=cfg.lm.tokenizer,
            bpe_vocab_size=cfg.lm.bpe_vocab_size,
            max_vocab_size=cfg.lm.max_vocab_size,
        )
        _mark_done(run_dir, "tokenizer", key)
    return out


def prepare_inputs(cfg: RunConfig, run_dir: str | Path) -> tuple[Path, Path]:
    """Run (or reuse) data -> SIDs -> corpus -> tokenizer; return (corpus, tokenizer) dirs."""
    run_dir = Path(run_dir)
    prepared = prepare_data(cfg, run_dir)
    sids = semantic_ids(cfg, run_dir, prepared)
    corpus_dir = synthetic_corpus(cfg, run_dir, prepared, sids)
    return corpus_dir, lm_tokenizer(cfg, run_dir, corpus_dir, sids)


def sasrec_comparison(
    cfg: RunConfig, run_dir: Path, prepared: Any, corpus_dir: Path, tracker: Tracker
) -> dict[str, Any]:
    from synthrec.sasrec import run_comparison
    from synthrec.synth import read_walk_sequences

    out = run_dir / "sasrec"
    key = _stage_key(cfg, "data", "sids", "synth", "sasrec")
    if _is_done(run_dir, "sasrec", key):
        log.info("SASRec: reusing %s", out / SUMMARY_FILE)
        return read_json(out / SUMMARY_FILE)
    walks = read_walk_sequences(corpus_dir)
    with tracker.run("sasrec", parent_run_id=tracker.run_id) as child:
        result = run_comparison(prepared, walks, cfg.sasrec, out, child, cfg.seed)
    _mark_done(run_dir, "sasrec", key)
    return result


def scaling_sweep(
    cfg: RunConfig,
    run_dir: Path,
    corpus_dir: Path,
    tokenizer_dir: Path,
    tracker: Tracker,
) -> Any:
    from synthrec.raylocal import init_ray
    from synthrec.sweep import run_sweep

    init_ray(cfg.ray, run_dir)
    return run_sweep(cfg, corpus_dir, tokenizer_dir, run_dir, tracker)


def scaling_fits(cfg: RunConfig, run_dir: Path, curves: Any, tracker: Tracker) -> dict:
    from synthrec.scaling import fit_curves, write_report

    fits = fit_curves(curves, cfg.scaling)
    with tracker.run("fit", parent_run_id=tracker.run_id) as child:
        write_report(fits, curves, run_dir / "fits", child)
    return fits


# -- the whole run ----------------------------------------------------------


def run_pipeline(cfg: RunConfig, run_dir: str | Path) -> dict[str, Any]:
    """Run every stage on `cfg`, write RUN/summary.json, and return the summary."""
    from synthrec.raylocal import shutdown_ray

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", to_dict(cfg))
    log.info(
        "run %s: config hash %s, seed %d, output %s",
        cfg.name,
        config_hash(cfg),
        cfg.seed,
        run_dir.resolve(),
    )

    clock = StageClock()
    root = Tracker.from_config(cfg.tracking, run_dir)
    tracker = root.start_run(cfg.name, tags={"synthrec.kind": "pipeline"})
    tracker.log_params(
        {"config_hash": config_hash(cfg), "seed": cfg.seed, "dataset": cfg.data.dataset}
    )
    try:
        prepared = clock.timed("data", lambda: prepare_data(cfg, run_dir))
        sids = clock.timed("sids", lambda: semantic_ids(cfg, run_dir, prepared))
        corpus_dir = clock.timed(
            "synth", lambda: synthetic_corpus(cfg, run_dir, prepared, sids)
        )
        sasrec = clock.timed(
            "sasrec",
            lambda: sasrec_comparison(cfg, run_dir, prepared, corpus_dir, tracker),
        )
        tokenizer_dir = clock.timed(
            "tokenizer", lambda: lm_tokenizer(cfg, run_dir, corpus_dir, sids)
        )
        curves = clock.timed(
            "sweep",
            lambda: scaling_sweep(cfg, run_dir, corpus_dir, tokenizer_dir, tracker),
        )
        fits = clock.timed("fit", lambda: scaling_fits(cfg, run_dir, curves, tracker))
    except BaseException:
        tracker.end_run("FAILED")
        raise
    finally:
        shutdown_ray()

    summary = build_summary(cfg, sasrec, fits, clock.seconds)
    write_json(run_dir / SUMMARY_FILE, summary)
    write_text(run_dir / SUMMARY_TABLE_FILE, format_summary(summary))
    tracker.log_metrics({f"timings/{k}": v for k, v in summary["timings"].items()})
    tracker.log_artifact(run_dir / SUMMARY_FILE)
    tracker.end_run()
    return summary


def build_summary(
    cfg: RunConfig,
    sasrec: dict[str, Any],
    fits: dict[str, Any],
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The output contract: sasrec.*, fits.<eval_set>.*, timings.<stage>_s."""
    timings = {f"{name}_s": s for name, s in seconds.items()}
    timings["total_s"] = round(sum(seconds.values()), 3)
    return {
        "name": cfg.name,
        "config_hash": config_hash(cfg),
        "seed": cfg.seed,
        "sasrec": sasrec,
        "fits": {name: _headline_fit(fit) for name, fit in fits.items()},
        "timings": timings,
    }


def _headline_fit(fit: dict[str, Any]) -> dict[str, Any]:
    """A fit without its bootstrap samples (they stay in fits/fit.json)."""
    return {k: v for k, v in fit.items() if k != "samples"}


def format_summary(summary: dict[str, Any]) -> str:
    """A short, fixed-width table of the headline numbers."""
    protocol = summary["sasrec"].get("protocol", "full_ranking")
    lines = [
        f"SASRec on real held-out interactions (protocol: {protocol})",
        f"{'metric':<14}{'real':>10}{'synthetic':>12}{'synth/real':>12}",
    ]
    real, synth = (
        summary["sasrec"].get("real", {}),
        summary["sasrec"].get("synthetic", {}),
    )
    for metric in ("recall@10", "recall@100", "ndcg@10"):
        r, s = real.get(metric), synth.get(metric)
        ratio = f"{s / r:>12.2f}" if r and s is not None else f"{'n/a':>12}"
        lines.append(f"{metric:<14}{_num(r):>10}{_num(s):>12}{ratio}")

    lines += [
        "",
        "Scaling fits: L(N, D) = E + A N^-alpha + B D^-beta; held-out = mean abs."
        " relative error predicting the largest N / largest D from the rest",
        f"{'eval set':<18}{'E':>8}{'alpha':>8}{'beta':>8}{'held-out N':>12}"
        f"{'held-out D':>12}  per-size alpha of L(D)",
    ]
    for eval_set, fit in sorted(summary["fits"].items()):
        joint = fit.get("joint") or {}
        per_size = fit.get("per_size") or {}
        alphas = ", ".join(
            f"{_short_n(n)}:{_num(v.get('alpha'), 3)}"
            for n, v in sorted(per_size.items(), key=lambda kv: float(kv[0]))
        )
        error = joint.get("error") or fit.get("error")
        note = f"  (joint fit: {error})" if error or not joint else ""
        holdout = fit.get("holdout") or {}
        held_n, held_d = (
            _pct((holdout.get(k) or {}).get("mean_abs_rel_error"))
            for k in ("largest_n", "largest_d")
        )
        lines.append(
            f"{eval_set:<18}{_num(joint.get('E'), 3):>8}"
            f"{_num(joint.get('alpha'), 3):>8}{_num(joint.get('beta'), 3):>8}"
            f"{held_n:>12}{held_d:>12}  {alphas}{note}"
        )

    lines += [
        "",
        "Timings (s): "
        + ", ".join(f"{k[:-2]} {v:.1f}" for k, v in summary["timings"].items()),
    ]
    return "\n".join(lines) + "\n"


def _num(value: Any, digits: int = 4) -> str:
    if value is None or not isinstance(value, (int, float)):
        return "-"
    return f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    """A held-out relative error as a percentage ('-' when it was not run)."""
    return f"{100 * value:.2f}%" if isinstance(value, (int, float)) else "-"


def _short_n(n: str) -> str:
    value = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"
