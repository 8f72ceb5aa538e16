"""The quality report of one fitted tokeniser: a JSON-ready dict and a table."""

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from synthrec.sids import quality
from synthrec.sids.base import Encoded
from synthrec.sids.config import SidConfig

log = logging.getLogger(__name__)


def build_report(
    x: np.ndarray,
    train_rows: np.ndarray,
    encoded: Encoded,
    codes: np.ndarray,
    collisions: tuple[float, float],
    disambiguation_ids: int,
    cfg: SidConfig,
    seed: int,
    train_sequences: Sequence[np.ndarray] | None,
) -> dict[str, Any]:
    """Every quality figure for codes (n, C) of items x (n, D); rows = item_idx - 1."""
    unseen = np.setdiff1d(np.arange(len(x)), train_rows)
    report: dict[str, Any] = {
        "method": cfg.method,
        "embedding": cfg.embedding,
        "n_items": len(x),
        "n_train_items": len(train_rows),
        "num_codes": int(codes.shape[1]),
        "vocab_size": encoded.vocab_size + disambiguation_ids,
        "positions": quality.position_usage(encoded.local_codes, encoded.sizes),
        "collision_rate_before": collisions[0],
        "collision_rate_after": collisions[1],
        "disambiguation_ids": disambiguation_ids,
        "reconstruction_error": {
            "train": quality.reconstruction_error(
                x[train_rows], encoded.reconstruction[train_rows]
            ),
            "unseen": quality.reconstruction_error(
                x[unseen], encoded.reconstruction[unseen]
            ),
        },
    }
    if cfg.report_queries > 0 and len(x) > cfg.report_neighbours + 1:
        report["neighbours"] = neighbour_report(
            x, encoded, cfg.report_neighbours, cfg.report_queries, seed, train_sequences
        )
    return _finite(report)


def neighbour_report(
    x: np.ndarray,
    encoded: Encoded,
    k: int,
    n_queries: int,
    seed: int,
    train_sequences: Sequence[np.ndarray] | None,
) -> dict[str, Any]:
    """Agreement of code neighbours with embedding and co-interaction neighbours."""
    rng = np.random.default_rng(seed)
    n = len(x)
    codes = quality.code_matrix(encoded.global_codes, encoded.vocab_size)

    # By embedding: seeded queries over all items.
    queries = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    by_embedding = quality.embedding_neighbours(x, queries, k)
    out: dict[str, Any] = {
        "k": k,
        "chance": k / (n - 1),
        "queries_embedding": len(queries),
        "embedding": quality.code_agreement(codes, queries, by_embedding, k),
    }
    if train_sequences is None:
        return out

    # By co-interaction: queries among items with at least k co-interacting items.
    interactions = quality.interaction_matrix(train_sequences, n)
    seen = np.flatnonzero(np.asarray(interactions.sum(axis=0)).ravel() > 0)
    pool = np.sort(rng.choice(seen, size=min(4 * n_queries, len(seen)), replace=False))
    kept, by_co = quality.cointeraction_neighbours(interactions, pool, k)
    kept, by_co = kept[:n_queries], by_co[:n_queries]
    out["queries_cointeraction"] = len(kept)
    out["cointeraction"] = quality.code_agreement(codes, kept, by_co, k)
    # Reference: how far text similarity itself agrees with co-interaction.
    out["embedding_vs_cointeraction"] = quality.set_overlap(
        quality.embedding_neighbours(x, kept, k), by_co
    )
    return out


def _finite(obj: Any) -> Any:
    """NaN -> None so the JSON is strict."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


# Table: metrics as rows, one column per report.
def report_rows(report: dict[str, Any]) -> dict[str, str]:
    rows = {
        "method": report["method"],
        "embedding": report["embedding"],
        "items (train/all)": f"{report['n_train_items']}/{report['n_items']}",
        "codes per item": str(report["num_codes"]),
        "vocab size": str(report.get("vocab_size", "-")),
        "collision rate before": _pct(report["collision_rate_before"]),
        "collision rate after": _pct(report["collision_rate_after"]),
        "disambiguation ids": str(report["disambiguation_ids"]),
        "recon error train": _num(report["reconstruction_error"]["train"]),
        "recon error unseen": _num(report["reconstruction_error"]["unseen"]),
    }
    for pos in report["positions"]:
        rows[f"code {pos['position']} used/size"] = (
            f"{pos['used']}/{pos['codebook_size']}"
        )
        rows[f"code {pos['position']} perplexity"] = f"{pos['perplexity']:.1f}"
    nb = report.get("neighbours")
    if nb:
        k = nb["k"]
        rows[f"agree@{k} embedding"] = _pct(nb["embedding"])
        rows[f"agree@{k} co-interaction"] = _pct(nb.get("cointeraction"))
        rows[f"ref: embedding vs co-int@{k}"] = _pct(
            nb.get("embedding_vs_cointeraction")
        )
        rows[f"chance@{k}"] = _pct(nb["chance"])
    return rows


def format_table(reports: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of one or more reports side by side."""
    columns = {name: report_rows(r) for name, r in reports.items()}
    keys: list[str] = []
    for rows in columns.values():
        keys += [k for k in rows if k not in keys]
    # Level rows last, in position order, so reports with different code counts align.
    keys.sort(key=lambda k: (k.startswith("code "), _position(k)))
    header = ["metric", *columns]
    body = [[key, *(rows.get(key, "-") for rows in columns.values())] for key in keys]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _position(key: str) -> int:
    parts = key.split()
    return int(parts[1]) if key.startswith("code ") and parts[1].isdigit() else -1


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
