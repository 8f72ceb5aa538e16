"""No training structure sees held-out interactions (a planted pair proves it).

On real ml-latest-small data, two items that never co-occur in training are
planted as one user's valid and test items. The pair then co-occurs only in
held-out rows, so it must be absent from every structure built for training:
the item graph, the CF rules, the synthetic walks, and the items the semantic
IDs are fit on.
"""

import numpy as np
import pytest

from synthrec.datasets import DataConfig, prepare_dataset
from synthrec.synth import build_item_graph, random_walks, training_sequences
from synthrec.synth.config import SynthConfig
from synthrec.synth.rules import mine_rules_block, user_item_matrix


@pytest.fixture(scope="module")
def planted(tmp_path_factory, movielens_small_dir):
    cfg = DataConfig(path=str(movielens_small_dir), max_users=150)
    prepared = prepare_dataset(cfg, tmp_path_factory.mktemp("data"), seed=0)
    train = prepared.sequences(("train",))

    # Two train items (each liked by several users) that no user has both of.
    matrix = user_item_matrix(train, prepared.n_items).astype(np.int64)
    together = (matrix.T @ matrix).tocsr()
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    candidates = np.flatnonzero(counts >= 3)
    a, b = next(
        (int(x), int(y))
        for x in candidates
        for y in candidates
        if x < y and together[x, y] == 0
    )

    # Plant them as user 0's valid and test items.
    frame = prepared.interactions
    user0 = frame.index[frame["user_idx"] == 0]
    valid_row = user0[frame.loc[user0, "split"].to_numpy() == "valid"][0]
    test_row = user0[frame.loc[user0, "split"].to_numpy() == "test"][0]
    frame.loc[valid_row, "item_idx"] = a
    frame.loc[test_row, "item_idx"] = b
    return prepared, a, b


def test_the_planted_pair_is_absent_from_the_item_graph(planted):
    prepared, a, b = planted
    synth = SynthConfig()
    graph = build_item_graph(
        training_sequences(prepared, synth, 0), prepared.n_items, synth.graph
    )
    assert b not in graph.indices[graph.indptr[a] : graph.indptr[a + 1]]
    assert a not in graph.indices[graph.indptr[b] : graph.indptr[b + 1]]

    # The same builder does link them once held-out rows are (wrongly) included.
    leaky = build_item_graph(
        prepared.sequences(("train", "valid", "test")), prepared.n_items, synth.graph
    )
    assert b in leaky.indices[leaky.indptr[a] : leaky.indptr[a + 1]]


def test_the_planted_pair_is_in_no_cf_rule(planted):
    prepared, a, b = planted
    synth = SynthConfig()
    synth.rules.min_support_users = 1
    synth.rules.min_confidence = 0.0
    synth.rules.min_lift = 0.0
    synth.rules.top_k_per_item = 10_000
    matrix = user_item_matrix(training_sequences(prepared, synth, 0), prepared.n_items)
    rules = mine_rules_block(matrix, np.array([a, b]), synth.rules)
    pairs = set(zip(rules["antecedent"], rules["consequent"], strict=True))
    assert (a, b) not in pairs and (b, a) not in pairs
    assert len(rules) > 0  # the rule miner did run on these antecedents


def test_no_synthetic_walk_steps_between_the_planted_items(planted):
    prepared, a, b = planted
    synth = SynthConfig()
    graph = build_item_graph(
        training_sequences(prepared, synth, 0), prepared.n_items, synth.graph
    )
    walks = random_walks(graph, synth.walks, seed=0)
    assert len(walks) > 0
    for walk in walks.to_list():
        steps = set(zip(walk[:-1].tolist(), walk[1:].tolist(), strict=True))
        assert (a, b) not in steps and (b, a) not in steps


def test_semantic_ids_are_fit_only_on_items_seen_in_training(planted):
    prepared, _, _ = planted
    frame = prepared.interactions
    held_out_only = set(frame.loc[frame["split"] != "train", "item_idx"]) - set(
        frame.loc[frame["split"] == "train", "item_idx"]
    )
    assert held_out_only.isdisjoint(prepared.train_item_idx().tolist())
