"""SASRec trained on real vs synthetic histories, tested on real interactions.

Public API:
- `run_comparison(prepared, synthetic_sequences, cfg, out_dir, tracker, seed)`
  trains per source and seed and writes out_dir/summary.json;
- `SASRec`, `ModelShape` and the three losses (`bce_loss`,
  `sampled_softmax_loss`, `full_ce_loss`);
- the pure ranking metrics in `synthrec.sasrec.metrics`.
"""

from synthrec.sasrec.compare import format_table, run_comparison
from synthrec.sasrec.config import SasrecConfig
from synthrec.sasrec.metrics import (
    exclusion_mask,
    full_ranks,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    sample_negatives,
    sampled_ranks,
    summarize_ranks,
)
from synthrec.sasrec.model import (
    ModelShape,
    SASRec,
    attention_mask,
    bce_loss,
    full_ce_loss,
    sampled_softmax_loss,
)

__all__ = [
    "SASRec",
    "ModelShape",
    "SasrecConfig",
    "attention_mask",
    "bce_loss",
    "exclusion_mask",
    "format_table",
    "full_ce_loss",
    "full_ranks",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "run_comparison",
    "sample_negatives",
    "sampled_ranks",
    "sampled_softmax_loss",
    "summarize_ranks",
]
