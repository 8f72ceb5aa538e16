"""Ranking metrics against hand-computed rankings and a brute-force reference."""

import math

import numpy as np
import pytest
import torch

from synthrec.sasrec.metrics import (
    exclusion_mask,
    full_ranks,
    ndcg_at_k,
    padding_only_mask,
    recall_at_k,
    reciprocal_rank,
    sample_negatives,
    sampled_ranks,
    summarize_ranks,
)

# Columns: padding, items 1..5. Item 3 scores 0.3; items 2 (0.5) and 4 (0.9) beat it.
SCORES = torch.tensor([[9.0, 0.1, 0.5, 0.3, 0.9, 0.2]])
TARGET = np.array([3])


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Many processes share this machine's 2 cores; spinning OpenMP threads
    # make small ops 50x slower when oversubscribed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_full_rank_counts_items_scored_above_the_target_and_never_padding():
    rank = full_ranks(SCORES, torch.from_numpy(TARGET), padding_only_mask(1, 6))
    assert rank.tolist() == [2]


def test_history_items_are_dropped_from_the_ranking():
    excluded = exclusion_mask([np.array([4, 1])], TARGET, 6)
    assert full_ranks(SCORES, torch.from_numpy(TARGET), excluded).tolist() == [1]


def test_a_target_inside_the_history_stays_rankable():
    excluded = exclusion_mask([np.array([3, 4])], TARGET, 6)
    assert not excluded[0, 3]
    assert excluded[0, 4] and excluded[0, 0]
    assert full_ranks(SCORES, torch.from_numpy(TARGET), excluded).tolist() == [1]


def test_ties_count_against_the_target_so_a_constant_scorer_ranks_last():
    scores = torch.zeros(1, 6)
    rank = full_ranks(scores, torch.from_numpy(TARGET), padding_only_mask(1, 6))
    assert rank.tolist() == [4]


def test_full_ranks_match_a_sorting_reference_on_random_scores():
    rng = np.random.default_rng(0)
    scores = torch.from_numpy(rng.normal(size=(20, 50)))
    targets = rng.integers(1, 50, size=20)
    histories = [rng.choice(np.arange(1, 50), size=7, replace=False) for _ in range(20)]
    ranks = full_ranks(
        scores, torch.from_numpy(targets), exclusion_mask(histories, targets, 50)
    )
    for row in range(20):
        candidates = [
            i for i in range(1, 50) if i == targets[row] or i not in set(histories[row])
        ]
        order = sorted(candidates, key=lambda i: -float(scores[row, i]))
        assert ranks[row] == order.index(targets[row])


def test_sampled_rank_compares_the_target_with_its_negatives_only():
    negatives = torch.tensor([[1, 4, 5]])  # scores 0.1, 0.9, 0.2 vs target 0.3
    assert sampled_ranks(SCORES, torch.from_numpy(TARGET), negatives).tolist() == [1]


def test_recall_ndcg_and_mrr_match_hand_computed_values():
    ranks = np.array([0, 1, 4, 10])
    assert recall_at_k(ranks, 5).mean() == pytest.approx(0.75)
    expected_ndcg = (1 + 1 / math.log2(3) + 1 / math.log2(6) + 0) / 4
    assert ndcg_at_k(ranks, 5).mean() == pytest.approx(expected_ndcg)
    assert reciprocal_rank(ranks).mean() == pytest.approx(
        (1 + 1 / 2 + 1 / 5 + 1 / 11) / 4
    )


def test_summary_names_every_cutoff_and_mrr():
    out = summarize_ranks(np.array([0, 99, 150]), ks=[10, 100], ndcg_ks=[10])
    assert out == pytest.approx(
        {
            "recall@10": 1 / 3,
            "recall@100": 2 / 3,
            "ndcg@10": 1 / 3,
            "mrr": (1 + 1 / 100 + 1 / 151) / 3,
        }
    )


def test_summary_of_no_users_is_an_error():
    with pytest.raises(ValueError, match="no users"):
        summarize_ranks(np.array([]), ks=[10], ndcg_ks=[10])


def test_sampled_negatives_avoid_history_and_target_and_repeat_with_the_seed():
    histories = [np.arange(1, 150), np.array([5, 6])]
    targets = np.array([150, 7])
    first = sample_negatives(
        np.random.default_rng(3), histories, targets, num_items=300
    )
    again = sample_negatives(
        np.random.default_rng(3), histories, targets, num_items=300
    )
    assert np.array_equal(first, again)
    assert first.shape == (2, 100)
    for row, (history, target) in enumerate(zip(histories, targets, strict=True)):
        assert len(set(first[row])) == 100
        assert not set(first[row]) & {*history.tolist(), int(target)}
        assert first[row].min() >= 1 and first[row].max() <= 300


def test_sampled_negatives_refuse_a_catalogue_too_small_for_the_protocol():
    with pytest.raises(ValueError, match="needs 100"):
        sample_negatives(
            np.random.default_rng(0), [np.arange(1, 20)], np.array([20]), 110
        )
