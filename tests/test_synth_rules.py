"""CF rules against a brute-force pandas computation."""

import itertools

import numpy as np
import pandas as pd

from synthrec.synth.config import RulesConfig
from synthrec.synth.rules import mine_cf_rules


def random_sequences(n_users=80, n_items=25, seed=0):
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(n_items, 0.5))
    return [
        rng.choice(np.arange(1, n_items + 1), size=rng.integers(0, 12), p=popularity)
        for _ in range(n_users)
    ]


def brute_force_rules(sequences, cfg: RulesConfig) -> pd.DataFrame:
    """Every ordered pair, counted over user sets, then thresholds and top-k."""
    users = [set(s.tolist()) for s in sequences if len(s)]
    items = sorted(set().union(*users))
    rows = []
    for a, b in itertools.permutations(items, 2):
        with_a = sum(a in u for u in users)
        both = sum(a in u and b in u for u in users)
        p_b = sum(b in u for u in users) / len(users)
        if both < cfg.min_support_users:
            continue
        confidence = both / with_a
        lift = confidence / p_b
        if confidence >= cfg.min_confidence and lift >= cfg.min_lift:
            rows.append((a, b, both, both / len(users), confidence, lift))
    frame = pd.DataFrame(
        rows,
        columns=[
            "antecedent",
            "consequent",
            "n_users",
            "support",
            "confidence",
            "lift",
        ],
    )
    frame = frame.sort_values(
        ["antecedent", "confidence", "lift", "consequent"],
        ascending=[True, False, False, True],
    )
    if cfg.top_k_per_item:
        frame = frame.groupby("antecedent").head(cfg.top_k_per_item)
    return frame.reset_index(drop=True)


def test_rules_match_brute_force_with_thresholds_and_top_k():
    sequences = random_sequences()
    cfg = RulesConfig(
        min_support_users=3,
        min_confidence=0.2,
        min_lift=1.1,
        top_k_per_item=3,
        block_items=4,
    )
    got = mine_cf_rules(sequences, 25, cfg)
    want = brute_force_rules(sequences, cfg)
    assert len(want) > 20
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_rules_without_top_k_keep_every_pair_above_threshold():
    sequences = random_sequences(seed=1)
    cfg = RulesConfig(
        min_support_users=2, min_confidence=0.0, min_lift=0.0, top_k_per_item=0
    )
    got = mine_cf_rules(sequences, 25, cfg)
    want = brute_force_rules(sequences, cfg)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_repeated_items_in_a_history_count_once_per_user():
    sequences = [np.array([1, 1, 2]), np.array([1, 2, 2]), np.array([3])]
    cfg = RulesConfig(min_support_users=1, min_confidence=0.0, min_lift=0.0)
    rules = mine_cf_rules(sequences, 3, cfg).set_index(["antecedent", "consequent"])
    assert rules.loc[(1, 2), "n_users"] == 2
    assert rules.loc[(1, 2), "confidence"] == 1.0
    assert np.isclose(rules.loc[(1, 2), "lift"], 1.0 / (2 / 3))
