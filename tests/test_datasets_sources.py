"""Every source family read from small fixture files the tests write, and the
cleaning guarantees that must hold whatever the source."""

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthrec.datasets import (
    ColumnMap,
    DataConfig,
    TableConfig,
    prepare_dataset,
)
from synthrec.errors import SynthrecError

# ---------------------------------------------------------------- fixtures


def _log(
    n_users: int = 8, n_items: int = 12, per_user: int = 7, seed: int = 0
) -> pd.DataFrame:
    """A small rating log in MovieLens file order (per user, by movie id), with
    many events sharing a (user, timestamp)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        items = rng.choice(np.arange(1, n_items + 1), per_user, replace=False)
        times = 1_000_000_000 + rng.integers(0, 4, per_user) * 60 + user * 10_000
        ratings = rng.integers(1, 11, per_user) / 2
        rows += [
            (user, int(i), float(r), int(t))
            for i, r, t in zip(items, ratings, times, strict=True)
        ]
    frame = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    return frame.sort_values(["userId", "movieId"], kind="stable").reset_index(
        drop=True
    )


def _movies(n_items: int = 12) -> pd.DataFrame:
    titles = [f'"Film {i}, The ({1990 + i})"' for i in range(1, n_items + 1)]
    genres = [
        "Comedy|Drama" if i % 2 else "(no genres listed)" for i in range(1, n_items + 1)
    ]
    return pd.DataFrame(
        {"movieId": range(1, n_items + 1), "title": titles, "genres": genres}
    )


def write_ml_csv(folder: Path, ratings: pd.DataFrame | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (ratings if ratings is not None else _log()).to_csv(
        folder / "ratings.csv", index=False
    )
    movies = _movies()
    lines = ["movieId,title,genres"] + [
        f"{m},{t},{g}" for m, t, g in movies.itertuples(index=False)
    ]
    (folder / "movies.csv").write_text("\n".join(lines) + "\n")
    (folder / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n1,1,Funny,1\n2,1,funny,2\n3,1,dark,3\n"
    )
    return folder


def write_ml_dat(folder: Path, with_tags: bool) -> Path:
    """The `::` layout; movies.dat in Latin-1, as ml-1m ships it."""
    folder.mkdir(parents=True, exist_ok=True)
    ratings = _log()
    (folder / "ratings.dat").write_text(
        "\n".join(
            "::".join(str(v) for v in (u, i, int(r * 2) / 2, t))
            for u, i, r, t in ratings.itertuples(index=False)
        )
        + "\n"
    )
    lines = [
        f'{i}::Caf\xe9 "{i}": Part {i} ({1990 + i})::Comedy|Drama' for i in range(1, 13)
    ]
    (folder / "movies.dat").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    if with_tags:
        (folder / "tags.dat").write_text("1::2::scary::5\n2::2::Scary::6\n")
    return folder


def _prepare(tmp_path: Path, **fields) -> "object":
    cfg = DataConfig(**{"min_user_interactions": 3, **fields})
    return prepare_dataset(cfg, tmp_path / "out", seed=0)


# ---------------------------------------------------------------- families


def test_movielens_csv_fixture_loads_with_tags_and_quoted_titles(tmp_path):
    data = _prepare(tmp_path, path=str(write_ml_csv(tmp_path / "ml")))
    assert data.n_users == 8 and len(data.interactions) == 56
    film1 = data.items[data.items["source_item_id"] == "1"].iloc[0]
    assert film1["title"] == "Film 1, The" and film1["year"] == 1991
    assert film1["tags"] == "funny|dark"  # lower-cased, most frequent first
    assert film1["text"] == (
        "Film 1, The (1991). Genres: Comedy, Drama. Tags: funny, dark."
    )
    film2 = data.items[data.items["source_item_id"] == "2"].iloc[0]
    assert film2["genres"] == ""


@pytest.mark.parametrize("with_tags", [False, True], ids=["ml-1m", "ml-10m"])
def test_movielens_dat_layout_reads_latin1_titles(tmp_path, with_tags):
    data = _prepare(tmp_path, path=str(write_ml_dat(tmp_path / "ml", with_tags)))
    assert len(data.interactions) == 56
    film = data.items[data.items["source_item_id"] == "2"].iloc[0]
    assert film["title"] == 'Café "2": Part 2' and film["year"] == 1992
    assert ("Tags: scary." in film["text"]) == with_tags


def test_dat_and_csv_layouts_of_the_same_log_prepare_identically(tmp_path):
    a = _prepare(tmp_path / "a", path=str(write_ml_csv(tmp_path / "csv")))
    b = _prepare(tmp_path / "b", path=str(write_ml_dat(tmp_path / "dat", False)))
    pd.testing.assert_frame_equal(a.interactions, b.interactions)


def _amazon_files(folder: Path, duplicate_meta: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    reviews = []
    for user in range(5):
        for k in range(4):
            # Two reviews share each second; the milliseconds order them.
            ms = 1_600_000_000_000 + user * 86_400_000 + (k // 2) * 1000 + (3 - k)
            reviews.append(
                {
                    "rating": 5.0 - k,
                    "title": "t",
                    "text": "long text",
                    "images": [],
                    "asin": f"A{k}",
                    "parent_asin": f"P{k + user}",
                    "user_id": f"U{user}",
                    "timestamp": ms,
                    "helpful_vote": 0,
                    "verified_purchase": True,
                }
            )
    with gzip.open(folder / "All_Beauty.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in reviews)
    meta = [
        {
            "main_category": "Beauty",
            "title": f"Item {i}",
            "store": "Acme",
            "categories": ["Beauty", "Hair"] if i % 2 else [],
            "description": ["Soft.", "Gentle."],
            "features": [],
            "details": {},
            "parent_asin": f"P{i}",
            "price": None,
        }
        for i in range(8)
    ]
    if duplicate_meta:
        meta.append(meta[0])
    (folder / "meta_All_Beauty.jsonl").write_text(
        "".join(json.dumps(m) + "\n" for m in meta)
    )
    return folder


def test_amazon_2023_reviews_and_metadata_load(tmp_path):
    data = _prepare(
        tmp_path,
        dataset="amazon2023-All_Beauty",
        path=str(_amazon_files(tmp_path / "amz")),
    )
    assert data.n_users == 5 and len(data.interactions) == 20
    assert data.manifest["cleaning"]["tie_break"] == "source order"
    p1 = data.items[data.items["source_item_id"] == "P1"].iloc[0]
    assert p1["text"] == (
        "Item 1. Store: Acme. Category: Beauty > Hair. Description: Soft. Gentle.."
    )
    # Milliseconds order the events within a second: k=1 (3-1 ms) before k=0.
    first_user = data.interactions[data.interactions["user_idx"] == 0]
    assert first_user["rating"].tolist() == [4.0, 5.0, 2.0, 3.0]


def test_duplicate_item_metadata_is_refused_or_skipped(tmp_path):
    folder = _amazon_files(tmp_path / "amz", duplicate_meta=True)
    with pytest.raises(SynthrecError, match="repeating an item's metadata.*'P0'"):
        _prepare(tmp_path, dataset="amazon2023-All_Beauty", path=str(folder))
    data = _prepare(
        tmp_path, dataset="amazon2023-All_Beauty", path=str(folder), bad_rows="skip"
    )
    skipped = data.manifest["cleaning"]["skipped_rows"]
    assert skipped == {"meta_All_Beauty.jsonl: rows repeating an item's metadata": 1}


def _merrec_shards(folder: Path) -> Path:
    (folder / "20230501").mkdir(parents=True)
    rows = []
    for user in range(4):
        for k in range(6):
            rows.append(
                {
                    "user_id": user,
                    "item_id": 100 + (user + k) % 7,
                    "event_id": "item_view" if k % 3 else "item_like",
                    "stime": pd.Timestamp("2023-05-01", tz="UTC")
                    + pd.Timedelta(hours=user, seconds=k, milliseconds=250),
                    "name": f"Thing {(user + k) % 7}",
                    "brand_name": "Brand",
                    "c0_name": "Women",
                    "c1_name": "Tops",
                    "c2_name": "Shirts",
                    "price": 10.0,
                }
            )
    frame = pd.DataFrame(rows)
    frame.iloc[:12].to_parquet(folder / "20230501" / "part-0.parquet")
    frame.iloc[12:].to_parquet(folder / "20230501" / "part-1.parquet")
    return folder


def test_merrec_shards_load_with_event_types_as_the_implicit_rule(tmp_path):
    folder = _merrec_shards(tmp_path / "merrec")
    everything = _prepare(tmp_path / "all", dataset="merrec", path=str(folder))
    assert len(everything.interactions) == 24
    assert set(everything.interactions["event"]) == {"item_view", "item_like"}
    views = _prepare(
        tmp_path / "views",
        dataset="merrec",
        path=str(folder),
        event_types=["item_view"],
    )
    assert len(views.interactions) == 16
    assert views.interactions["timestamp"].iloc[0] == 1_682_899_200 + 1
    assert "brand_name: Brand. c0_name: Women." in views.items["text"].iloc[0]
    with pytest.raises(SynthrecError, match="never occur"):
        _prepare(
            tmp_path / "x", dataset="merrec", path=str(folder), event_types=["buy_comp"]
        )


def _generic_table(fmt: str) -> TableConfig:
    return TableConfig(
        interactions_file=f"log.{fmt}",
        items_file=f"items.{fmt}",
        columns=ColumnMap(
            user="who",
            item="what",
            timestamp="when",
            rating="stars",
            title="name",
            item_text=["color"],
        ),
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_a_generic_table_loads_through_its_column_mapping(tmp_path, fmt):
    log = _log().rename(
        columns={
            "userId": "who",
            "movieId": "what",
            "timestamp": "when",
            "rating": "stars",
        }
    )
    log["what"] = log["what"].map(lambda i: f"{i:03d}")  # ids like "007"
    items = pd.DataFrame(
        {
            "what": [f"{i:03d}" for i in range(1, 13)],
            "name": [f"N{i}" for i in range(1, 13)],
            "color": ["red", ""] * 6,
        }
    )
    folder = tmp_path / "t"
    folder.mkdir()
    for frame, name in ((log, "log"), (items, "items")):
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        elif fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet")
        else:
            frame.to_json(folder / f"{name}.jsonl", orient="records", lines=True)
    data = _prepare(
        tmp_path, dataset="table", path=str(folder), table=_generic_table(fmt)
    )
    assert len(data.interactions) == 56
    assert set(data.items["source_item_id"]) <= {f"{i:03d}" for i in range(1, 13)}
    assert (
        data.items.set_index("source_item_id").loc["001", "text"] == "N1. color: red."
    )


# ---------------------------------------------------------------- bad input


def _csv_table(tmp_path: Path, text: str, **fields) -> object:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "log.csv").write_bytes(
        text.encode("latin-1") if isinstance(text, str) else text
    )
    table = TableConfig(interactions_file="log.csv")
    return _prepare(
        tmp_path, dataset="table", path=str(tmp_path), table=table, **fields
    )


_GOOD = "".join(
    f"u{u},i{(u + k) % 5},{1_000_000 + 10 * k}\n" for u in range(3) for k in range(4)
)
_HEADER = "user_id,item_id,timestamp\n"


def test_a_malformed_row_is_named_by_line_or_skipped_and_counted(tmp_path):
    text = _HEADER + _GOOD + "u1,i2,5,extra\n"
    with pytest.raises(SynthrecError, match=r"log.csv: malformed row at line 14"):
        _csv_table(tmp_path, text)
    data = _csv_table(tmp_path, text, bad_rows="skip")
    assert len(data.interactions) == 12
    assert list(data.manifest["cleaning"]["skipped_rows"].values()) == [1]


def test_missing_columns_are_named(tmp_path):
    with pytest.raises(SynthrecError, match="missing column.*timestamp.*found"):
        _csv_table(tmp_path, "user_id,item_id,time\nu,i,1\n")


def test_an_empty_file_or_a_header_alone_is_refused(tmp_path):
    with pytest.raises(SynthrecError, match="file is empty"):
        _csv_table(tmp_path, "")
    with pytest.raises(SynthrecError, match="no data rows"):
        _csv_table(tmp_path, _HEADER)


def test_non_utf8_text_is_named_or_replaced(tmp_path):
    text = _HEADER + _GOOD + "caf\xe9,i1,1000050\n"
    with pytest.raises(SynthrecError, match="not UTF-8 text at line 14"):
        _csv_table(tmp_path, text)
    data = _csv_table(tmp_path, text, bad_rows="skip")
    assert data.manifest["cleaning"]["skipped_rows"] == {
        "log.csv: rows with non-UTF-8 bytes (replaced, kept)": 1
    }
    assert data.n_users == 3  # the replaced-name user has one event: k-core drops it
    latin = _csv_table(tmp_path / "l", text, encoding="latin-1")
    assert len(latin.interactions) == 12


def test_timestamps_in_mixed_units_are_refused_or_the_minority_dropped(tmp_path):
    text = (
        _HEADER
        + "".join(
            f"u{u},i{(u + k) % 5},{1_600_000_000 + 10 * k}\n"
            for u in range(3)
            for k in range(4)
        )
        + "u0,i4,1600000000123\n"
    )
    with pytest.raises(SynthrecError, match=r"mix units \(12 in s, 1 in ms\)"):
        _csv_table(tmp_path, text)
    data = _csv_table(tmp_path, text, bad_rows="skip")
    assert len(data.interactions) == 12
    assert data.interactions["timestamp"].max() < 1_700_000_000


def test_nans_in_ids_or_timestamps_are_bad_rows(tmp_path):
    text = _HEADER + _GOOD + "u1,,1000100\nu1,i3,\nu1,i3,soon\n"
    with pytest.raises(SynthrecError, match="no 'item_id'"):
        _csv_table(tmp_path, text)
    data = _csv_table(tmp_path, text, bad_rows="skip")
    assert len(data.interactions) == 12
    assert sum(data.manifest["cleaning"]["skipped_rows"].values()) == 3


def test_float32_rounding_would_create_ties_but_int64_keeps_seconds(tmp_path):
    text = _HEADER + "".join(f"u0,i{k},{1_600_000_001 + k}\n" for k in range(5))
    data = _csv_table(tmp_path, text)
    assert data.interactions["timestamp"].tolist() == list(
        range(1_600_000_001, 1_600_000_006)
    )
    assert np.unique(np.float32(data.interactions["timestamp"])).size == 1
    assert data.manifest["cleaning"]["tied_rows"] == 0


# ---------------------------------------------------------------- guarantees


def test_renumbering_items_leaves_the_splits_unchanged(tmp_path):
    ratings = _log(n_users=30, n_items=40, per_user=9)
    renumber = dict(
        zip(
            range(1, 41),
            np.random.default_rng(5).permutation(np.arange(501, 541)).tolist(),
            strict=True,
        )
    )
    renamed = ratings.assign(movieId=ratings["movieId"].map(renumber))
    a = _prepare(tmp_path / "a", path=str(write_ml_csv(tmp_path / "x", ratings)))
    b = _prepare(tmp_path / "b", path=str(write_ml_csv(tmp_path / "y", renamed)))
    # Same rows in the same file order, other ids: identical tables.
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    back = {str(v): str(k) for k, v in renumber.items()}
    assert (
        b.items["source_item_id"].map(back).tolist()
        == a.items["source_item_id"].tolist()
    )


def test_tied_last_events_are_not_resolved_by_movie_id(tmp_path):
    data = _prepare(tmp_path, path=str(write_ml_csv(tmp_path / "ml", _log(n_users=40))))
    frame = data.interactions.merge(data.items[["item_idx", "source_item_id"]])
    frame["movie"] = frame["source_item_id"].astype(int)
    last = frame.groupby("user_idx")["timestamp"].transform("max")
    at_last = frame[frame["timestamp"] == last]
    tied = at_last.groupby("user_idx").filter(lambda g: len(g) > 1)
    test_is_max = tied.groupby("user_idx").apply(
        lambda g: g.loc[g["split"] == "test", "movie"].item() == g["movie"].max()
    )
    # A stable sort on time over this movie-id-ordered file would make the test
    # item the largest movie id of every tied group.
    assert len(test_is_max) >= 10 and test_is_max.mean() < 0.8


def _planted_log(split_after: int) -> pd.DataFrame:
    """A log where items 901 and 902 co-occur only after `split_after`."""
    ratings = _log(n_users=20, n_items=30, per_user=8)
    late = []
    for user in range(1, 7):
        t = int(ratings.loc[ratings["userId"] == user, "timestamp"].max())
        late += [
            (user, 901, 4.0, max(t, split_after) + 1),
            (user, 902, 4.0, max(t, split_after) + 2),
        ]
    late = pd.DataFrame(late, columns=ratings.columns)
    return pd.concat([ratings, late]).sort_values(["userId", "movieId"], kind="stable")


def _item_idx(data, source_id: str) -> int:
    items = data.items.set_index("source_item_id")["item_idx"]
    return int(items[source_id])


@pytest.mark.parametrize("split", ["leave_one_out", "temporal"])
def test_a_pair_planted_only_in_held_out_rows_never_reaches_training(tmp_path, split):
    planted = _planted_log(split_after=1_000_300_000)
    data = _prepare(
        tmp_path,
        path=str(write_ml_csv(tmp_path / "ml", planted)),
        split=split,
        temporal_valid_quantile=0.7,
        temporal_test_quantile=0.85,
    )
    a, b = _item_idx(data, "901"), _item_idx(data, "902")
    for seq in data.sequences(("train",)):
        assert not (a in seq and b in seq)
    assert b not in data.train_item_idx()
    held_out = data.sequences(("valid", "test"))
    assert sum(a in s and b in s for s in held_out) == 6


def test_kcore_drops_sparse_users_and_items_until_stable(tmp_path):
    ratings = _log(n_users=10, n_items=15, per_user=6)
    sparse = pd.DataFrame(
        [
            (99, 1, 3.0, 1_000_000_001),
            (99, 2, 3.0, 1_000_000_002),
            (98, 77, 3.0, 1_000_000_001),
        ],
        columns=ratings.columns,
    )
    folder = write_ml_csv(tmp_path / "ml", pd.concat([ratings, sparse]))
    data = _prepare(
        tmp_path, path=str(folder), min_user_interactions=5, min_item_interactions=2
    )
    users = data.interactions.groupby("user_idx").size()
    items = data.interactions.groupby("item_idx").size()
    assert users.min() >= 5 and items.min() >= 2
    assert "77" not in set(data.items["source_item_id"])


def test_dedupe_keeps_the_first_or_last_repeat_and_collapses_exact_copies(tmp_path):
    text = _HEADER + _GOOD + "u0,i1,2000000\nu0,i1,2000000\n"
    first = _csv_table(tmp_path / "f", text)
    report = first.manifest["cleaning"]
    assert report["duplicates_exact"] == 1 and report["duplicates_repeated_pairs"] == 1
    keep_all = _csv_table(tmp_path / "a", text, dedupe="keep_all")
    assert len(keep_all.interactions) == len(first.interactions) + 1
    last = _csv_table(tmp_path / "l", text, dedupe="keep_last")
    u0 = last.interactions[last.interactions["user_idx"] == 0]
    assert u0["timestamp"].max() == 2_000_000


def test_min_rating_keeps_only_liked_items(tmp_path):
    data = _prepare(
        tmp_path,
        path=str(write_ml_csv(tmp_path / "ml", _log(per_user=12))),
        min_rating=3.0,
    )
    assert (data.interactions["rating"] >= 3.0).all()


def test_the_cache_rebuilds_when_a_source_file_changes(tmp_path):
    folder = write_ml_csv(tmp_path / "ml")
    cfg = DataConfig(path=str(folder), min_user_interactions=3)
    first = prepare_dataset(cfg, tmp_path / "out", seed=0)
    ratings = pd.read_csv(folder / "ratings.csv")
    ratings.iloc[:-1].to_csv(folder / "ratings.csv", index=False)
    second = prepare_dataset(replace(cfg), tmp_path / "out", seed=0)
    assert len(second.interactions) == len(first.interactions) - 1


def test_a_tampered_cached_table_is_rebuilt_not_trusted(tmp_path):
    folder = write_ml_csv(tmp_path / "ml")
    cfg = DataConfig(path=str(folder), min_user_interactions=3)
    first = prepare_dataset(cfg, tmp_path / "out", seed=0)
    items = tmp_path / "out" / "items.parquet"
    first.items.iloc[:3].to_parquet(items)
    again = prepare_dataset(cfg, tmp_path / "out", seed=0)
    assert len(again.items) == first.n_items
    assert len(pd.read_parquet(items)) == first.n_items


def test_a_rating_that_is_not_a_number_is_named(tmp_path):
    ratings = _log().astype({"rating": object})
    ratings.loc[5, "rating"] = "four"
    folder = write_ml_csv(tmp_path / "ml", ratings)
    with pytest.raises(SynthrecError, match=r"non-numeric 'rating'.*data row 6"):
        _prepare(tmp_path, path=str(folder))
    data = _prepare(tmp_path, path=str(folder), bad_rows="skip")
    assert len(data.interactions) == 55


def test_non_utf8_bytes_in_an_untyped_column_are_caught_too(tmp_path):
    folder = write_ml_csv(tmp_path / "ml")
    lines = (folder / "ratings.csv").read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b".", b"\xe9", 1)  # a rating like 4\xe95
    (folder / "ratings.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(SynthrecError, match="ratings.csv: not UTF-8 text at line 4"):
        _prepare(tmp_path, path=str(folder))
    data = _prepare(tmp_path, path=str(folder), bad_rows="skip")
    assert len(data.interactions) == 55  # the row's rating is no longer a number


def test_a_single_log_file_with_event_ids_orders_ties_by_them(tmp_path):
    rows = [
        {
            "u": "a",
            "i": f"x{k}",
            "t": 1_700_000_000,
            "seq": 10 - k,
            "kind": "view",
            "name": f"Thing {k}",
            "brand": "B",
        }
        for k in range(5)
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = TableConfig(
        columns=ColumnMap(
            user="u",
            item="i",
            timestamp="t",
            event="kind",
            event_order="seq",
            title="name",
            item_text=["brand"],
        )
    )
    data = _prepare(tmp_path, dataset="table", path=str(path), table=table)
    source = data.items.set_index("item_idx")["source_item_id"]
    ordered = source[data.interactions["item_idx"]].tolist()
    assert ordered == ["x4", "x3", "x2", "x1", "x0"]  # by seq, not by file order
    assert data.manifest["cleaning"]["tie_break"] == "source order"
    assert (
        data.items.set_index("source_item_id").loc["x0", "text"] == "Thing 0. brand: B."
    )
