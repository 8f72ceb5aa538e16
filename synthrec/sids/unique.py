"""Making code tuples unique, and measuring how often they were not.

The rule: items whose tuples collide are numbered 0, 1, 2, ... in order of
item index, and that number becomes one extra, final code. The extra code has
its own id range after every tokeniser code (id = base_vocab + number), so it
never reads as a real code. When no tuple collides, no code is added.
"""

import numpy as np


def _groups(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group id of every row (rows with equal tuples share one) and group sizes."""
    _, inverse, counts = np.unique(
        codes, axis=0, return_inverse=True, return_counts=True
    )
    return inverse.reshape(-1), counts


def collision_rate(codes: np.ndarray) -> float:
    """Fraction of rows whose tuple is shared with at least one other row."""
    if len(codes) == 0:
        return 0.0
    inverse, counts = _groups(codes)
    return float(np.mean(counts[inverse] > 1))


def disambiguate(codes: np.ndarray, base_vocab: int) -> tuple[np.ndarray, int]:
    """(codes with a disambiguation column if needed, ids that column uses)."""
    inverse, counts = _groups(codes)
    if counts.max(initial=0) <= 1:
        return codes, 0

    # Rank of each row inside its group, by row order (= item index order).
    order = np.argsort(inverse, kind="stable")
    group_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - group_start[inverse[order]]
    return np.column_stack([codes, base_vocab + rank]), int(counts.max())
