"""A small corpus in the generator's layout, for LM tests and benchmarks.

Texts follow the paper's templates with real SID rendering; item codes and
sequences are drawn from a seeded generator, so the same call writes the same
bytes.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from synthrec.lm.tokenizer import count_tokens
from synthrec.sids.tokens import render_sid, special_tokens

CODEBOOK = 32
NUM_CODES = 2
SID_TOKENS = special_tokens(CODEBOOK * NUM_CODES)
_WORDS = [
    "the",
    "a",
    "movie",
    "film",
    "comedy",
    "drama",
    "about",
    "love",
    "war",
    "space",
    "friends",
    "city",
]


def _codes(rng: np.random.Generator, n_items: int) -> list[tuple[int, ...]]:
    return [
        tuple(
            level * CODEBOOK + int(rng.integers(CODEBOOK)) for level in range(NUM_CODES)
        )
        for _ in range(n_items)
    ]


def _texts(modality: str, n: int, codes: list, rng: np.random.Generator) -> list[str]:
    sid = [render_sid(c) for c in codes]
    items = rng.integers(len(codes), size=n)
    if modality == "item_text":
        return [f"{sid[i]} is titled {' '.join(rng.choice(_WORDS, 4))}." for i in items]
    if modality.startswith("cf"):
        return [
            f"Users who liked {sid[i]} also liked {sid[(i * 7 + 3) % len(sid)]}."
            for i in items
        ]
    return [
        "A user interacted with the following sequence of items: "
        + ", ".join(sid[(i + k * k) % len(sid)] for k in range(6))
        for i in items
    ]


def write_corpus(
    root: Path, n_train: int = 400, n_eval: int = 30, n_items: int = 120, seed: int = 0
) -> Path:
    """train/{item_text,cf,uih}/part-0000{0,1}.parquet and eval/<set>/part-00000."""
    rng = np.random.default_rng(seed)
    codes = _codes(rng, n_items)
    for modality in ("item_text", "cf", "uih"):
        texts = _texts(modality, n_train, codes, rng)
        for part in range(2):
            _write(
                root / "train" / modality / f"part-{part:05d}.parquet", texts[part::2]
            )
    for eval_set in ("item_text", "cf_seen_pair", "uih_ood"):
        _write(
            root / "eval" / eval_set / "part-00000.parquet",
            _texts(eval_set, n_eval, codes, rng),
        )
    return root


def _write(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"text": texts, "num_tokens": count_tokens(texts)})
    frame.to_parquet(path, index=False)
