"""Semantic IDs: tokenisers recover structure, codes are unique and reproducible."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, homogeneity_score

from synthrec.errors import SynthrecError
from synthrec.sids import SemanticIds, SidConfig, fit_semantic_ids
from synthrec.sids.embed import embed_items
from synthrec.sids.fit import TOKENISERS
from synthrec.sids.rq_kmeans import rq_kmeans_tokenise
from synthrec.sids.unique import collision_rate, disambiguate

N_CLUSTERS = 6
WORDS = [
    "space alien rocket",
    "love romance wedding",
    "murder detective crime",
    "dragon wizard magic",
    "war soldier battle",
    "cartoon family kids",
]


def clustered_embeddings(
    n_per: int = 60, dim: int = 16, noise: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm points around N_CLUSTERS well separated directions, with labels."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:N_CLUSTERS]
    labels = np.repeat(np.arange(N_CLUSTERS), n_per)
    x = centres[labels] + noise * rng.normal(size=(len(labels), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels


def clustered_items(n_per: int = 40, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Item texts drawn from N_CLUSTERS topic vocabularies, with topic labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(N_CLUSTERS), n_per)
    texts = []
    for i, label in enumerate(labels):
        own = WORDS[label].split()
        noise = rng.choice(["the", "a", "story", "film", "movie", "night"], size=2)
        texts.append(f"title{i} " + " ".join([*rng.choice(own, size=3), *noise]))
    items = pd.DataFrame({"item_idx": np.arange(1, len(texts) + 1), "text": texts})
    return items, labels


# Small, fast settings for every tokeniser (seconds on a shared 2-core CPU).
FAST = dict(
    embedding_dim=8,
    num_levels=2,
    codebook_size=N_CLUSTERS,
    rqvae_epochs=25,
    rqvae_batch_size=64,
    rqvae_hidden_dim=32,
    rqvae_latent_dim=8,
    sae_dictionary_size=2 * N_CLUSTERS,
    sae_top_k=2,
    sae_epochs=25,
    sae_batch_size=64,
    report_queries=50,
    report_neighbours=5,
)
METHODS = ["rq_kmeans", "rq_vae", "sae"]


def small_cfg(tmp_path, **kw) -> SidConfig:
    return SidConfig(**{**FAST, "cache_dir": str(tmp_path), **kw})


# Recovering structure.
def test_rq_kmeans_first_code_recovers_the_clusters():
    x, labels = clustered_embeddings()
    encoded = rq_kmeans_tokenise(
        x, np.arange(len(x)), num_levels=2, codebook_size=N_CLUSTERS, iters=25, seed=0
    )
    assert adjusted_rand_score(labels, encoded.local_codes[:, 0]) > 0.99


@pytest.mark.parametrize("seed", [0, 1])
def test_rq_vae_first_code_recovers_the_clusters(seed):
    x, labels = clustered_embeddings(seed=seed)
    cfg = SidConfig(**{**FAST, "method": "rq_vae"})
    encoded = TOKENISERS["rq_vae"](x, np.arange(len(x)), cfg, seed)
    assert adjusted_rand_score(labels, encoded.local_codes[:, 0]) > 0.95


@pytest.mark.parametrize("seed", [0, 1])
def test_sae_strongest_feature_never_mixes_two_clusters(seed):
    # The dictionary has two features per cluster, so a cluster may own two
    # first codes; what must hold is that no first code spans two clusters.
    x, labels = clustered_embeddings(seed=seed)
    cfg = SidConfig(**{**FAST, "method": "sae"})
    encoded = TOKENISERS["sae"](x, np.arange(len(x)), cfg, seed)
    first = encoded.local_codes[:, 0]
    assert homogeneity_score(labels, first) > 0.95
    assert len(np.unique(first)) <= 2 * N_CLUSTERS


def test_sae_codes_are_distinct_features_strongest_first():
    x, _ = clustered_embeddings()
    cfg = SidConfig(**{**FAST, "method": "sae", "sae_top_k": 3})
    encoded = TOKENISERS["sae"](x, np.arange(len(x)), cfg, 0)
    codes = encoded.local_codes
    assert codes.shape == (len(x), 3)
    assert all(len(set(row)) == 3 for row in codes.tolist())
    assert codes.max() < cfg.sae_dictionary_size


def test_tfidf_embedding_keeps_topics_apart(tmp_path):
    items, labels = clustered_items()
    x = embed_items(
        items["text"].tolist(), np.arange(len(items)), small_cfg(tmp_path), seed=0
    )
    same = (x @ x.T)[labels[:, None] == labels[None, :]].mean()
    other = (x @ x.T)[labels[:, None] != labels[None, :]].mean()
    assert same > other + 0.3


# The contract.
def test_codes_follow_the_contract_shape_ranges_and_padding(tmp_path):
    items, labels = clustered_items()
    cfg = small_cfg(tmp_path)
    sids = fit_semantic_ids(items, items["item_idx"].to_numpy(), cfg, seed=0)
    assert sids.codes.dtype == np.int64
    assert sids.codes.shape[0] == len(items) + 1
    assert (sids.codes[0] == 0).all()
    real = sids.codes[1:]
    assert real.min() >= 0 and real.max() < sids.vocab_size
    for level in range(cfg.num_levels):  # level l code k -> l * K + k
        assert (real[:, level] // cfg.codebook_size == level).all()
    assert adjusted_rand_score(labels, real[:, 0]) > 0.9


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_unique_in_range_codes(tmp_path, method):
    items, _ = clustered_items()
    sids = fit_semantic_ids(
        items, items["item_idx"].to_numpy(), small_cfg(tmp_path, method=method), seed=0
    )
    real = sids.codes[1:]
    assert len(np.unique(real, axis=0)) == len(items)
    assert real.min() >= 0 and real.max() < sids.vocab_size
    assert sids.report["collision_rate_after"] == 0.0
    assert sids.method == method


def test_every_item_gets_a_unique_tuple_even_when_codes_collide(tmp_path):
    items, _ = clustered_items()
    cfg = small_cfg(tmp_path, num_levels=1)  # 6 codes for 240 items: must collide
    sids = fit_semantic_ids(items, items["item_idx"].to_numpy(), cfg, seed=0)
    assert sids.report["collision_rate_before"] > 0.9
    assert sids.report["collision_rate_after"] == 0.0
    assert len(np.unique(sids.codes[1:], axis=0)) == len(items)
    # The disambiguation code has its own id range after the level codes.
    assert (sids.codes[1:, -1] >= cfg.num_levels * cfg.codebook_size).all()


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_gives_the_same_codes_and_report(tmp_path, method):
    items, _ = clustered_items()
    cfg = small_cfg(tmp_path, method=method, cache_embeddings=False)
    train = items["item_idx"].to_numpy()
    a = fit_semantic_ids(items, train, cfg, seed=3)
    b = fit_semantic_ids(items, train, cfg, seed=3)
    assert np.array_equal(a.codes, b.codes)
    assert a.report == b.report


@pytest.mark.parametrize("method", METHODS)
def test_items_outside_training_are_encoded_near_their_topic(tmp_path, method):
    items, labels = clustered_items()
    train_mask = np.arange(len(items)) % 5 != 0
    train = items["item_idx"].to_numpy()[train_mask]
    sids = fit_semantic_ids(items, train, small_cfg(tmp_path, method=method), seed=0)
    assert len(np.unique(sids.codes[1:], axis=0)) == len(items)
    first = sids.codes[1:, 0]
    # An unseen item's first code is mostly held by training items of its topic.
    hits = []
    for row in np.flatnonzero(~train_mask):
        peers = labels[train_mask & (first == first[row])]
        hits.append(len(peers) > 0 and np.bincount(peers).argmax() == labels[row])
    assert np.mean(hits) >= 0.8


def test_semantic_ids_survive_save_and_load(tmp_path):
    items, _ = clustered_items()
    sids = fit_semantic_ids(
        items, items["item_idx"].to_numpy(), small_cfg(tmp_path), seed=0
    )
    sids.save(tmp_path / "out")
    back = SemanticIds.load(tmp_path / "out")
    assert np.array_equal(back.codes, sids.codes)
    assert back.vocab_size == sids.vocab_size
    assert back.render(1) == sids.render(1)


# Uniqueness rule.
def test_colliding_items_are_numbered_in_item_order():
    codes = np.array([[0, 5], [1, 5], [0, 5], [0, 5], [2, 6]])
    out, extra = disambiguate(codes, base_vocab=10)
    assert extra == 3
    assert out[:, -1].tolist() == [10, 10, 11, 12, 10]
    assert collision_rate(codes) == pytest.approx(3 / 5)
    assert collision_rate(out) == 0.0


def test_unique_codes_get_no_extra_column():
    codes = np.array([[0, 1], [1, 0]])
    out, extra = disambiguate(codes, base_vocab=4)
    assert extra == 0 and out.shape == (2, 2)


# Bad input.
def test_items_without_text_are_refused(tmp_path):
    items = pd.DataFrame({"item_idx": [1, 2]})
    with pytest.raises(SynthrecError, match="text"):
        fit_semantic_ids(items, np.array([1]), small_cfg(tmp_path), seed=0)


def test_item_indices_must_run_from_one(tmp_path):
    items = pd.DataFrame({"item_idx": [0, 1], "text": ["a b", "c d"]})
    with pytest.raises(SynthrecError, match="1..n_items"):
        fit_semantic_ids(items, np.array([1]), small_cfg(tmp_path), seed=0)


def test_training_items_out_of_range_are_refused(tmp_path):
    items, _ = clustered_items()
    with pytest.raises(SynthrecError, match="train_item_idx"):
        fit_semantic_ids(items, np.array([1, 10_000]), small_cfg(tmp_path), seed=0)
