"""The data stage on the real ml-latest-small and on small hand-made logs."""

import re

import numpy as np
import pandas as pd
import pytest

from synthrec.configtools import from_dict
from synthrec.datasets import DataConfig, load_prepared, movielens, prepare_dataset
from synthrec.datasets.clean import kcore, leave_one_out, temporal_split
from synthrec.errors import ConfigError, SynthrecError
from synthrec.io import sha256_file

# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real(movielens_small_dir, tmp_path_factory):
    cfg = DataConfig(path=str(movielens_small_dir))
    out = tmp_path_factory.mktemp("ml_small")
    return cfg, out, prepare_dataset(cfg, out, seed=0)


def test_raw_ml_latest_small_has_its_published_counts(movielens_small_dir):
    raw = movielens.load(movielens_small_dir, DataConfig())
    assert len(raw.interactions) == 100_836
    assert raw.interactions["user_id"].nunique() == 610
    assert len(raw.items) == 9_742
    assert raw.interactions["timestamp"].dtype == np.int64


def test_prepared_ml_latest_small_keeps_every_user_and_rated_movie(real):
    _, _, data = real
    assert data.n_users == 610
    # 9,742 movies are listed; 9,724 of them have at least one rating.
    assert data.n_items == 9_724
    assert len(data.interactions) == 100_836
    counts = data.interactions["split"].value_counts()
    assert counts["test"] == 610 and counts["valid"] == 610


def test_interactions_follow_the_contract_schema(real):
    _, _, data = real
    frame = data.interactions
    assert frame["user_idx"].dtype == np.int64
    assert frame["item_idx"].dtype == np.int64
    assert frame["timestamp"].dtype == np.int64
    assert frame["rating"].dtype == np.float32
    assert frame["item_idx"].min() == 1 and frame["item_idx"].max() == data.n_items
    assert sorted(frame["user_idx"].unique()) == list(range(data.n_users))
    assert list(data.items["item_idx"]) == list(range(1, data.n_items + 1))
    assert data.items["year"].dtype == "Int64"


def test_rows_are_in_time_order_within_each_user(real):
    _, _, data = real
    frame = data.interactions
    users = frame["user_idx"].to_numpy()
    times = frame["timestamp"].to_numpy()
    same_user = users[1:] == users[:-1]
    assert (users[1:] >= users[:-1]).all()
    assert (times[1:][same_user] >= times[:-1][same_user]).all()


def test_leave_one_out_puts_each_users_last_event_in_test(real):
    _, _, data = real
    frame = data.interactions
    last = frame.groupby("user_idx").tail(1)
    second = frame.groupby("user_idx").nth(-2)
    assert (last["split"] == "test").all()
    assert (second["split"] == "valid").all()
    assert (frame.groupby("user_idx").head(1)["split"] == "train").all()


def test_ties_are_not_broken_by_movie_id(real):
    _, _, data = real
    frame = data.interactions.merge(data.items[["item_idx", "source_item_id"]])
    frame["movie"] = frame["source_item_id"].astype(int)
    tied = frame[frame.duplicated(["user_idx", "timestamp"], keep=False)]
    assert data.manifest["cleaning"]["tied_rows"] == len(tied)
    assert 0.2 < len(tied) / len(frame) < 0.26  # ~23% share (user, timestamp)
    ascending = tied.groupby(["user_idx", "timestamp"], sort=False)["movie"].apply(
        lambda s: s.is_monotonic_increasing
    )
    # A stable sort on time would leave every group in movie-id order.
    assert ascending.mean() < 0.75


def test_the_shuffle_within_ties_depends_on_the_seed(real, tmp_path):
    cfg, _, first = real
    other = prepare_dataset(cfg, tmp_path, seed=1)
    a, b = _source_sequences(first), _source_sequences(other)
    same_events = all(sorted(x) == sorted(y) for x, y in zip(a, b, strict=True))
    same_order = all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert same_events and not same_order


def _source_sequences(data) -> list[np.ndarray]:
    """Each user's full history as source item ids (item_idx depends on order)."""
    source = np.concatenate([[""], data.items["source_item_id"].to_numpy(str)])
    return [source[s] for s in data.sequences(("train", "valid", "test"))]


def test_prepare_reuses_its_cache_and_rebuilds_when_settings_change(real):
    cfg, out, _ = real
    stamp = (out / "interactions.parquet").stat().st_mtime_ns
    again = prepare_dataset(cfg, out, seed=0)
    assert (out / "interactions.parquet").stat().st_mtime_ns == stamp
    assert again.n_items == 9_724
    changed = DataConfig(path=cfg.path, min_rating=4.0)
    smaller = prepare_dataset(changed, out, seed=0)
    assert len(smaller.interactions) < 100_836
    assert load_prepared(out).manifest["config"]["min_rating"] == 4.0
    prepare_dataset(cfg, out, seed=0)  # leave the module fixture as it was


def test_same_config_and_seed_write_the_same_bytes(real, tmp_path):
    cfg, out, _ = real
    prepare_dataset(cfg, tmp_path, seed=0)
    for name in ("interactions.parquet", "items.parquet", "manifest.json"):
        if name == "manifest.json":
            a = (out / name).read_text().replace(str(out), "")
            b = (tmp_path / name).read_text().replace(str(tmp_path), "")
            assert a == b
        else:
            assert sha256_file(out / name) == sha256_file(tmp_path / name)


def test_max_users_keeps_a_seeded_subset(movielens_small_dir, tmp_path):
    cfg = DataConfig(path=str(movielens_small_dir), max_users=50)
    a = prepare_dataset(cfg, tmp_path / "a", seed=3)
    b = prepare_dataset(cfg, tmp_path / "b", seed=3)
    assert a.n_users == 50
    pd.testing.assert_frame_equal(a.interactions, b.interactions)


def test_item_text_reads_title_year_genres_and_tags(real):
    _, _, data = real
    toy = data.items[data.items["source_item_id"] == "1"].iloc[0]
    assert toy["title"] == "Toy Story" and toy["year"] == 1995
    assert toy["text"].startswith("Toy Story (1995). Genres: Adventure, Animation")
    assert "Tags: " in toy["text"]


def test_the_data_home_is_searched_when_no_path_is_given(
    movielens_small_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("SYNTHREC_DATA_HOME", str(movielens_small_dir.parent))
    data = prepare_dataset(DataConfig(max_users=20), tmp_path, seed=0)
    assert data.manifest["source_folder"] == str(movielens_small_dir)


# ---------------------------------------------------------------- pure steps


def _brute_kcore(pairs: list[tuple[int, int]], ku: int, ki: int) -> set:
    alive = set(pairs)
    while True:
        users = pd.Series([u for u, _ in alive]).value_counts()
        items = pd.Series([i for _, i in alive]).value_counts()
        keep = {(u, i) for u, i in alive if users[u] >= ku and items[i] >= ki}
        if keep == alive:
            return alive
        alive = keep


def test_kcore_matches_a_brute_force_fixed_point():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 400)
    items = rng.integers(0, 60, 400)
    pairs = sorted(set(zip(users.tolist(), items.tolist(), strict=True)))
    u = np.array([p[0] for p in pairs])
    i = np.array([p[1] for p in pairs])
    keep, rounds = kcore(u, i, 8, 5)
    expected = _brute_kcore(pairs, 8, 5)
    assert {pairs[k] for k in np.flatnonzero(keep)} == expected
    assert len(rounds) >= 2  # the fixture needs more than one pass


def test_leave_one_out_marks_last_two_per_user():
    codes = leave_one_out(np.array([0, 0, 0, 1, 1, 1, 1]))
    assert codes.tolist() == [0, 1, 2, 0, 0, 1, 2]


def test_temporal_split_cuts_at_the_quantiles():
    codes, valid_from, test_from = temporal_split(np.arange(1, 11), 0.8, 0.9)
    assert (valid_from, test_from) == (8, 9)
    assert codes.tolist() == [0] * 8 + [1, 2]


def test_an_unknown_config_key_or_bad_value_is_refused():
    with pytest.raises(ConfigError, match="min_user_interactions"):
        from_dict(DataConfig, {"min_user_interactions": 1})
    with pytest.raises(ConfigError, match="unknown config key"):
        from_dict(DataConfig, {"min_users": 5})


def test_an_unknown_dataset_lists_the_valid_names(tmp_path):
    with pytest.raises(SynthrecError, match="ml-latest-small.*merrec"):
        prepare_dataset(DataConfig(dataset="ml-2m"), tmp_path, seed=0)


def test_load_prepared_on_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(SynthrecError, match="synthrec data prepare"):
        load_prepared(tmp_path)


# ---------------------------------------------------------------- command line


def test_data_stats_prints_a_table_and_saves_json(
    movielens_small_dir, tmp_path, capsys
):
    from synthrec.cli import main
    from synthrec.io import read_json

    rc = main(
        [
            "data",
            "stats",
            "ml-latest-small",
            "--path",
            str(movielens_small_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert re.search(r"interactions\s+100,836\n", printed)
    assert re.search(r"source rows / items listed\s+100,836 / 9,742\n", printed)
    stats = read_json(tmp_path / "stats.json")
    assert stats["users"] == 610 and stats["tied_rows"] == 23_228
    assert stats["seq_len"]["min"] == 20


def test_data_prepare_reads_the_data_section_of_a_run_config(
    movielens_small_dir, tmp_path, capsys
):
    from synthrec.cli import main

    config = tmp_path / "run.yaml"
    config.write_text(
        f"seed: 4\ndata:\n  path: {movielens_small_dir}\n"
        "  max_users: 30\n  split: temporal\n"
    )
    assert main(["data", "prepare", str(config), "--out", str(tmp_path / "d")]) == 0
    data = load_prepared(tmp_path / "d")
    assert data.n_users == 30 and data.manifest["seed"] == 4
    assert "temporal_cuts" in data.manifest["cleaning"]


def test_a_bad_dataset_name_on_the_command_line_exits_2(capsys):
    from synthrec.cli import main

    assert main(["data", "stats", "ml-99m"]) == 2
    assert "unknown dataset 'ml-99m'" in capsys.readouterr().err


@pytest.mark.parametrize("policy", ["keep_first", "keep_last", "keep_all"])
def test_duplicate_mask_matches_a_brute_force_reference(policy):
    from synthrec.datasets.clean import duplicate_mask

    rng = np.random.default_rng(1)
    users = np.sort(rng.integers(0, 6, 300))
    times = rng.integers(0, 4, 300)
    order = np.lexsort((times, users))
    users, times = users[order], times[order]
    items = rng.integers(0, 8, 300)
    keep, exact, repeats = duplicate_mask(users, items, times, policy)

    seen_events, expected = set(), []
    for u, i, t in zip(users, items, times, strict=True):
        expected.append((u, i, t) not in seen_events)
        seen_events.add((u, i, t))
    expected = np.array(expected)
    assert exact == int((~expected).sum())
    rows = [(u, i) for u, i in zip(users[expected], items[expected], strict=True)]
    if policy == "keep_first":
        wanted = [rows.index(r) == k for k, r in enumerate(rows)]
    elif policy == "keep_last":
        wanted = [len(rows) - 1 - rows[::-1].index(r) == k for k, r in enumerate(rows)]
    else:
        wanted = [True] * len(rows)
    expected[np.flatnonzero(expected)] = wanted
    np.testing.assert_array_equal(keep, expected)
    assert repeats == int(len(rows) - sum(wanted))


@pytest.mark.parametrize("span", [10, 2**61], ids=["packed", "too-wide-to-pack"])
def test_stable_order_sorts_like_lexsort_and_keeps_ties_in_place(span):
    from synthrec.datasets.clean import stable_order

    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 5, 500), rng.integers(0, span, 500)
    c = np.zeros(500, dtype=np.int64)
    np.testing.assert_array_equal(stable_order(a, b, c), np.lexsort((c, b, a)))


def test_event_order_breaks_ties_by_the_random_rank_alone():
    from synthrec.datasets.clean import event_order

    rng = np.random.default_rng(3)
    users = rng.integers(0, 4, 400)
    times = rng.integers(0, 6, 400)
    sub = rng.integers(0, 2, 400)
    rank = rng.permutation(400)
    expected = np.lexsort((rank, sub, times, users))
    np.testing.assert_array_equal(event_order(users, times, sub, rank), expected)
