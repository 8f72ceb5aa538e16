"""Training windows, leakage guards and the real-vs-synthetic comparison."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from synthrec.configtools import from_dict
from synthrec.datasets.prepared import PreparedData
from synthrec.errors import ConfigError, SynthrecError
from synthrec.sasrec import SasrecConfig, format_table, run_comparison
from synthrec.sasrec.config import ML1M_REFERENCE
from synthrec.sasrec.data import (
    BatchStream,
    make_eval_set,
    make_pool,
    train_sequences,
)
from synthrec.tracking import Tracker

NUM_ITEMS = 24
NUM_USERS = 30


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Many processes share this machine's 2 cores; spinning OpenMP threads
    # make small ops 50x slower when oversubscribed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def prepared_from(sequences: list[list[int]], num_items: int) -> PreparedData:
    """Leave-one-out PreparedData: per user last item test, second last valid."""
    rows = []
    for user, seq in enumerate(sequences):
        for pos, item in enumerate(seq):
            split = (
                "test"
                if pos == len(seq) - 1
                else "valid"
                if pos == len(seq) - 2
                else "train"
            )
            rows.append((user, item, 1000 * user + pos, np.nan, split))
    frame = pd.DataFrame(
        rows, columns=["user_idx", "item_idx", "timestamp", "rating", "split"]
    )
    items = pd.DataFrame({"item_idx": np.arange(1, num_items + 1)})
    return PreparedData(frame, items, len(sequences), num_items)


def cycle_data(seed: int = 0) -> tuple[PreparedData, list[np.ndarray]]:
    """Users walk the cycle 1..20 from random starts; walks follow the same cycle."""
    rng = np.random.default_rng(seed)
    cycle = np.arange(1, 21)
    users = [
        np.roll(cycle, -int(rng.integers(20)))[: int(rng.integers(6, 15))].tolist()
        for _ in range(NUM_USERS)
    ]
    walks = [np.roll(cycle, -int(s))[:10] for s in rng.integers(0, 20, size=60)]
    return prepared_from(users, NUM_ITEMS), walks


def tiny_config(**overrides) -> SasrecConfig:
    base = dict(
        hidden_size=16,
        num_blocks=1,
        dropout=0.0,
        max_seq_len=10,
        num_negatives=8,
        learning_rate=1e-2,
        batch_size=16,
        max_train_steps=40,
        eval_every_steps=20,
        patience_evals=5,
        ks=[1, 5, 10],
        ndcg_ks=[5],
        early_stopping_metric="ndcg@5",
        train_on=["real", "synthetic", "mix"],
        num_threads=1,
    )
    return from_dict(SasrecConfig, {**base, **overrides})


# -- windows and batches -----------------------------------------------------------


def test_all_windows_make_every_item_after_the_first_a_target_exactly_once():
    seq = np.arange(1, 24)
    pool = make_pool([seq], max_seq_len=5, name="t", windows="all")
    targets = []
    for window in pool.windows:
        inputs, shifted = window[:-1], window[1:]
        targets += shifted[inputs != 0].tolist()
    assert sorted(targets) == list(range(2, 24))
    assert pool.num_target_items == 22


def test_last_window_keeps_only_the_most_recent_items():
    pool = make_pool(
        [np.arange(1, 24), np.array([7])], max_seq_len=5, name="t", windows="last"
    )
    assert pool.windows.tolist() == [[18, 19, 20, 21, 22, 23]]


def test_a_mix_batch_takes_the_configured_share_from_each_pool():
    real = make_pool([np.array([1, 2, 3])] * 10, 4, "real")
    synthetic = make_pool([np.array([7, 8])] * 10, 4, "synthetic")
    stream = BatchStream([real, synthetic], [0.75, 0.25], 8, np.random.default_rng(0))
    inputs, targets = stream.next_batch()
    assert inputs.shape == (8, 2)  # cut to the longest window in the batch
    assert int((targets == 8).sum()) == 2 and int((targets == 3).sum()) == 6


def test_pools_refuse_padding_ids_and_sequences_too_short_to_train_on():
    with pytest.raises(SynthrecError, match="nothing to train on"):
        make_pool([np.array([3])], 5, "real")
    with pytest.raises(SynthrecError, match="item id < 1"):
        make_pool([np.array([3, 0, 4])], 5, "real")


# -- no test item visible during training --------------------------------------------


def test_valid_and_test_items_never_reach_training_batches():
    # Every valid and test item is a sentinel id that appears nowhere else.
    sequences = [[1, 2, 3, 4, 5, 30 + u, 60 + u] for u in range(20)]
    prepared = prepared_from(sequences, 90)
    pool = make_pool(train_sequences(prepared), 4, "real")
    stream = BatchStream([pool], [1.0], 7, np.random.default_rng(0))
    seen = set()
    for _ in range(20):
        inputs, targets = stream.next_batch()
        seen |= set(inputs.flatten().tolist()) | set(targets.flatten().tolist())
    assert seen <= {0, 1, 2, 3, 4, 5}

    valid = make_eval_set(prepared, ("train",), "valid")
    test = make_eval_set(prepared, ("train", "valid"), "test")
    assert valid.targets.tolist() == [30 + u for u in range(20)]
    assert all(h.max() <= 5 for h in valid.histories)
    assert test.targets.tolist() == [60 + u for u in range(20)]
    assert all(h[-1] == 30 + u and h.max() < 60 for u, h in enumerate(test.histories))


# -- the comparison -----------------------------------------------------------------


def test_comparison_learns_the_cycle_and_writes_a_summary_with_ratios(tmp_path):
    prepared, walks = cycle_data()
    summary = run_comparison(
        prepared, walks, tiny_config(), tmp_path, Tracker.disabled(), seed=0
    )

    assert summary["protocol"] == "full_ranking"
    assert {
        "real",
        "synthetic",
        "mix",
        "ratio_synthetic_over_real",
        "ratio_mix_over_real",
    } <= set(summary)
    # The next item is fully determined: every source should rank it near the top.
    for source in ("real", "synthetic", "mix"):
        assert summary[source]["recall@5"] >= 0.8, (source, summary[source])
    assert summary["ratio_synthetic_over_real"]["recall@5"] == pytest.approx(
        summary["synthetic"]["recall@5"] / summary["real"]["recall@5"]
    )
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["real"] == pytest.approx(summary["real"])
    assert (tmp_path / "real" / "seed0" / "best.pt").is_file()
    assert "synthetic/real" in format_table(summary)


def test_every_source_gets_the_same_number_of_optimiser_steps(tmp_path):
    prepared, walks = cycle_data()
    cfg = tiny_config(
        max_train_steps=12,
        eval_every_steps=5,
        patience_evals=10,
        save_checkpoints=False,
    )
    summary = run_comparison(prepared, walks, cfg, tmp_path, Tracker.disabled(), 0)
    assert {run["steps"] for run in summary["runs"]} == {12}


def test_an_items_budget_gives_every_source_the_same_number_of_target_items(tmp_path):
    prepared, walks = cycle_data()
    cfg = tiny_config(
        budget_unit="items",
        max_train_items=800,
        patience_evals=100,
        save_checkpoints=False,
    )
    summary = run_comparison(prepared, walks, cfg, tmp_path, Tracker.disabled(), 0)
    batch_items = 16 * cfg.max_seq_len
    for run in summary["runs"]:
        assert 800 <= run["items_seen"] < 800 + batch_items


def test_same_config_and_seed_give_the_same_summary_bytes(tmp_path):
    prepared, walks = cycle_data()
    cfg = tiny_config(
        max_train_steps=8,
        num_seeds=2,
        train_on=["real", "synthetic"],
        save_checkpoints=False,
    )
    for name in ("a", "b"):
        run_comparison(prepared, walks, cfg, tmp_path / name, Tracker.disabled(), 3)
    first = (tmp_path / "a" / "summary.json").read_bytes()
    assert first == (tmp_path / "b" / "summary.json").read_bytes()
    summary = json.loads(first)
    assert summary["seeds"] == [3, 4]
    assert "recall@10_std" in summary["real"]


def test_sampled_protocol_is_labelled_in_the_summary_and_the_table(tmp_path):
    sequences = [list(range(1 + u % 50, 9 + u % 50)) for u in range(40)]
    prepared = prepared_from(sequences, 130)
    cfg = tiny_config(
        protocol="sampled_100",
        train_on=["real"],
        max_train_steps=10,
        save_checkpoints=False,
    )
    summary = run_comparison(prepared, None, cfg, tmp_path, Tracker.disabled(), 0)
    assert summary["protocol"] == "sampled_100"
    assert "SAMPLED" in format_table(summary)
    assert "SAMPLED" in (tmp_path / "table.txt").read_text()


def test_missing_synthetic_sequences_leave_only_the_real_source(tmp_path):
    prepared, _ = cycle_data()
    cfg = tiny_config(max_train_steps=5, save_checkpoints=False)
    summary = run_comparison(prepared, None, cfg, tmp_path, Tracker.disabled(), 0)
    assert "real" in summary and "synthetic" not in summary and "mix" not in summary


def test_synthetic_item_ids_outside_the_catalogue_are_refused(tmp_path):
    prepared, _ = cycle_data()
    with pytest.raises(SynthrecError, match="n_items"):
        run_comparison(
            prepared,
            [np.array([1, 2, NUM_ITEMS + 5])],
            tiny_config(),
            tmp_path,
            Tracker.disabled(),
            0,
        )


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="sasrec.early_stopping_metric"):
        tiny_config(early_stopping_metric="ndcg@50")
    with pytest.raises(ConfigError, match="sasrec.mix_synthetic_fraction"):
        tiny_config(mix_synthetic_fraction=1.0)


def test_the_ml1m_reference_preset_is_a_valid_config():
    cfg = from_dict(SasrecConfig, ML1M_REFERENCE)
    assert (cfg.max_seq_len, cfg.loss, cfg.num_negatives) == (
        200,
        "sampled_softmax",
        128,
    )
