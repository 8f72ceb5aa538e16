"""node2vec walks: exact transition law, determinism, starts and lengths."""

import numpy as np
import pytest
from scipy import stats

from synthrec.errors import SynthrecError
from synthrec.synth.config import WalkConfig
from synthrec.synth.graph import csr_from_edges
from synthrec.synth.walks import (
    node2vec_walks,
    random_walks,
    transition_probabilities,
    walk_starts,
)


def small_graph():
    """A weighted undirected graph on nodes 1..6 with triangles and a tail."""
    edges = {
        (1, 2): 3.0,
        (1, 3): 1.0,
        (2, 3): 2.0,
        (2, 4): 1.0,
        (3, 4): 4.0,
        (4, 5): 2.0,
        (5, 6): 1.0,
        (3, 5): 0.5,
    }
    src = np.array([a for a, b in edges] + [b for a, b in edges])
    dst = np.array([b for a, b in edges] + [a for a, b in edges])
    weights = np.array(list(edges.values()) * 2)
    return csr_from_edges(src, dst, weights, n_nodes=7)


def test_second_order_transitions_match_the_node2vec_formula():
    graph = small_graph()
    p, q = 0.5, 2.0
    starts = np.repeat(np.arange(1, 7), 4000)
    walks = node2vec_walks(graph, starts, np.full(starts.size, 6), p, q, seed=7)

    # Count every (prev, cur) -> next transition of the sample.
    counts: dict[tuple[int, int], dict[int, int]] = {}
    for w in walks.to_list():
        for t, v, x in zip(w[:-2], w[1:-1], w[2:], strict=True):
            row = counts.setdefault((int(t), int(v)), {})
            row[int(x)] = row.get(int(x), 0) + 1

    p_values = []
    for (t, v), row in counts.items():
        nbrs, probs = transition_probabilities(graph, t, v, p, q)
        observed = np.array([row.get(int(x), 0) for x in nbrs])
        assert observed.sum() == sum(row.values()), "a step left the graph"
        if observed.sum() >= 200 and nbrs.size > 1:
            p_values.append(stats.chisquare(observed, probs * observed.sum()).pvalue)
    assert len(p_values) >= 15
    # Bonferroni over all (prev, cur) states tested.
    assert min(p_values) > 0.001 / len(p_values)


def test_the_first_step_is_proportional_to_edge_weight():
    graph = small_graph()
    walks = node2vec_walks(
        graph, np.full(20000, 3), np.full(20000, 2), 1.0, 1.0, seed=1
    )
    second = np.array([w[1] for w in walks.to_list()])
    nbrs = graph.neighbours(3)
    weights = graph.weights[graph.indptr[3] : graph.indptr[4]]
    observed = np.array([(second == x).sum() for x in nbrs])
    expected = weights / weights.sum() * observed.sum()
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_the_same_seed_gives_the_same_walks_and_another_seed_differs():
    graph = small_graph()
    cfg = WalkConfig(walk_length=8, walks_per_node=3)
    a = random_walks(graph, cfg, seed=3)
    b = random_walks(graph, cfg, seed=3)
    c = random_walks(graph, cfg, seed=4)
    assert np.array_equal(a.flat, b.flat) and np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.flat, c.flat)


def test_uniform_starts_visit_every_item_equally_often():
    graph = small_graph()
    cfg = WalkConfig(walks_per_node=5, start="uniform")
    starts = walk_starts(graph, cfg, seed=0, first=0, stop=30)
    assert np.array_equal(np.bincount(starts, minlength=7)[1:], np.full(6, 5))
    # Any split into blocks concatenates to the same stream.
    parts = [walk_starts(graph, cfg, 0, lo, lo + 7) for lo in range(0, 28, 7)]
    assert np.array_equal(np.concatenate(parts), starts[:28])


def test_degree_starts_follow_the_degree_distribution():
    graph = small_graph()
    starts = walk_starts(graph, WalkConfig(start="degree"), seed=0, first=0, stop=30000)
    degrees = graph.degrees()[1:]
    observed = np.bincount(starts, minlength=7)[1:]
    assert stats.chisquare(observed, degrees / degrees.sum() * 30000).pvalue > 0.001


def test_real_lengths_are_drawn_from_history_lengths_and_clipped():
    graph = small_graph()
    cfg = WalkConfig(walk_length=5, walks_per_node=50, length="real")
    walks = random_walks(graph, cfg, seed=0, real_lengths=np.array([1, 3, 40]))
    lengths = np.diff(walks.offsets)
    assert set(np.unique(lengths)) == {2, 3, 5}


def test_walks_stop_early_at_a_dead_end_of_a_directed_graph():
    graph = csr_from_edges(np.array([1, 2]), np.array([2, 3]), np.ones(2), n_nodes=4)
    walks = node2vec_walks(graph, np.array([1]), np.array([10]), 1.0, 1.0, seed=0)
    assert walks[0].tolist() == [1, 2, 3]


def test_non_positive_p_or_q_is_a_clear_error():
    with pytest.raises(SynthrecError, match="p > 0"):
        node2vec_walks(small_graph(), np.array([1]), np.array([3]), 0.0, 1.0, seed=0)
