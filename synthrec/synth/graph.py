"""The weighted item-item co-occurrence graph, in CSR form.

Pure functions over arrays: no I/O, no Ray. Item 0 is padding and has no
edges. Neighbour lists are sorted by item id, so "is x a neighbour of t" is a
binary search (the node2vec walker relies on that).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthrec.errors import SynthrecError
from synthrec.synth.config import GraphConfig

log = logging.getLogger(__name__)


@dataclass
class ItemGraph:
    """CSR adjacency: out-neighbours of node v are indices[indptr[v]:indptr[v+1]]."""

    indptr: np.ndarray  # (n_nodes + 1,) int64
    indices: np.ndarray  # (n_edges,) int64, sorted within each row
    weights: np.ndarray  # (n_edges,) float64, > 0

    @property
    def n_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        return int(self.indices.shape[0])

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def neighbours(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node] : self.indptr[node + 1]]

    def edge_keys(self) -> np.ndarray:
        """One int64 key `src * n_nodes + dst` per edge (for set checks)."""
        src = np.repeat(np.arange(self.n_nodes, dtype=np.int64), self.degrees())
        return src * self.n_nodes + self.indices

    def stats(self) -> dict[str, float]:
        degrees = self.degrees()
        active = degrees[degrees > 0]
        return {
            "n_nodes": self.n_nodes,
            "n_active_nodes": int(active.size),
            "n_edges": self.n_edges,
            "degree_mean": float(active.mean()) if active.size else 0.0,
            "degree_max": int(active.max()) if active.size else 0,
            "weight_mean": float(self.weights.mean()) if self.n_edges else 0.0,
            "weight_max": float(self.weights.max()) if self.n_edges else 0.0,
        }


def csr_from_edges(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray, n_nodes: int
) -> ItemGraph:
    """An ItemGraph from unique (src, dst) edges; rows sorted by dst."""
    order = np.lexsort((dst, src))
    src, dst, weights = src[order], dst[order], weights[order]
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_nodes), out=indptr[1:])
    return ItemGraph(
        indptr=indptr,
        indices=dst.astype(np.int64),
        weights=weights.astype(np.float64),
    )


def cooccurrence_pairs(
    sequences: Sequence[np.ndarray], window: int, direction: str
) -> tuple[np.ndarray, np.ndarray]:
    """All (earlier, later) item pairs within `window` positions, self-pairs dropped.

    With direction "both" each pair is also returned reversed.
    """
    lengths = np.fromiter(
        (len(s) for s in sequences), dtype=np.int64, count=len(sequences)
    )
    if lengths.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    items = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
    owner = np.repeat(np.arange(len(sequences)), lengths)

    # Pairs at each offset d = 1..window that stay inside one user's sequence.
    srcs, dsts = [], []
    for offset in range(1, window + 1):
        same_user = owner[:-offset] == owner[offset:]
        srcs.append(items[:-offset][same_user])
        dsts.append(items[offset:][same_user])
    src, dst = np.concatenate(srcs), np.concatenate(dsts)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    if direction == "both":
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    return src, dst


def edge_weights(
    count: np.ndarray, src: np.ndarray, dst: np.ndarray, weighting: str, n_nodes: int
) -> np.ndarray:
    """Edge weights from co-occurrence counts (pure math, see GraphConfig)."""
    count = count.astype(np.float64)
    if weighting == "count":
        return count
    out_total = np.bincount(src, weights=count, minlength=n_nodes)
    in_total = np.bincount(dst, weights=count, minlength=n_nodes)
    if weighting == "normalized":
        return count / np.sqrt(out_total[src] * in_total[dst])
    lift = count * count.sum() / (out_total[src] * in_total[dst])
    if weighting == "lift":
        return lift
    if weighting == "pmi":
        return np.maximum(np.log(lift), 0.0)
    raise SynthrecError(f"unknown graph weighting {weighting!r}")


def top_k_per_source(
    src: np.ndarray, weights: np.ndarray, dst: np.ndarray, k: int
) -> np.ndarray:
    """A mask keeping each source's k heaviest edges (ties: lower dst first)."""
    order = np.lexsort((dst, -weights, src))
    sorted_src = src[order]
    first = np.searchsorted(sorted_src, sorted_src, side="left")
    rank = np.arange(sorted_src.size) - first
    keep = np.zeros(src.size, dtype=bool)
    keep[order[rank < k]] = True
    return keep


def build_item_graph(
    train_sequences: Sequence[np.ndarray], n_items: int, cfg: GraphConfig
) -> ItemGraph:
    """The co-occurrence graph over items 1..n_items from training sequences only."""
    n_nodes = n_items + 1
    src, dst = cooccurrence_pairs(train_sequences, cfg.window, cfg.direction)
    if src.size and (src.min() < 1 or max(src.max(), dst.max()) > n_items):
        raise SynthrecError(
            f"item ids must lie in 1..{n_items} to build the item graph"
        )

    # Count each distinct directed pair, then drop rare ones.
    keys, count = np.unique(src * n_nodes + dst, return_counts=True)
    keep = count >= cfg.min_support
    keys, count = keys[keep], count[keep]
    src, dst = keys // n_nodes, keys % n_nodes

    # Weight, drop non-positive weights (PMI <= 0), then prune to top-k.
    weights = edge_weights(count, src, dst, cfg.weighting, n_nodes)
    keep = weights > 0
    src, dst, weights = src[keep], dst[keep], weights[keep]
    if cfg.top_k:
        keep = top_k_per_source(src, weights, dst, cfg.top_k)
        src, dst, weights = src[keep], dst[keep], weights[keep]
    graph = csr_from_edges(src, dst, weights, n_nodes)
    log.info("item graph: %s", graph.stats())
    return graph


__all__ = ["ItemGraph", "build_item_graph", "cooccurrence_pairs", "csr_from_edges"]
