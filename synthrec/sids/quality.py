"""How good a set of codes is: pure functions over arrays, plus the table.

Metrics (rows are items 0..n-1, i.e. item_idx - 1):
- utilisation and perplexity of each code position: the share of the codebook
  that some item uses, and exp(entropy) of the code distribution;
- collision rate before and after disambiguation (see `unique`);
- reconstruction error: mean ||x - x_hat||^2 / ||x||^2 over items;
- neighbourhood agreement@k: of an item's k nearest neighbours by embedding
  cosine (or by co-interaction in the training sequences), the expected share
  that are also among its k nearest by number of shared code ids. Ties in
  shared codes are resolved in expectation (every ordering of a tied group is
  equally likely), so the figure needs no seed and chance level is k / (n - 1).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

# Queries per block when scoring against every item: at most 256 queries and
# about 16M scores (64 MB of float32) per block, whatever the item count.
_QUERY_BLOCK = 256
_BLOCK_SCORES = 1 << 24


def _block_rows(n_items: int) -> int:
    return max(1, min(_QUERY_BLOCK, _BLOCK_SCORES // max(n_items, 1)))


# Codebook use.
def position_usage(local_codes: np.ndarray, sizes: np.ndarray) -> list[dict[str, Any]]:
    """Utilisation and perplexity for every code position."""
    rows = []
    for position, size in enumerate(sizes):
        counts = np.bincount(local_codes[:, position], minlength=int(size))
        p = counts[counts > 0] / counts.sum()
        rows.append(
            {
                "position": position,
                "codebook_size": int(size),
                "used": int((counts > 0).sum()),
                "utilisation": float((counts > 0).mean()),
                "perplexity": float(np.exp(-(p * np.log(p)).sum())),
            }
        )
    return rows


def reconstruction_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean relative squared error; NaN for no rows."""
    if len(x) == 0:
        return float("nan")
    err = np.sum((x - x_hat) ** 2, axis=1)
    norm = np.maximum(np.sum(x**2, axis=1), np.finfo(np.float32).tiny)
    return float(np.mean(err / norm))


# Reference neighbours.
def embedding_neighbours(x: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) rows of the k most cosine-similar other items (x is unit-norm)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    block = _block_rows(len(x))
    for start in range(0, len(queries), block):
        q = queries[start : start + block]
        sims = x[q] @ x.T  # (B, n)
        sims[np.arange(len(q)), q] = -np.inf
        out[start : start + len(q)] = np.argpartition(-sims, k, axis=1)[:, :k]
    return out


def interaction_matrix(sequences: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Binary (users, n_items) matrix from item_idx sequences (1-based)."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    users = np.repeat(np.arange(len(sequences)), lengths)
    items = np.concatenate(list(sequences)) - 1 if len(sequences) else np.array([], int)
    data = np.ones(len(items), dtype=np.float32)
    matrix = sp.csr_matrix((data, (users, items)), shape=(len(sequences), n_items))
    matrix.data[:] = 1.0  # repeated interactions count once
    return matrix


def cointeraction_neighbours(
    interactions: sp.csr_matrix, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept queries, (Q', k) neighbours) by cosine of co-interaction counts.

    Queries with fewer than k co-interacting items are dropped; ties are broken
    by lower item index.
    """
    degree = np.asarray(interactions.sum(axis=0)).ravel()
    co = (interactions[:, queries].T @ interactions).tocsr()  # (Q, n)
    kept, neighbours = [], []
    for i, query in enumerate(queries):
        span = slice(co.indptr[i], co.indptr[i + 1])
        cols, counts = co.indices[span], co.data[span]
        vals = counts / np.sqrt(degree[query] * degree[cols])
        keep = cols != query
        cols, vals = cols[keep], vals[keep]
        if len(cols) < k:
            continue
        order = np.lexsort((cols, -vals))[:k]
        kept.append(query)
        neighbours.append(cols[order])
    if not kept:
        return np.array([], dtype=np.int64), np.empty((0, k), dtype=np.int64)
    return np.array(kept, dtype=np.int64), np.stack(neighbours).astype(np.int64)


# Agreement of code neighbours with a reference.
def code_matrix(codes: np.ndarray, vocab_size: int) -> sp.csr_matrix:
    """Binary (n, vocab) matrix: which global code ids each item holds."""
    n, c = codes.shape
    rows = np.repeat(np.arange(n), c)
    data = np.ones(n * c, dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, codes.ravel())), shape=(n, vocab_size))
    matrix.data[:] = 1.0
    return matrix


def expected_overlap(scores: np.ndarray, reference: np.ndarray, k: int) -> float:
    """Expected |top-k by scores ∩ reference| / k, ties ordered uniformly at random."""
    threshold = np.partition(scores, -k)[-k]
    above = scores > threshold
    tied = scores == threshold
    in_ref = np.zeros(len(scores), dtype=bool)
    in_ref[reference] = True
    n_above = int(above.sum())
    hits = in_ref[above].sum() + (k - n_above) * in_ref[tied].sum() / tied.sum()
    return float(hits / k)


def code_agreement(
    codes: sp.csr_matrix, queries: np.ndarray, reference: np.ndarray, k: int
) -> float:
    """Mean expected overlap of code neighbours with `reference` (Q, k) lists."""
    if len(queries) == 0:
        return float("nan")
    total = 0.0
    block = _block_rows(codes.shape[0])
    for start in range(0, len(queries), block):
        q = queries[start : start + block]
        shared = (codes[q] @ codes.T).toarray()  # (B, n) shared code counts
        shared[np.arange(len(q)), q] = -1.0
        for row, ref in zip(shared, reference[start : start + len(q)], strict=True):
            total += expected_overlap(row, ref, k)
    return total / len(queries)


def set_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_i ∩ b_i| / k over paired (Q, k) neighbour lists."""
    if len(a) == 0:
        return float("nan")
    k = a.shape[1]
    return float(
        np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(a, b, strict=True)])
    )
