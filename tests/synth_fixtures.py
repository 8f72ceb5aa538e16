"""Small, hand-made inputs for the synth tests: PreparedData and SemanticIds."""

import numpy as np
import pandas as pd

from synthrec.datasets.prepared import PreparedData
from synthrec.sids.semantic_ids import SemanticIds

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
            split = "test" if pos == len(items) - 1 else (
                "valid" if pos == len(items) - 2 else "train")
            rows.append((user, int(item), 1_000_000 + 10 * pos, 4.0, split))
    interactions = pd.DataFrame(
        rows, columns=["user_idx", "item_idx", "timestamp", "rating", "split"]
    ).astype({"user_idx": "int64", "item_idx": "int64", "timestamp": "int64",
              "rating": "float32"})
    return PreparedData(
        interactions=interactions,
        items=tiny_items(n_items),
        n_users=n_users,
        n_items=n_items,
    )


def tiny_items(n_items: int) -> pd.DataFrame:
    idx = np.arange(1, n_items + 1)
    years = pd.array([1990 + i % 30 if i % 7 else None for i in idx], dtype="Int64")
    genres = ["|".join(GENRES[i % 6: i % 6 + 1 + i % 3]) if i % 5 else
              "(no genres listed)" for i in idx]
    return pd.DataFrame({
        "item_idx": idx.astype(np.int64),
        "source_item_id": [str(i) for i in idx],
        "title": [f"Movie {i} ({1990 + i % 30})" if i % 11 else f"Film, The {i}"
                  for i in idx],
        "text": [f"Movie {i}" for i in idx],
        "year": years,
        "genres": genres,
        "tags": ["funny|dark" if i % 4 == 0 else "" for i in idx],
    })


def tiny_sids(n_items: int, num_codes: int = 3, codebook: int = 16) -> SemanticIds:
    """Unique code tuples: item i -> digits of i in base `codebook`, per level."""
    codes = np.zeros((n_items + 1, num_codes), dtype=np.int64)
    for i in range(1, n_items + 1):
        value = i
        for level in range(num_codes - 1, -1, -1):
            codes[i, level] = level * codebook + value % codebook
            value //= codebook
    return SemanticIds(codes=codes, vocab_size=num_codes * codebook, method="digits")
