"""generate_corpus end to end on a small hand-made log, on a local Ray."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthrec.datasets.prepared import PreparedData
from synthrec.errors import SynthrecError
from synthrec.io import sha256_file
from synthrec.lm.tokenizer import count_tokens
from synthrec.sids.semantic_ids import SemanticIds
from synthrec.synth import (
    BudgetConfig,
    GeneralTextConfig,
    SynthConfig,
    WalkConfig,
    check_disjoint,
    generate_corpus,
    read_walk_sequences,
)
from synthrec.synth.graph import cooccurrence_pairs
from synthrec.synth.holdout import choose_holdout
from synthrec.synth.rules import mine_cf_rules

TRAIN_MODALITIES = {"item_text", "cf", "uih"}
EVAL_SETS = {
    "item_text",
    "cf_seen_pair",
    "cf_one_unseen",
    "cf_both_unseen",
    "uih_ood",
    "uih_full_graph",
    "uih_real",
}
SEED = 3

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------
# Inputs: a small clustered log with MovieLens item fields, and digit SIDs

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]


def tiny_prepared(n_users: int = 60, n_items: int = 40, seed: int = 0) -> PreparedData:
    """Users with 6-14 interactions drawn from clustered item neighbourhoods.

    Leave-one-out split: the last item of each user is test, the one before
    valid, the rest train. Items carry MovieLens fields, some of them missing.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        length = int(rng.integers(6, 15))
        centre = int(rng.integers(1, n_items + 1))
        offsets = rng.integers(-5, 6, size=length * 3)
        items = list(dict.fromkeys(((centre + offsets - 1) % n_items) + 1))[:length]
        for pos, item in enumerate(items):
            split = (
                "test"
                if pos == len(items) - 1
                else ("valid" if pos == len(items) - 2 else "train")
            )
            rows.append((user, int(item), 1_000_000 + 10 * pos, 4.0, split))
    interactions = pd.DataFrame(
        rows, columns=["user_idx", "item_idx", "timestamp", "rating", "split"]
    ).astype(
        {
            "user_idx": "int64",
            "item_idx": "int64",
            "timestamp": "int64",
            "rating": "float32",
        }
    )
    return PreparedData(
        interactions=interactions,
        items=tiny_items(n_items),
        n_users=n_users,
        n_items=n_items,
    )


def tiny_items(n_items: int) -> pd.DataFrame:
    idx = np.arange(1, n_items + 1)
    years = pd.array([1990 + i % 30 if i % 7 else None for i in idx], dtype="Int64")
    genres = [
        "|".join(GENRES[i % 6 : i % 6 + 1 + i % 3]) if i % 5 else "(no genres listed)"
        for i in idx
    ]
    return pd.DataFrame(
        {
            "item_idx": idx.astype(np.int64),
            "source_item_id": [str(i) for i in idx],
            "title": [
                f"Movie {i} ({1990 + i % 30})" if i % 11 else f"Film, The {i}"
                for i in idx
            ],
            "text": [f"Movie {i}" for i in idx],
            "year": years,
            "genres": genres,
            "tags": ["funny|dark" if i % 4 == 0 else "" for i in idx],
        }
    )


def tiny_sids(n_items: int, num_codes: int = 3, codebook: int = 16) -> SemanticIds:
    """Unique code tuples: item i -> digits of i in base `codebook`, per level."""
    codes = np.zeros((n_items + 1, num_codes), dtype=np.int64)
    for i in range(1, n_items + 1):
        value = i
        for level in range(num_codes - 1, -1, -1):
            codes[i, level] = level * codebook + value % codebook
            value //= codebook
    return SemanticIds(codes=codes, vocab_size=num_codes * codebook, method="digits")


# ---------------------------------------------------------------------------


def small_config(**changes) -> SynthConfig:
    cfg = SynthConfig(
        walks=WalkConfig(walk_length=8, walks_per_node=3),
        cf_holdout_item_fraction=0.2,
        cf_holdout_pair_fraction=0.2,
        holdout_user_fraction=0.1,
        max_eval_rows_per_set=40,
        num_blocks=3,
        rows_per_shard=50,
    )
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="module")
def inputs():
    prepared = tiny_prepared(n_users=80, n_items=60, seed=1)
    return prepared, tiny_sids(prepared.n_items)


@pytest.fixture(scope="module")
def corpus(ray_local, inputs, tmp_path_factory):
    prepared, sids = inputs
    out = tmp_path_factory.mktemp("corpus")
    manifest = generate_corpus(prepared, sids, small_config(), out, SEED)
    return out, manifest


def read(out: Path, manifest: dict, split: str, name: str) -> list[dict]:
    rows = []
    for entry in manifest["shards"]:
        if entry["split"] == split and entry["name"] == name:
            rows += pq.read_table(out / entry["path"]).to_pylist()
    return rows


def test_every_modality_and_eval_set_is_written_with_the_shard_schema(corpus):
    out, manifest = corpus
    assert set(manifest["totals"]["train"]) == TRAIN_MODALITIES
    assert set(manifest["totals"]["eval"]) == EVAL_SETS
    for entry in manifest["shards"]:
        path = out / entry["path"]
        assert path.parent == out / entry["split"] / entry["name"]
        table = pq.read_table(path)
        assert table.schema.field("text").type == "string"
        assert table.schema.field("num_tokens").type == "int64"
        item_ids = table.schema.field("item_ids").type
        assert pa.types.is_list(item_ids) and item_ids.value_type == pa.int64()
        texts = table.column("text").to_pylist()
        assert table.column("num_tokens").to_pylist() == count_tokens(texts).tolist()
        assert entry["rows"] == table.num_rows
        assert entry["tokens"] == sum(table.column("num_tokens").to_pylist())
        assert entry["sha256"] == sha256_file(path)
    assert manifest["totals"]["train"]["uih"]["shards"] >= 3
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_no_test_only_or_held_out_cooccurrence_leaks_into_training(corpus, inputs):
    out, manifest = corpus
    prepared, _ = inputs
    cfg = small_config()
    held = choose_holdout(
        prepared.n_items,
        prepared.n_users,
        cfg.cf_holdout_item_fraction,
        cfg.holdout_user_fraction,
        SEED,
    )
    train = [
        s
        for u, s in enumerate(prepared.sequences(("train",)))
        if u not in set(held.users.tolist())
    ]
    src, dst = cooccurrence_pairs(train, cfg.graph.window, cfg.graph.direction)
    allowed = set(zip(src.tolist(), dst.tolist(), strict=True))
    full_src, full_dst = cooccurrence_pairs(
        prepared.sequences(("train", "valid", "test")), cfg.graph.window, "both"
    )
    leaked = set(zip(full_src.tolist(), full_dst.tolist(), strict=True)) - allowed
    assert leaked, "the fixture should have test-only and held-out-user pairs"

    # Every step of every training walk is a training co-occurrence.
    steps = set()
    for walk in read_walk_sequences(out):
        steps.update(zip(walk[:-1].tolist(), walk[1:].tolist(), strict=True))
    assert steps and steps <= allowed and not steps & leaked

    # Every training CF rule is a rule of the training users' train split alone.
    rules = mine_cf_rules(train, prepared.n_items, cfg.rules)
    mined = set(zip(rules["antecedent"], rules["consequent"], strict=True))
    cf_pairs = {tuple(r["item_ids"]) for r in read(out, manifest, "train", "cf")}
    assert cf_pairs and cf_pairs <= mined


def test_eval_sets_are_disjoint_from_training_by_novelty_bucket(corpus, inputs):
    out, manifest = corpus
    prepared, _ = inputs
    cfg = small_config()
    held = choose_holdout(
        prepared.n_items,
        prepared.n_users,
        cfg.cf_holdout_item_fraction,
        cfg.holdout_user_fraction,
        SEED,
    )
    held_items = set(held.items.tolist())
    train_items = {r["item_ids"][0] for r in read(out, manifest, "train", "item_text")}
    eval_items = {r["item_ids"][0] for r in read(out, manifest, "eval", "item_text")}
    assert eval_items and eval_items <= held_items and not eval_items & train_items

    train_pairs = {tuple(r["item_ids"]) for r in read(out, manifest, "train", "cf")}
    for name, n_unseen in [
        ("cf_seen_pair", 0),
        ("cf_one_unseen", 1),
        ("cf_both_unseen", 2),
    ]:
        pairs = {tuple(r["item_ids"]) for r in read(out, manifest, "eval", name)}
        assert not pairs & train_pairs
        assert all(sum(i in held_items for i in p) == n_unseen for p in pairs)
    assert all(i not in held_items for p in train_pairs for i in p)
    assert manifest["checks"]["passed"]


def test_uih_eval_sets_come_from_test_items_held_out_users_and_the_full_graph(
    corpus, inputs
):
    out, manifest = corpus
    prepared, _ = inputs
    full = prepared.sequences(("train", "valid", "test"))
    frame = prepared.interactions
    test_items = set(frame.loc[frame["split"] == "test", "item_idx"].tolist())
    ood = read(out, manifest, "eval", "uih_ood")
    assert ood and all(r["item_ids"][-1] in test_items for r in ood)

    cfg = small_config()
    held = choose_holdout(
        prepared.n_items,
        prepared.n_users,
        cfg.cf_holdout_item_fraction,
        cfg.holdout_user_fraction,
        SEED,
    )
    histories = [full[u].tolist() for u in held.users]
    real = read(out, manifest, "eval", "uih_real")
    assert real
    for row in real:
        ids = row["item_ids"]
        assert any(ids == h[i : i + len(ids)] for h in histories for i in range(len(h)))
    assert (
        len(read(out, manifest, "eval", "uih_full_graph")) == cfg.max_eval_rows_per_set
    )


def test_a_rerun_with_the_same_config_and_seed_writes_the_same_bytes(
    corpus, inputs, tmp_path
):
    out, manifest = corpus
    prepared, sids = inputs
    again = generate_corpus(prepared, sids, small_config(), tmp_path, SEED)
    assert again == manifest
    assert (tmp_path / "manifest.json").read_bytes() == (
        out / "manifest.json"
    ).read_bytes()


def test_an_interrupted_run_resumes_by_skipping_finished_shards(
    corpus, inputs, tmp_path
):
    out, manifest = corpus
    prepared, sids = inputs
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    lost = [e for e in manifest["shards"] if e["name"] == "uih"][1]
    (tmp_path / lost["path"]).unlink()
    (tmp_path / "manifest.json").unlink()
    kept = tmp_path / manifest["shards"][0]["path"]
    before = kept.stat().st_mtime_ns

    resumed = generate_corpus(prepared, sids, small_config(), tmp_path, SEED)
    assert resumed == manifest
    assert kept.stat().st_mtime_ns == before


def test_token_budgets_stop_generation_and_grow_walks_past_one_round(
    ray_local, inputs, tmp_path
):
    prepared, sids = inputs
    natural = small_config()
    budget = BudgetConfig(tokens={"uih": 40_000, "item_text": 300})
    manifest = generate_corpus(
        prepared, sids, small_config(budget=budget), tmp_path, SEED
    )
    totals = manifest["totals"]["train"]
    max_walk = 15 + natural.walks.walk_length * 6
    assert 40_000 - max_walk < totals["uih"]["tokens"] <= 40_000
    assert totals["uih"]["rows"] > natural.walks.walks_per_node * prepared.n_items
    assert 300 - 40 < totals["item_text"]["tokens"] <= 300


def test_general_text_is_mixed_in_at_its_share_with_its_own_eval_set(
    ray_local, inputs, tmp_path
):
    prepared, sids = inputs
    source = tmp_path / "general.jsonl"
    docs = [
        {"text": f"Document number {i} talks about topic {i % 7} at length."}
        for i in range(400)
    ]
    source.write_text("\n".join(json.dumps(d) for d in docs))
    cfg = small_config(general=GeneralTextConfig(path=str(source), share=0.05))
    manifest = generate_corpus(prepared, sids, cfg, tmp_path / "corpus", SEED)
    train = manifest["totals"]["train"]
    share = train["general"]["tokens"] / manifest["totals"]["train_tokens"]
    assert 0.04 < share <= 0.05
    general_eval = {
        r["text"] for r in read(tmp_path / "corpus", manifest, "eval", "general")
    }
    general_train = {
        r["text"] for r in read(tmp_path / "corpus", manifest, "train", "general")
    }
    assert general_eval and not general_eval & general_train


def test_a_folder_of_another_config_is_replaced_not_mixed(corpus, inputs, tmp_path):
    out, manifest = corpus
    prepared, sids = inputs
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    other = generate_corpus(
        prepared, sids, small_config(rows_per_shard=40), tmp_path, SEED
    )
    paths = {e["path"] for e in other["shards"]}
    on_disk = {p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*/part-*")}
    assert on_disk == paths


def test_semantic_ids_for_another_catalogue_are_a_clear_error(
    ray_local, inputs, tmp_path
):
    prepared, _ = inputs
    with pytest.raises(SynthrecError, match="refit the SIDs"):
        generate_corpus(
            prepared, tiny_sids(prepared.n_items + 1), small_config(), tmp_path, 0
        )


def test_the_disjointness_check_catches_an_eval_row_in_a_training_shard(
    corpus, tmp_path
):
    out, manifest = corpus
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    leaked = pq.read_table(tmp_path / "eval" / "uih_real" / "part-00000.parquet")
    target = next(e for e in manifest["shards"] if e["name"] == "uih")
    path = tmp_path / target["path"]
    pq.write_table(pa.concat_tables([pq.read_table(path), leaked.slice(0, 1)]), path)
    with pytest.raises(SynthrecError, match="uih_real.text_in_train"):
        check_disjoint(tmp_path, manifest)
