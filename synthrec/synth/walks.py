"""node2vec second-order random walks on an ItemGraph (pure, seeded, fast).

Standing at v, having come from t, the unnormalised weight of stepping to a
neighbour x is w(v,x)/p if x = t, w(v,x) if x is an out-neighbour of t, and
w(v,x)/q otherwise; the first step of a walk is first-order (w(v,x) alone).

The walker samples that distribution exactly by rejection, as KnightKing does:
draw x from the first-order distribution (an O(1) draw from per-row alias
tables), accept it with probability alpha(t, x) / max(1/p, 1, 1/q), where "x is
a neighbour of t" is a binary search in t's sorted row. Each try costs
O(log deg(t)), with no per-edge second-order tables, so memory is O(edges) and
high-degree items stay cheap. The kernel is compiled with numba
(a plain-Python loop would be ~100x slower); its random numbers come from the
per-call seeded numba generator, so a block's walks depend only on its seed.
"""

from dataclasses import dataclass

import numba
import numpy as np

from synthrec.errors import SynthrecError
from synthrec.synth.config import WalkConfig
from synthrec.synth.graph import ItemGraph


@dataclass
class Walks:
    """Walks as one flat item array and offsets: walk i is flat[off[i]:off[i+1]]."""

    flat: np.ndarray  # (total_steps,) int64
    offsets: np.ndarray  # (n_walks + 1,) int64

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]

    def to_list(self) -> list[np.ndarray]:
        return [self[i] for i in range(len(self))]


# ---------------------------------------------------------------------------
# Exact transition probabilities (the reference the tests compare against)


def transition_probabilities(
    graph: ItemGraph, prev: int, cur: int, p: float, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours of cur, P(next = x | prev, cur)) by the node2vec formula."""
    lo, hi = graph.indptr[cur], graph.indptr[cur + 1]
    nbrs, weights = graph.indices[lo:hi], graph.weights[lo:hi]
    alpha = np.where(np.isin(nbrs, graph.neighbours(prev)), 1.0, 1.0 / q)
    alpha[nbrs == prev] = 1.0 / p
    unnormalised = weights * alpha
    return nbrs, unnormalised / unnormalised.sum()


# ---------------------------------------------------------------------------
# The compiled kernel


@dataclass
class AliasTables:
    """Per-row Walker alias tables: an O(1) draw from w(v, .) / sum_x w(v, x).

    Edge slot k of row v (lo <= k < hi) keeps itself with probability prob[k],
    else gives way to slot lo + alias[k].
    """

    prob: np.ndarray  # (n_edges,) float64
    alias: np.ndarray  # (n_edges,) int32, offset within the row


@numba.njit(cache=True, nogil=True)
def _alias_kernel(indptr, weights):
    n_edges = weights.shape[0]
    prob = np.ones(n_edges, dtype=np.float64)
    alias = np.zeros(n_edges, dtype=np.int32)
    max_degree = 0
    for v in range(indptr.shape[0] - 1):
        max_degree = max(max_degree, indptr[v + 1] - indptr[v])
    small = np.empty(max_degree, dtype=np.int64)
    large = np.empty(max_degree, dtype=np.int64)
    scaled = np.empty(max_degree, dtype=np.float64)
    for v in range(indptr.shape[0] - 1):
        lo, hi = indptr[v], indptr[v + 1]
        degree = hi - lo
        total = weights[lo:hi].sum()
        n_small = n_large = 0
        for i in range(degree):
            alias[lo + i] = i
            scaled[i] = weights[lo + i] * degree / total
            if scaled[i] < 1.0:
                small[n_small] = i
                n_small += 1
            else:
                large[n_large] = i
                n_large += 1
        # Vose: pair each light slot with a heavy one that tops it up to 1.
        while n_small > 0 and n_large > 0:
            n_small -= 1
            n_large -= 1
            s, g = small[n_small], large[n_large]
            prob[lo + s] = scaled[s]
            alias[lo + s] = g
            scaled[g] = scaled[g] + scaled[s] - 1.0
            if scaled[g] < 1.0:
                small[n_small] = g
                n_small += 1
            else:
                large[n_large] = g
                n_large += 1
    return prob, alias


def alias_tables(graph: ItemGraph) -> AliasTables:
    prob, alias = _alias_kernel(graph.indptr, graph.weights)
    return AliasTables(prob=prob, alias=alias)


@numba.njit(cache=True, nogil=True)
def _first_order_step(indices, prob, alias, lo, hi):
    u = np.random.random() * (hi - lo)
    slot = min(int(u), hi - lo - 1)
    if u - slot >= prob[lo + slot]:
        slot = alias[lo + slot]
    return indices[lo + slot]


@numba.njit(cache=True, nogil=True)
def _is_out_neighbour(indptr, indices, t, x):
    lo, hi = indptr[t], indptr[t + 1]
    k = lo + np.searchsorted(indices[lo:hi], x)
    return k < hi and indices[k] == x


@numba.njit(cache=True, nogil=True)
def _walk_kernel(indptr, indices, prob, alias, starts, lengths, p, q, seed):
    np.random.seed(seed)
    inv_p, inv_q = 1.0 / p, 1.0 / q
    max_alpha = max(inv_p, 1.0, inv_q)
    flat = np.empty(lengths.sum(), dtype=np.int64)
    offsets = np.zeros(starts.shape[0] + 1, dtype=np.int64)
    pos = 0
    for w in range(starts.shape[0]):
        v = starts[w]
        flat[pos] = v
        pos += 1
        prev = -1
        for _ in range(lengths[w] - 1):
            lo, hi = indptr[v], indptr[v + 1]
            if lo == hi:
                break  # a dead end (directed graphs): the walk ends early
            if prev < 0:
                x = _first_order_step(indices, prob, alias, lo, hi)
            else:
                while True:
                    x = _first_order_step(indices, prob, alias, lo, hi)
                    if x == prev:
                        alpha = inv_p
                    elif _is_out_neighbour(indptr, indices, prev, x):
                        alpha = 1.0
                    else:
                        alpha = inv_q
                    if np.random.random() * max_alpha < alpha:
                        break
            flat[pos] = x
            pos += 1
            prev, v = v, x
        offsets[w + 1] = pos
    return flat[:pos], offsets


def node2vec_walks(
    graph: ItemGraph,
    starts: np.ndarray,
    lengths: np.ndarray,
    p: float,
    q: float,
    seed: int,
    tables: AliasTables | None = None,
) -> Walks:
    """One walk per start node, walk i at most lengths[i] items long."""
    if p <= 0 or q <= 0:
        raise SynthrecError(f"node2vec needs p > 0 and q > 0, got p={p}, q={q}")
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if starts.shape != lengths.shape:
        raise SynthrecError("node2vec_walks needs one length per start node")
    if tables is None:
        tables = alias_tables(graph)
    flat, offsets = _walk_kernel(
        graph.indptr,
        graph.indices,
        tables.prob,
        tables.alias,
        starts,
        lengths,
        float(p),
        float(q),
        np.uint32(seed % (2**32)),
    )
    return Walks(flat=flat, offsets=offsets)


# ---------------------------------------------------------------------------
# Where walks start and how long they are


def block_seed(seed: int, stream: int, block: int) -> int:
    """A 32-bit seed for one block of one stream, independent across blocks."""
    return int(np.random.SeedSequence([seed, stream, block]).generate_state(1)[0])


def walk_starts(
    graph: ItemGraph, cfg: WalkConfig, seed: int, first: int, stop: int
) -> np.ndarray:
    """Start nodes of walks first..stop-1 in the global walk order.

    uniform: walks come in rounds; each round visits every item with edges
    once, in a seeded order. degree: i.i.d. draws in proportion to degree.
    """
    degrees = graph.degrees()
    active = np.flatnonzero(degrees > 0)
    if active.size == 0:
        raise SynthrecError("the item graph has no edges: no walks can start")
    if cfg.start == "degree":
        rng = np.random.default_rng([seed, 1, first])
        probs = degrees[active] / degrees[active].sum()
        return rng.choice(active, size=stop - first, p=probs)

    index = np.arange(first, stop, dtype=np.int64)
    rounds = index // active.size
    starts = np.empty(index.size, dtype=np.int64)
    for r in np.unique(rounds):
        order = np.random.default_rng([seed, 0, int(r)]).permutation(active.size)
        mask = rounds == r
        starts[mask] = active[order[index[mask] % active.size]]
    return starts


def walk_lengths(
    cfg: WalkConfig, n: int, seed: int, real_lengths: np.ndarray | None = None
) -> np.ndarray:
    """Target lengths: all walk_length, or drawn from the real history lengths."""
    if cfg.length == "fixed":
        return np.full(n, cfg.walk_length, dtype=np.int64)
    if real_lengths is None or real_lengths.size == 0:
        raise SynthrecError("synth.walks.length='real' needs real history lengths")
    rng = np.random.default_rng([seed, 2])
    drawn = rng.choice(real_lengths, size=n)
    return np.clip(drawn, 2, cfg.walk_length).astype(np.int64)


def random_walks(
    graph: ItemGraph,
    cfg: WalkConfig,
    seed: int,
    first: int = 0,
    stop: int | None = None,
    real_lengths: np.ndarray | None = None,
    tables: AliasTables | None = None,
) -> Walks:
    """Walks first..stop-1 of the seeded walk stream (default: one round per item).

    A block of walks depends only on (seed, first, stop), so blocks can run
    anywhere, in any order, and concatenate to the same stream.
    """
    if stop is None:
        stop = cfg.walks_per_node * int(np.count_nonzero(graph.degrees()))
    starts = walk_starts(graph, cfg, seed, first, stop)
    lengths = walk_lengths(cfg, stop - first, block_seed(seed, 3, first), real_lengths)
    return node2vec_walks(
        graph, starts, lengths, cfg.p, cfg.q, block_seed(seed, 4, first), tables
    )


__all__ = [
    "Walks",
    "block_seed",
    "AliasTables",
    "alias_tables",
    "node2vec_walks",
    "random_walks",
    "transition_probabilities",
    "walk_lengths",
    "walk_starts",
]
