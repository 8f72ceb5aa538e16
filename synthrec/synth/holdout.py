"""What is held out of training, and the evaluation rows built from it (pure).

- Held-out items (a seeded share of the catalogue): their item-text sentences
  and every CF rule that mentions them stay out of training; they make the
  item_text eval set and the cf_one_unseen / cf_both_unseen buckets.
- Held-out pairs: a seeded share of the rules whose items are both seen; they
  make cf_seen_pair.
- Held-out users (a seeded share): none of their interactions enter the graph
  or the rules; their real histories make uih_real.
- uih_ood: real histories that end at a user's test-split item.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Random streams of the stage; one id per use keeps them independent.
STREAM_ITEMS, STREAM_USERS, STREAM_PAIRS, STREAM_CAP, STREAM_ORDER = range(10, 15)


@dataclass
class Holdout:
    items: np.ndarray  # sorted item ids kept out of item-text and CF training
    users: np.ndarray  # sorted user ids kept out of every training structure

    def item_mask(self, n_items: int) -> np.ndarray:
        """(n_items + 1,) bool, True for held-out items."""
        mask = np.zeros(n_items + 1, dtype=bool)
        mask[self.items] = True
        return mask


def seeded_subset(n: int, fraction: float, seed: int, stream: int) -> np.ndarray:
    """A sorted, seeded random subset of round(fraction * n) ids in 0..n-1."""
    rng = np.random.default_rng([seed, stream])
    size = int(round(fraction * n))
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def choose_holdout(
    n_items: int, n_users: int, item_fraction: float, user_fraction: float, seed: int
) -> Holdout:
    items = seeded_subset(n_items, item_fraction, seed, STREAM_ITEMS) + 1
    users = seeded_subset(n_users, user_fraction, seed, STREAM_USERS)
    return Holdout(items=items, users=users)


def without_users(
    sequences: Sequence[np.ndarray], users: np.ndarray
) -> list[np.ndarray]:
    """The sequences with the given users' histories emptied (indices kept)."""
    drop = set(users.tolist())
    empty = np.zeros(0, dtype=np.int64)
    return [empty if u in drop else s for u, s in enumerate(sequences)]


def cap_rows(n: int, limit: int, seed: int, stream: int) -> np.ndarray:
    """Indices of at most `limit` of n rows, a seeded subset in original order."""
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng([seed, STREAM_CAP, stream])
    return np.sort(rng.choice(n, size=limit, replace=False))


# ---------------------------------------------------------------------------
# CF rules: training rules and the three novelty buckets


def split_rules(
    rules: pd.DataFrame, held_items: np.ndarray, pair_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Rules split into train, cf_seen_pair, cf_one_unseen, cf_both_unseen."""
    held = np.isin(rules["antecedent"].to_numpy(), held_items).astype(int)
    held += np.isin(rules["consequent"].to_numpy(), held_items)
    rng = np.random.default_rng([seed, STREAM_PAIRS])
    pair_out = rng.random(len(rules)) < pair_fraction
    return {
        "train": rules[(held == 0) & ~pair_out].reset_index(drop=True),
        "cf_seen_pair": rules[(held == 0) & pair_out].reset_index(drop=True),
        "cf_one_unseen": rules[held == 1].reset_index(drop=True),
        "cf_both_unseen": rules[held == 2].reset_index(drop=True),
    }


# ---------------------------------------------------------------------------
# Real histories for the UIH eval sets


def ood_histories(
    full_sequences: Sequence[np.ndarray],
    test_items: np.ndarray,
    users: np.ndarray,
    walk_length: int,
) -> list[np.ndarray]:
    """Per user, the last walk_length items of the full history (ends at test).

    test_items[u] is user u's test-split item (0 when the user has none).
    """
    out = []
    for u in users:
        seq = full_sequences[u]
        if test_items[u] > 0 and len(seq) >= 2 and seq[-1] == test_items[u]:
            out.append(seq[-walk_length:])
    return out


def real_history_chunks(
    full_sequences: Sequence[np.ndarray], users: np.ndarray, walk_length: int
) -> list[np.ndarray]:
    """Held-out users' histories cut into walk_length chunks from the end."""
    out = []
    for u in users:
        seq = full_sequences[u]
        for stop in range(len(seq), 1, -walk_length):
            chunk = seq[max(0, stop - walk_length) : stop]
            if len(chunk) >= 2:
                out.append(chunk)
    return out


__all__ = [
    "Holdout",
    "cap_rows",
    "choose_holdout",
    "ood_histories",
    "real_history_chunks",
    "seeded_subset",
    "split_rules",
    "without_users",
]
