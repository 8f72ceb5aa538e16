"""The CPT engine under Ray Train: training shards read through Ray Data
iterators, and DeepSpeed ZeRO-2 on two CPU workers (gloo), one worker killed
mid-run, the job resumed from its last checkpoint."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthrec.configtools import from_dict
from synthrec.lm import TrialConfig, build_tokenizer
from synthrec.lm.toy_corpus import SID_TOKENS, write_corpus

MIXTURE = {"item_text": 0.2, "cf": 0.3, "uih": 0.5}


def trial_config(corpus, tokenizer_dir, out_dir, **lm_overrides) -> TrialConfig:
    lm = {
        "max_seq_len": 32, "batch_size": 4, "warmup_tokens": 256,
        "first_eval_tokens": 512, "max_eval_tokens_per_set": 512,
        "learning_rate": 1e-2, "checkpoint_every_tokens": 1024, **lm_overrides,
    }  # fmt: skip
    return from_dict(TrialConfig, {
        "model": {"name": "t", "hidden_size": 16, "num_layers": 1, "num_heads": 2,
                  "num_kv_heads": 1, "head_dim": 8, "intermediate_size": 32},
        "lm": lm, "num_tokens": 4096, "mixture": MIXTURE, "seed": 3,
        "corpus_dir": str(corpus), "tokenizer_dir": str(tokenizer_dir),
        "out_dir": str(out_dir), "tracking": {"enabled": False},
    })  # fmt: skip


@pytest.mark.slow  # 25-50 s here with the Ray start (machine load)
@pytest.mark.integration
def test_ray_data_iterators_feed_the_sampler_the_same_batches_as_the_files(
    ray_local, tmp_path
):
    from synthrec.lm import load_tokenizer
    from synthrec.lm.data import (
        MixtureSampler,
        RayDataShards,
        modality_shards,
        ray_dataset_name,
        ray_train_datasets,
    )

    corpus = write_corpus(tmp_path / "corpus")
    build_tokenizer(corpus, SID_TOKENS, tmp_path / "tokenizer")
    tok = load_tokenizer(tmp_path / "tokenizer")
    datasets, _ = ray_train_datasets(corpus, MIXTURE)
    # What Ray Train hands each worker for an unsplit dataset: ds.iterator().
    source = RayDataShards(
        {m: datasets[ray_dataset_name(m)].iterator() for m in sorted(MIXTURE)}
    )

    from_files = MixtureSampler(corpus, MIXTURE, tok, 32, seed=5)
    from_ray = MixtureSampler(corpus, MIXTURE, tok, 32, seed=5, source=source)
    for _ in range(150):  # into every modality's second epoch
        ids, names = from_files.next_batch(8)
        ray_ids, ray_names = from_ray.next_batch(8)
        assert np.array_equal(ids, ray_ids) and names == ray_names
    assert from_ray.tokens_by_modality() == from_files.tokens_by_modality()
    assert all(s["epoch"] >= 1 for s in from_ray.state_dict()["streams"].values())
    assert source.rows_read == {  # every row of every shard, read once
        m: sum(pq.read_metadata(p).num_rows for p in modality_shards(corpus, m))
        for m in MIXTURE
    }


@pytest.mark.slow
@pytest.mark.integration
def test_deepspeed_zero2_on_two_workers_survives_a_killed_worker_and_resumes(
    ray_local, tmp_path
):
    from synthrec.lm import run_trial

    corpus = write_corpus(tmp_path / "corpus")
    tok = tmp_path / "tokenizer"
    build_tokenizer(corpus, SID_TOKENS, tok)

    # The reference: the same global batches, uninterrupted, in one process.
    reference = run_trial(trial_config(corpus, tok, tmp_path / "local"))

    # 32 steps of 128 tokens; checkpoints every 8 steps; rank 1 is SIGKILLed
    # after step 12, so Ray Train restarts both workers from step 8.
    killed = trial_config(
        corpus, tok, tmp_path / "ray", backend="ray_train", strategy="deepspeed",
        zero_stage=2, num_workers=2, max_failures=1, fault_at_step=12, fault_rank=1,
    )  # fmt: skip
    resumed = run_trial(killed)

    assert (tmp_path / "ray" / ".fault_injected").is_file()
    assert resumed.backend == "ray_train"
    assert resumed.stats["data_source"] == "ray.train.get_dataset_shard"
    assert reference.stats["data_source"] == "local_files"
    by_modality = resumed.stats["tokens_by_modality"]
    assert by_modality == reference.stats["tokens_by_modality"]
    for m, share in MIXTURE.items():  # within one 32-token sequence
        assert abs(by_modality[m] - share * 4096) <= 32
    assert resumed.stats["world_size"] == 2
    assert resumed.stats["resumed_from_steps"] == [8]
    assert resumed.stats["tokens"] == reference.stats["tokens"] == 4096
    assert resumed.final == pytest.approx(reference.final, rel=1e-5)
    points = [(r["tokens"], r["eval_set"]) for r in resumed.curve]
    assert len(points) == len(set(points))  # no evaluation logged twice
    assert [r["tokens"] for r in resumed.curve] == [
        r["tokens"] for r in reference.curve
    ]
