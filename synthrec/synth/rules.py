"""Collaborative-filtering association rules A -> B over users (pure math).

Over the users who have at least one training interaction:
  support    = users with A and B / users
  confidence = P(B | A) = users with A and B / users with A
  lift       = confidence / P(B),  P(B) = users with B / users
Rules are mined block by block over antecedents, so memory stays at about
block_items * n_items counts and blocks can run in parallel.
"""

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from synthrec.synth.config import RulesConfig

log = logging.getLogger(__name__)

RULE_COLUMNS = ["antecedent", "consequent", "n_users", "support", "confidence", "lift"]


def user_item_matrix(sequences: Sequence[np.ndarray], n_items: int) -> sp.csc_matrix:
    """Binary (users with any item) x (n_items + 1) matrix, one row per user."""
    seqs = [np.unique(np.asarray(s, dtype=np.int64)) for s in sequences if len(s)]
    rows = np.repeat(np.arange(len(seqs)), [s.size for s in seqs])
    cols = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    data = np.ones(cols.size, dtype=np.float64)
    return sp.csc_matrix((data, (rows, cols)), shape=(len(seqs), n_items + 1))


def mine_rules_block(
    matrix: sp.csc_matrix, antecedents: np.ndarray, cfg: RulesConfig
) -> pd.DataFrame:
    """The rules whose antecedent is in `antecedents`, thresholded and top-k'd."""
    n_users = matrix.shape[0]
    item_users = np.asarray(matrix.sum(axis=0)).ravel()
    both = (matrix[:, antecedents].T @ matrix).tocoo()  # (block, n_items + 1)

    a = antecedents[both.row].astype(np.int64)
    b = both.col.astype(np.int64)
    n_both = both.data
    keep = (a != b) & (n_both >= cfg.min_support_users)
    a, b, n_both = a[keep], b[keep], n_both[keep]

    confidence = n_both / item_users[a]
    lift = confidence / (item_users[b] / n_users)
    keep = (confidence >= cfg.min_confidence) & (lift >= cfg.min_lift)
    frame = pd.DataFrame(
        {
            "antecedent": a[keep],
            "consequent": b[keep],
            "n_users": n_both[keep].astype(np.int64),
            "support": n_both[keep] / n_users,
            "confidence": confidence[keep],
            "lift": lift[keep],
        }
    )
    return _top_k(frame, cfg.top_k_per_item)


def _top_k(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    # Highest confidence first; ties by higher lift, then lower consequent id.
    frame = frame.sort_values(
        ["antecedent", "confidence", "lift", "consequent"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    if k:
        frame = frame.groupby("antecedent", sort=False).head(k)
    return frame.reset_index(drop=True)


def mine_cf_rules(
    train_sequences: Sequence[np.ndarray], n_items: int, cfg: RulesConfig
) -> pd.DataFrame:
    """All rules A -> B from training sequences (columns: RULE_COLUMNS)."""
    matrix = user_item_matrix(train_sequences, n_items)
    item_users = np.asarray(matrix.sum(axis=0)).ravel()
    # Only items with enough users can be antecedents of a rule.
    candidates = np.flatnonzero(item_users >= cfg.min_support_users)
    blocks = [
        mine_rules_block(matrix, candidates[i : i + cfg.block_items], cfg)
        for i in range(0, candidates.size, cfg.block_items)
    ]
    rules = pd.concat(blocks, ignore_index=True) if blocks else empty_rules()
    log.info("mined %d CF rules over %d antecedents", len(rules), candidates.size)
    return rules


def empty_rules() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "antecedent": np.zeros(0, np.int64),
            "consequent": np.zeros(0, np.int64),
            "n_users": np.zeros(0, np.int64),
            "support": np.zeros(0, np.float64),
            "confidence": np.zeros(0, np.float64),
            "lift": np.zeros(0, np.float64),
        }
    )


__all__ = ["RULE_COLUMNS", "mine_cf_rules", "mine_rules_block", "user_item_matrix"]
