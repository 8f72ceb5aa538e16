"""Training windows and evaluation sets built from item-id sequences.

Training reads only the sequences it is handed: `train_sequences(prepared)`
gives the real train split, synthetic walks come from the generator. Valid and
test items reach the model only as evaluation targets (valid) or, for test,
as the target with train + valid as the input history.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from synthrec.datasets.prepared import PreparedData
from synthrec.errors import SynthrecError
from synthrec.sasrec.metrics import PADDING_ITEM


def train_sequences(prepared: PreparedData) -> list[np.ndarray]:
    """Each user's train-split items in event order (no valid or test rows)."""
    return prepared.sequences(("train",))


# -- training windows ---------------------------------------------------------------


@dataclass
class SequencePool:
    """Right-aligned windows of the last `max_seq_len + 1` items per sequence.

    windows: (n, max_seq_len + 1) int64, 0 = padding on the left;
    lengths: (n,) real items per window (>= 2: one input and one target).
    """

    windows: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_target_items(self) -> int:
        return int((self.lengths - 1).sum())


def make_pool(
    sequences: Sequence[np.ndarray],
    max_seq_len: int,
    name: str,
    windows: Literal["last", "all"] = "all",
) -> SequencePool:
    """Cut sequences into windows of up to `max_seq_len + 1` items.

    "last" keeps each sequence's most recent window (the original SASRec);
    "all" tiles the whole sequence from its end with windows that overlap by
    one item, so every item after the first is a target exactly once.
    Windows with fewer than two items are dropped.
    """
    kept = [
        w
        for s in sequences
        for w in _windows(np.asarray(s, np.int64), max_seq_len, windows)
    ]
    if not kept:
        raise SynthrecError(
            f"no {name} sequence has 2 or more items; nothing to train on"
        )
    if min(int(w.min()) for w in kept) < 1:
        raise SynthrecError(f"{name} sequences contain item id < 1 (0 is padding)")
    out = np.zeros((len(kept), max_seq_len + 1), dtype=np.int64)
    for row, window in enumerate(kept):
        out[row, -len(window) :] = window
    return SequencePool(out, np.array([len(w) for w in kept], dtype=np.int64))


def _windows(
    seq: np.ndarray, max_seq_len: int, mode: Literal["last", "all"]
) -> list[np.ndarray]:
    ends = [len(seq)] if mode == "last" else range(len(seq), 1, -max_seq_len)
    windows = [seq[max(0, end - max_seq_len - 1) : end] for end in ends]
    return [w for w in windows if len(w) >= 2]


def split_window(window: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L + 1) windows -> inputs (B, L) and next-item targets (B, L).

    A target counts only where its input is a real item; elsewhere it is 0.
    """
    inputs = window[:, :-1]
    targets = np.where(inputs != PADDING_ITEM, window[:, 1:], PADDING_ITEM)
    return torch.from_numpy(inputs.copy()), torch.from_numpy(targets)


class BatchStream:
    """Endless, seeded batches drawn from one or more pools in fixed shares.

    Each pool is walked in shuffled epochs; a batch takes
    `round(batch_size * share)` sequences from each pool (the first pool takes
    what rounding leaves) and is cut to its longest window.
    """

    def __init__(
        self,
        pools: Sequence[SequencePool],
        shares: Sequence[float],
        batch_size: int,
        rng: np.random.Generator,
    ):
        counts = [round(batch_size * s) for s in shares[1:]]
        self.counts = [batch_size - sum(counts), *counts]
        self.pools = list(pools)
        self.rng = rng
        self._orders = [self.rng.permutation(len(p)) for p in self.pools]
        self._cursors = [0] * len(self.pools)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [self._take(i, n) for i, n in enumerate(self.counts) if n > 0]
        window = np.concatenate(rows)
        longest = int((window != PADDING_ITEM).sum(axis=1).max())
        return split_window(window[:, -longest:])

    def _take(self, index: int, count: int) -> np.ndarray:
        pool, picked = self.pools[index], []
        while count > 0:
            order, cursor = self._orders[index], self._cursors[index]
            chunk = order[cursor : cursor + count]
            picked.append(chunk)
            count -= len(chunk)
            self._cursors[index] = cursor + len(chunk)
            if self._cursors[index] == len(order):
                self._orders[index] = self.rng.permutation(len(pool))
                self._cursors[index] = 0
        return pool.windows[np.concatenate(picked)]


# -- evaluation sets ----------------------------------------------------------------


@dataclass
class EvalSet:
    """One held-out target per user with the history the model reads.

    histories: items before the target (the input, and what exclusion drops);
    targets: (U,) item ids; users: (U,) user_idx.
    """

    name: str
    histories: list[np.ndarray]
    targets: np.ndarray
    users: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)


def make_eval_set(
    prepared: PreparedData, history_splits: Sequence[str], target_split: str
) -> EvalSet:
    """Users with a `target_split` item and a non-empty history from `history_splits`."""
    histories = prepared.sequences(tuple(history_splits))
    targets = prepared.sequences((target_split,))
    users = [
        u for u in range(prepared.n_users) if len(targets[u]) and len(histories[u])
    ]
    if not users:
        raise SynthrecError(f"no user has both a {target_split} item and a history")
    if any(len(targets[u]) != 1 for u in users):
        raise SynthrecError(
            f"expected one {target_split} item per user (leave-one-out split)"
        )
    return EvalSet(
        name=target_split,
        histories=[histories[u] for u in users],
        targets=np.array([targets[u][0] for u in users], dtype=np.int64),
        users=np.array(users, dtype=np.int64),
    )


def pad_histories(histories: Sequence[np.ndarray], max_seq_len: int) -> torch.Tensor:
    """Left-pad the last `max_seq_len` items of each history to the longest one."""
    cut = [h[-max_seq_len:] for h in histories]
    longest = max(len(h) for h in cut)
    out = np.zeros((len(cut), longest), dtype=np.int64)
    for row, h in enumerate(cut):
        out[row, longest - len(h) :] = h
    return torch.from_numpy(out)
