"""Continual pre-training of Qwen3-architecture LMs on the synthetic corpus.

Public API (the contract with the sweep and the pipeline):

- `build_tokenizer(corpus_dir, special_tokens, out_dir)`: the LM tokenizer;
- `model_stats(model, vocab_size, max_seq_len)`: parameters and FLOPs/token;
- `run_trial(trial) -> TrialResult`: one training run, local or Ray Train;
- `train_loop_per_worker(config)`: the per-worker function both backends run.

Heavy libraries (torch, transformers, Ray) are imported when these are used.
"""

from typing import Any

from synthrec.lm.config import LMConfig, ModelSizeConfig, TrialConfig
from synthrec.lm.model import model_stats
from synthrec.lm.tokenizer import build_tokenizer, count_tokens, load_tokenizer

__all__ = [
    "LMConfig",
    "ModelSizeConfig",
    "TrialConfig",
    "TrialResult",
    "build_tokenizer",
    "count_tokens",
    "load_tokenizer",
    "model_stats",
    "run_trial",
    "train_loop_per_worker",
]


def __getattr__(name: str) -> Any:
    # torch is imported only when training is asked for
    if name in ("run_trial", "TrialResult", "choose_backend"):
        from synthrec.lm import trial

        return getattr(trial, name)
    if name == "train_loop_per_worker":
        from synthrec.lm.train import train_loop_per_worker

        return train_loop_per_worker
    raise AttributeError(f"module 'synthrec.lm' has no attribute {name!r}")
