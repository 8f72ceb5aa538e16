"""A tiny corpus plus its tokenizer, for sweep tests and benchmarks.

The texts come from `synthrec.lm.toy_corpus` (the paper's templates, real SID
rendering, seeded); this adds the LM tokenizer so a sweep can run real
`lm.run_trial` trials in seconds.
"""

from pathlib import Path

from synthrec.lm.toy_corpus import SID_TOKENS, write_corpus

# Two tiny Qwen3 shapes and LM settings that train on this corpus in seconds.
TINY_MODEL_SIZES = [
    {"name": "a", "hidden_size": 8, "num_layers": 1, "num_heads": 2,
     "num_kv_heads": 1, "head_dim": 4, "intermediate_size": 16},
    {"name": "b", "hidden_size": 16, "num_layers": 2, "num_heads": 2,
     "num_kv_heads": 1, "head_dim": 8, "intermediate_size": 32},
]  # fmt: skip
TINY_LM = {
    "max_seq_len": 16,
    "batch_size": 4,
    "warmup_tokens": 64,
    "first_eval_tokens": 128,
    "max_eval_tokens_per_set": 64,
    "log_every_steps": 1000,
}

_TRAIN_ROWS = 120
_EVAL_ROWS = 24
_NUM_ITEMS = 40


def special_tokens() -> list[str]:
    """The SID tokens the tiny corpus uses (tags and every code)."""
    return list(SID_TOKENS)


def write_tiny_corpus(root: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ROOT/corpus and ROOT/tokenizer; return (corpus_dir, tokenizer_dir)."""
    from synthrec.lm import build_tokenizer

    root = Path(root)
    corpus = write_corpus(root / "corpus", _TRAIN_ROWS, _EVAL_ROWS, _NUM_ITEMS, seed)
    tokenizer = root / "tokenizer"
    build_tokenizer(corpus, special_tokens(), tokenizer)
    return corpus, tokenizer
