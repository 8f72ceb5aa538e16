"""A tiny corpus in the stage contract's layout, for sweep tests and benchmarks.

It is written from scratch (no dataset, no earlier stage): a few dozen items
with two-code semantic IDs, item-text sentences, CF sentences and short
histories, in `train/<modality>/part-*.parquet` and `eval/<set>/part-*.parquet`
with `text` and `num_tokens`, plus the LM tokenizer built on it. It lets the
sweep run real `lm.run_trial` trials in seconds.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from synthrec.io import write_parquet

_NUM_ITEMS = 40
_NUM_CODES = 8
_WORDS = [
    "red",
    "blue",
    "quiet",
    "fast",
    "old",
    "new",
    "epic",
    "small",
    "dark",
    "funny",
]
_ROWS = {"item_text": 120, "cf": 120, "uih": 120}
_EVAL_ROWS = 24


def _sid(item: int) -> str:
    return f"<RECTOKEN> REC{item % _NUM_CODES} REC{_NUM_CODES + item // _NUM_CODES} </RECTOKEN>"


def special_tokens() -> list[str]:
    """The SID tokens the tiny corpus uses (tags and every code)."""
    codes = [f"REC{i}" for i in range(_NUM_CODES + _NUM_ITEMS // _NUM_CODES + 1)]
    return ["<RECTOKEN>", "</RECTOKEN>", *codes]


def _texts(modality: str, rng: np.random.Generator, rows: int) -> list[str]:
    out = []
    for _ in range(rows):
        a, b = (int(x) for x in rng.integers(0, _NUM_ITEMS, size=2))
        if modality == "item_text":
            words = " ".join(rng.choice(_WORDS, size=3))
            out.append(f"This item {_sid(a)} is described as {words}.")
        elif modality == "cf":
            out.append(
                f"When a user interacts with item {_sid(a)}, there is a "
                f"{a % 9 + 1}% probability they will also interact with "
                f"item {_sid((a + 1) % _NUM_ITEMS)}."
            )
        else:
            walk = (a + np.arange(int(rng.integers(3, 7))) * (b % 3 + 1)) % _NUM_ITEMS
            items = ", ".join(_sid(int(i)) for i in walk)
            out.append(
                f"A user interacted with the following sequence of items: {items}"
            )
    return out


def _write_shard(folder: Path, texts: list[str]) -> None:
    from synthrec.lm.tokenizer import count_tokens

    frame = pd.DataFrame({"text": texts, "num_tokens": count_tokens(texts)})
    write_parquet(folder / "part-00000.parquet", frame)


def write_tiny_corpus(root: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ROOT/corpus and ROOT/tokenizer; return (corpus_dir, tokenizer_dir)."""
    from synthrec.lm import build_tokenizer

    root = Path(root)
    corpus = root / "corpus"
    rng = np.random.default_rng(seed)
    for modality, rows in _ROWS.items():
        _write_shard(corpus / "train" / modality, _texts(modality, rng, rows))
    for eval_set, modality in (
        ("item_text", "item_text"),
        ("cf_seen_pair", "cf"),
        ("uih_ood", "uih"),
    ):
        _write_shard(corpus / "eval" / eval_set, _texts(modality, rng, _EVAL_ROWS))
    tokenizer = root / "tokenizer"
    build_tokenizer(corpus, special_tokens(), tokenizer)
    return corpus, tokenizer
