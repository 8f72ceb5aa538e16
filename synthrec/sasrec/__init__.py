"""SASRec trained on real vs synthetic histories, tested on real interactions.

Public API (imported lazily, so that reading the config does not load torch):
- `run_comparison(prepared, synthetic_sequences, cfg, out_dir, tracker, seed)`
  trains per source and seed and writes out_dir/summary.json; `format_table`
  prints its result;
- `SASRec`, `ModelShape`, `attention_mask` and the three losses (`bce_loss`,
  `sampled_softmax_loss`, `full_ce_loss`);
- the pure ranking metrics (`full_ranks`, `sampled_ranks`, `exclusion_mask`,
  `recall_at_k`, `ndcg_at_k`, `reciprocal_rank`, `summarize_ranks`,
  `sample_negatives`).
"""

import importlib
from typing import Any

from synthrec.sasrec.config import SasrecConfig

_EXPORTS = {
    "format_table": "compare",
    "run_comparison": "compare",
    "exclusion_mask": "metrics",
    "full_ranks": "metrics",
    "ndcg_at_k": "metrics",
    "recall_at_k": "metrics",
    "reciprocal_rank": "metrics",
    "sample_negatives": "metrics",
    "sampled_ranks": "metrics",
    "summarize_ranks": "metrics",
    "ModelShape": "model",
    "SASRec": "model",
    "attention_mask": "model",
    "bce_loss": "model",
    "full_ce_loss": "model",
    "sampled_softmax_loss": "model",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'synthrec.sasrec' has no attribute {name!r}")
    module = importlib.import_module(f"synthrec.sasrec.{_EXPORTS[name]}")
    return getattr(module, name)


__all__ = ["SasrecConfig", *sorted(_EXPORTS)]
