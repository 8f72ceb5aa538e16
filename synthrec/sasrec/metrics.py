"""Ranking metrics for next-item prediction with one held-out target per user.

Pure functions: a score matrix and targets in, 0-based ranks out; ranks in,
metrics out. Ranks are pessimistic: every other candidate whose score ties the
target's counts as ranked above it, so a constant scorer earns zero rather than
a lucky rank. Item 0 is padding and is never a candidate.

With one relevant item per user, Recall@K equals HR@K: 1 if rank < K else 0.
NDCG@K is 1 / log2(rank + 2) inside the cut-off (the ideal DCG is 1). MRR is
1 / (rank + 1) over the whole ranking, with no cut-off.
"""

from collections.abc import Sequence

import numpy as np
import torch

PADDING_ITEM = 0
SAMPLED_NEGATIVES = 100


# -- which candidates are ranked ----------------------------------------------


def exclusion_mask(
    histories: Sequence[np.ndarray], targets: np.ndarray, num_columns: int
) -> torch.Tensor:
    """(B, num_columns) bool: True where an item is dropped from the ranking.

    Drops the padding column and every item in the user's history except the
    target itself (a re-consumed item stays rankable).
    """
    mask = torch.zeros(len(histories), num_columns, dtype=torch.bool)
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.concatenate(histories) if len(histories) else np.zeros(0, np.int64)
    mask[torch.from_numpy(rows), torch.from_numpy(cols.astype(np.int64))] = True
    mask[torch.arange(len(histories)), torch.from_numpy(targets.astype(np.int64))] = (
        False
    )
    mask[:, PADDING_ITEM] = True
    return mask


def padding_only_mask(batch_size: int, num_columns: int) -> torch.Tensor:
    """(B, num_columns) bool that drops only the padding column."""
    mask = torch.zeros(batch_size, num_columns, dtype=torch.bool)
    mask[:, PADDING_ITEM] = True
    return mask


# -- ranks ----------------------------------------------------------------------


def full_ranks(
    scores: torch.Tensor, targets: torch.Tensor, excluded: torch.Tensor
) -> torch.Tensor:
    """0-based rank of each target among all non-excluded items, ties against it.

    scores: (B, V) with column = item id; targets: (B,); excluded: (B, V) bool.
    """
    target_scores = scores.gather(1, targets[:, None])  # (B, 1)
    at_or_above = (scores >= target_scores) & ~excluded
    # The target itself is counted by `>=`: remove it once.
    return at_or_above.sum(dim=1) - 1


def sampled_ranks(
    scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """0-based rank of each target among itself and its sampled negatives.

    scores: (B, V); targets: (B,); negatives: (B, N) item ids, none equal to
    the target. Ties count against the target.
    """
    target_scores = scores.gather(1, targets[:, None])  # (B, 1)
    negative_scores = scores.gather(1, negatives)  # (B, N)
    return (negative_scores >= target_scores).sum(dim=1)


def sample_negatives(
    rng: np.random.Generator,
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    num_items: int,
    num_negatives: int = SAMPLED_NEGATIVES,
) -> np.ndarray:
    """(B, num_negatives) items drawn uniformly, without replacement, from the
    catalogue minus the user's history and target (the sampled protocol)."""
    out = np.empty((len(histories), num_negatives), dtype=np.int64)
    for row, (history, target) in enumerate(zip(histories, targets, strict=True)):
        seen = np.union1d(history, [target])
        pool_size = num_items - len(seen[(seen >= 1) & (seen <= num_items)])
        if pool_size < num_negatives:
            raise ValueError(
                f"only {pool_size} unseen items for a user; the sampled protocol "
                f"needs {num_negatives}"
            )
        out[row] = _draw_unseen(rng, seen, num_items, num_negatives)
    return out


def _draw_unseen(
    rng: np.random.Generator, seen: np.ndarray, num_items: int, count: int
) -> np.ndarray:
    # Rejection sampling: the catalogue is much larger than one history.
    chosen: list[int] = []
    taken = set(seen.tolist())
    while len(chosen) < count:
        for item in rng.integers(1, num_items + 1, size=2 * count).tolist():
            if item not in taken:
                taken.add(item)
                chosen.append(item)
                if len(chosen) == count:
                    break
    return np.asarray(chosen, dtype=np.int64)


# -- names ---------------------------------------------------------------------------


def tracking_key(name: str) -> str:
    """An MLflow-safe metric key: MLflow rejects "@", so recall@100 -> recall_at_100."""
    return name.replace("@", "_at_")


# -- metrics from ranks -----------------------------------------------------------


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user Recall@K (= HR@K with one target): 1.0 if rank < k else 0.0."""
    return (np.asarray(ranks) < k).astype(np.float64)


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@K with one target: 1 / log2(rank + 2) if rank < k else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    """Per-user reciprocal rank 1 / (rank + 1), no cut-off."""
    return 1.0 / (np.asarray(ranks, dtype=np.float64) + 1.0)


def summarize_ranks(
    ranks: np.ndarray, ks: Sequence[int], ndcg_ks: Sequence[int]
) -> dict[str, float]:
    """Mean metrics over users: recall@K for `ks`, ndcg@K for `ndcg_ks`, mrr."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise ValueError("no ranks to summarize: the evaluation had no users")
    out = {f"recall@{k}": float(recall_at_k(ranks, k).mean()) for k in ks}
    out.update({f"ndcg@{k}": float(ndcg_at_k(ranks, k).mean()) for k in ndcg_ks})
    out["mrr"] = float(reciprocal_rank(ranks).mean())
    return out
