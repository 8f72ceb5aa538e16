"""Corpus shards: one Arrow schema, atomic Parquet writes, manifest entries.

Every shard has `text` (str), `num_tokens` (int64, LM tokens including the
end-of-text token) and `item_ids` (list<int64>: the items a row is about; the
walk itself for uih rows, empty for general text).
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthrec.io import atomic_path, sha256_file
from synthrec.lm.tokenizer import count_tokens

SHARD_SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("num_tokens", pa.int64()),
        ("item_ids", pa.list_(pa.int64())),
    ]
)


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def rows_table(
    texts: Sequence[str],
    flat_items: np.ndarray,
    offsets: np.ndarray,
    num_tokens: np.ndarray | None = None,
) -> pa.Table:
    """A shard table; row i is about items flat_items[offsets[i]:offsets[i+1]]."""
    if num_tokens is None:
        num_tokens = count_tokens(texts)
    item_ids = pa.ListArray.from_arrays(
        pa.array(np.asarray(offsets, dtype=np.int32)),
        pa.array(np.asarray(flat_items, dtype=np.int64)),
    )
    return pa.Table.from_arrays(
        [
            pa.array(list(texts), pa.string()),
            pa.array(num_tokens, pa.int64()),
            item_ids,
        ],
        schema=SHARD_SCHEMA,
    )


def table_from_lists(
    texts: Sequence[str], item_lists: Sequence[Sequence[int]]
) -> pa.Table:
    lengths = np.fromiter(
        (len(x) for x in item_lists), dtype=np.int64, count=len(texts)
    )
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = (
        np.concatenate([np.asarray(x, dtype=np.int64) for x in item_lists])
        if len(item_lists) and offsets[-1]
        else np.zeros(0, np.int64)
    )
    return rows_table(texts, flat, offsets)


def empty_table() -> pa.Table:
    return SHARD_SCHEMA.empty_table()


def truncate_to_budget(table: pa.Table, budget_left: int | None) -> pa.Table:
    """The longest prefix of rows whose tokens fit in budget_left (None: all)."""
    if budget_left is None:
        return table
    tokens = np.cumsum(table.column("num_tokens").to_numpy())
    return table.slice(0, int(np.searchsorted(tokens, budget_left, side="right")))


def write_shard(path: Path, table: pa.Table, jsonl: bool = False) -> None:
    """Write a shard atomically (and a JSONL copy on request)."""
    with atomic_path(path) as tmp:
        pq.write_table(table.cast(SHARD_SCHEMA), tmp, compression="zstd")
    if jsonl:
        with atomic_path(path.with_suffix(".jsonl")) as tmp, open(tmp, "w") as f:
            for row in table.to_pylist():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def shard_entry(root: Path, path: Path, split: str, name: str) -> dict[str, Any]:
    """The manifest line of a finished shard, read back from disk."""
    tokens = pq.read_table(path, columns=["num_tokens"]).column("num_tokens")
    return {
        "path": path.relative_to(root).as_posix(),
        "split": split,
        "name": name,
        "rows": len(tokens),
        "tokens": int(np.sum(tokens.to_numpy())) if len(tokens) else 0,
        "sha256": sha256_file(path),
    }


__all__ = [
    "SHARD_SCHEMA",
    "empty_table",
    "rows_table",
    "shard_entry",
    "shard_name",
    "table_from_lists",
    "truncate_to_budget",
    "write_shard",
]
