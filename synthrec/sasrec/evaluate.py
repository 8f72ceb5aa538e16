"""Scoring an evaluation set with a trained model: ranks, then metrics."""

import numpy as np
import torch

from synthrec.sasrec.config import SasrecConfig
from synthrec.sasrec.data import EvalSet, pad_histories
from synthrec.sasrec.metrics import (
    exclusion_mask,
    full_ranks,
    padding_only_mask,
    sampled_ranks,
    summarize_ranks,
)
from synthrec.sasrec.model import SASRec


@torch.no_grad()
def rank_targets(
    model: SASRec,
    eval_set: EvalSet,
    cfg: SasrecConfig,
    negatives: np.ndarray | None = None,
) -> np.ndarray:
    """0-based rank of every user's target, in batches of `cfg.eval_batch_size`.

    Full-catalogue ranking (excluding history items when
    `cfg.exclude_history`), or, when `negatives` (U, N) is given, ranking
    against those sampled items only.
    """
    was_training = model.training
    model.eval()
    ranks = []
    for start in range(0, len(eval_set), cfg.eval_batch_size):
        stop = start + cfg.eval_batch_size
        ranks.append(_rank_batch(model, eval_set, slice(start, stop), cfg, negatives))
    model.train(was_training)
    return np.concatenate(ranks)


def _rank_batch(
    model: SASRec,
    eval_set: EvalSet,
    rows: slice,
    cfg: SasrecConfig,
    negatives: np.ndarray | None,
) -> np.ndarray:
    histories = eval_set.histories[rows]
    targets = eval_set.targets[rows]
    device = model.item_emb.weight.device
    items = pad_histories(histories, cfg.max_seq_len).to(device)
    scores = model.score_all(model.last_hidden(items))  # (B, V)
    target_t = torch.from_numpy(targets).to(device)
    if negatives is not None:
        return (
            sampled_ranks(
                scores, target_t, torch.from_numpy(negatives[rows]).to(device)
            )
            .cpu()
            .numpy()
        )
    if cfg.exclude_history:
        excluded = exclusion_mask(histories, targets, scores.shape[1])
    else:
        excluded = padding_only_mask(len(targets), scores.shape[1])
    return full_ranks(scores, target_t, excluded.to(device)).cpu().numpy()


def evaluate(
    model: SASRec,
    eval_set: EvalSet,
    cfg: SasrecConfig,
    negatives: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean recall@K, ndcg@K and mrr over the evaluation set's users."""
    ranks = rank_targets(model, eval_set, cfg, negatives)
    return summarize_ranks(ranks, cfg.ks, cfg.ndcg_ks)
