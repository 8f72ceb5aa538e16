"""Quality metrics against brute force, the report, embeddings, config and CLI."""

import itertools
import json

import numpy as np
import pytest

from synthrec.cli import main as cli_main
from synthrec.errors import ConfigError, SynthrecError
from synthrec.sids import SidConfig, quality
from synthrec.sids.embed import embed_items
from synthrec.sids.report import format_table


# Pure metrics.
def brute_force_overlap(scores: np.ndarray, reference: set[int], k: int) -> float:
    """Average top-k overlap over every ordering that sorts scores descending."""
    totals = []
    for perm in itertools.permutations(range(len(scores))):
        ordered = scores[list(perm)]
        if np.all(ordered[:-1] >= ordered[1:]):
            totals.append(len(set(perm[:k]) & reference) / k)
    return float(np.mean(totals))


@pytest.mark.parametrize("seed", range(5))
def test_expected_overlap_matches_brute_force_over_tie_orders(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, size=7).astype(float)
    reference = rng.choice(7, size=3, replace=False)
    got = quality.expected_overlap(scores, reference, k=3)
    assert got == pytest.approx(brute_force_overlap(scores, set(reference), 3))


def test_position_usage_counts_utilisation_and_perplexity():
    codes = np.array([[0, 1], [1, 1], [2, 1], [3, 1]])
    rows = quality.position_usage(codes, np.array([8, 4]))
    assert rows[0]["utilisation"] == 0.5 and rows[0]["perplexity"] == pytest.approx(4)
    assert rows[1]["used"] == 1 and rows[1]["perplexity"] == pytest.approx(1)


def test_cointeraction_neighbours_rank_by_cosine_of_shared_users():
    sequences = [
        np.array([1, 2, 3]),
        np.array([1, 2]),
        np.array([1, 4]),
        np.array([2, 3, 3]),
    ]
    matrix = quality.interaction_matrix(sequences, n_items=4)
    assert matrix.toarray()[3].tolist() == [0, 1, 1, 0]  # repeats count once
    kept, neighbours = quality.cointeraction_neighbours(matrix, np.array([0, 3]), k=2)
    # Row 0 (item 1): item 2 shares 2 users of 3 -> cos 2/sqrt(9); item 3: 1/sqrt(6);
    # item 4: 1/sqrt(3) -> best two are rows 1 and 3. Row 3 has one co-item: dropped.
    assert kept.tolist() == [0]
    assert neighbours[0].tolist() == [1, 3]


def test_codes_equal_to_the_true_groups_agree_as_far_as_ties_allow():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 20)
    centres = rng.normal(size=(10, 8))
    x = centres[groups] + 0.01 * rng.normal(size=(200, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    queries = np.arange(0, 200, 7)
    reference = quality.embedding_neighbours(x, queries, k=5)
    good = quality.code_matrix(groups[:, None], vocab_size=10)
    shuffled = quality.code_matrix(rng.permutation(groups)[:, None], vocab_size=10)
    # All 19 group mates tie on shared codes and all 5 true neighbours are among
    # them, so a random tie order catches 5/19 of them; shuffled codes near chance.
    assert quality.code_agreement(good, queries, reference, 5) == pytest.approx(5 / 19)
    assert quality.code_agreement(shuffled, queries, reference, 5) < 0.1


def test_report_table_puts_methods_side_by_side():
    def report(method, n_codes):
        return {
            "method": method,
            "embedding": "tfidf_svd",
            "n_items": 10,
            "n_train_items": 9,
            "num_codes": n_codes,
            "vocab_size": 20,
            "collision_rate_before": 0.1,
            "collision_rate_after": 0.0,
            "disambiguation_ids": 2,
            "reconstruction_error": {"train": 0.1, "unseen": None},
            "positions": [
                {
                    "position": p,
                    "codebook_size": 8,
                    "used": 8,
                    "utilisation": 1.0,
                    "perplexity": 7.5,
                }
                for p in range(n_codes)
            ],
        }

    table = format_table({"a": report("rq_kmeans", 2), "b": report("sae", 3)})
    header, _, *rows = table.splitlines()
    assert header.split() == ["metric", "a", "b"]
    assert any(r.startswith("code 2 used/size") and r.split()[-2] == "-" for r in rows)
    assert rows[-1].startswith("code 2 perplexity")


# Embeddings.
def test_embeddings_are_cached_per_item_set(tmp_path):
    texts = [f"movie {w} {i}" for i, w in enumerate(["space", "love", "war"] * 10)]
    cfg = SidConfig(embedding_dim=4, cache_dir=str(tmp_path))
    first = embed_items(texts, np.arange(30), cfg, seed=0)
    files = list((tmp_path / "embeddings").glob("*.npy"))
    again = embed_items(texts, np.arange(30), cfg, seed=0)
    assert len(files) == 1 and np.array_equal(first, again)
    embed_items(texts, np.arange(20), cfg, seed=0)  # a new training set
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 2
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_sentence_transformers_missing_gives_an_install_hint(tmp_path):
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("sentence-transformers is installed; the missing path cannot run")
    cfg = SidConfig(
        embedding="sentence_transformers",
        embedding_model="all-MiniLM-L6-v2",
        cache_dir=str(tmp_path),
    )
    with pytest.raises(SynthrecError, match="pip install"):
        embed_items(["a film"], np.arange(1), cfg, seed=0)


# Config.
def test_config_refuses_top_k_at_or_above_the_dictionary():
    with pytest.raises(ConfigError, match="sae_top_k"):
        SidConfig(sae_top_k=16, sae_dictionary_size=16).validate()


def test_config_needs_a_model_name_for_sentence_transformers():
    with pytest.raises(ConfigError, match="embedding_model"):
        SidConfig(embedding="sentence_transformers").validate()


# CLI on real data (a small user subset).
@pytest.mark.integration
def test_cli_fits_and_reports_semantic_ids_on_movielens(
    tmp_path, movielens_small_dir, capsys
):
    config = tmp_path / "run.yaml"
    config.write_text(
        f"seed: 1\ndata:\n  path: {movielens_small_dir}\n  max_users: 40\n"
        f"sids:\n  cache_dir: {tmp_path / 'cache'}\n  codebook_size: 16\n"
        "  report_queries: 100\n"
    )
    out = tmp_path / "run"
    assert cli_main(["sids", "fit", str(config), "--out", str(out)]) == 0
    report = json.loads((out / "sids" / "report.json").read_text())
    assert report["collision_rate_after"] == 0.0
    assert (out / "sids" / "codes.parquet").is_file()
    capsys.readouterr()
    assert cli_main(["sids", "report", str(out)]) == 0
    assert "collision rate before" in capsys.readouterr().out
    assert cli_main(["sids", "report", str(tmp_path / "nowhere")]) == 2
