"""The item graph against brute-force pair counting."""

from collections import Counter

import numpy as np
import pytest

from synthrec.errors import SynthrecError
from synthrec.synth.config import GraphConfig
from synthrec.synth.graph import build_item_graph


def brute_force_counts(sequences, window, direction):
    counts = Counter()
    for seq in sequences:
        for i, a in enumerate(seq):
            for b in seq[i + 1 : i + 1 + window]:
                if a != b:
                    counts[(int(a), int(b))] += 1
                    if direction == "both":
                        counts[(int(b), int(a))] += 1
    return counts


def graph_dict(graph):
    out = {}
    for v in range(graph.n_nodes):
        lo, hi = graph.indptr[v], graph.indptr[v + 1]
        for x, w in zip(graph.indices[lo:hi], graph.weights[lo:hi], strict=True):
            out[(v, int(x))] = float(w)
    return out


SEQUENCES = [
    np.array([1, 2, 3, 4, 2]),
    np.array([3, 1, 2]),
    np.array([5]),
    np.array([4, 5, 1]),
]


@pytest.mark.parametrize(
    "window,direction", [(1, "forward"), (2, "both"), (3, "forward")]
)
def test_count_weights_equal_windowed_cooccurrence_counts(window, direction):
    cfg = GraphConfig(window=window, direction=direction, top_k=0)
    graph = build_item_graph(SEQUENCES, 5, cfg)
    want = {
        k: float(v) for k, v in brute_force_counts(SEQUENCES, window, direction).items()
    }
    assert graph_dict(graph) == want


def test_rows_are_sorted_and_padding_has_no_edges():
    graph = build_item_graph(SEQUENCES, 5, GraphConfig(window=3))
    assert graph.degrees()[0] == 0
    for v in range(graph.n_nodes):
        assert np.all(np.diff(graph.neighbours(v)) > 0)


def test_min_support_and_top_k_prune_the_lightest_edges():
    cfg = GraphConfig(window=2, direction="both", min_support=2, top_k=1)
    graph = build_item_graph(SEQUENCES, 5, cfg)
    counts = brute_force_counts(SEQUENCES, 2, "both")
    kept = graph_dict(graph)
    assert all(counts[k] >= 2 for k in kept)
    assert np.all(graph.degrees() <= 1)
    # Node 1 ties between 2 and 3 (both seen twice): the lower id wins.
    assert kept[(1, 2)] == 2.0 and (1, 3) not in kept


def test_lift_weights_follow_their_formula():
    cfg = GraphConfig(window=2, direction="both", weighting="lift", top_k=0)
    graph = build_item_graph(SEQUENCES, 5, cfg)
    counts = brute_force_counts(SEQUENCES, 2, "both")
    total = sum(counts.values())
    out_total = Counter()
    for (a, _), c in counts.items():
        out_total[a] += c
    for (a, b), w in graph_dict(graph).items():
        assert np.isclose(w, counts[(a, b)] * total / (out_total[a] * out_total[b]))


def test_item_ids_outside_the_catalogue_are_rejected():
    with pytest.raises(SynthrecError, match="1..5"):
        build_item_graph([np.array([1, 9])], 5, GraphConfig())
