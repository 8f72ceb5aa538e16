"""The CPT engine under Ray Train: DeepSpeed ZeRO-2 on two CPU workers (gloo),
one worker killed mid-run, the job resumed from its last checkpoint."""

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
    assert resumed.stats["world_size"] == 2
    assert resumed.stats["resumed_from_steps"] == [8]
    assert resumed.stats["tokens"] == reference.stats["tokens"] == 4096
    assert resumed.final == pytest.approx(reference.final, rel=1e-5)
    points = [(r["tokens"], r["eval_set"]) for r in resumed.curve]
    assert len(points) == len(set(points))  # no evaluation logged twice
    assert [r["tokens"] for r in resumed.curve] == [
        r["tokens"] for r in reference.curve
    ]
