"""A tiny corpus plus its tokenizer, for sweep tests and benchmarks.

The texts come from `synthrec.lm.toy_corpus` (the paper's templates, real SID
rendering, seeded); this adds the LM tokenizer so a sweep can run real
`lm.run_trial` trials in seconds.
"""

from pathlib import Path

from synthrec.lm.toy_corpus import SID_TOKENS, write_corpus

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
