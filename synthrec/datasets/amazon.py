"""Amazon Reviews 2023 (McAuley lab): one category's reviews and item metadata.

The folder holds `<Category>.jsonl` and `meta_<Category>.jsonl` (either may be
gzipped). Items are keyed by `parent_asin`, as in the dataset's own benchmark
splits; timestamps are Unix milliseconds, so the sub-second part orders events
that share a second. Item text reads "Title. Store: S. Category: A > B.
Description: ..." with empty parts left out.
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from synthrec.datasets.config import DataConfig
from synthrec.datasets.readers import (
    BadRows,
    RawLog,
    coerce_ids,
    dedupe_items,
    finish_interactions,
    read_jsonl,
)
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


def _find(folder: Path, meta: bool) -> Path:
    """The reviews file (meta=False) or the metadata file in `folder`."""
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.name.endswith(_SUFFIXES)
        and p.name.startswith("meta_") == meta
    )
    kind = "item metadata (meta_<Category>.jsonl)" if meta else "reviews"
    if not found:
        raise SynthrecError(f"{folder}: no Amazon 2023 {kind} file found")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise SynthrecError(f"{folder}: several {kind} files ({names}); keep one")
    return found[0]


def source_files(folder: Path, cfg: DataConfig) -> list[Path]:
    return [_find(folder, meta=False), _find(folder, meta=True)]


def load(folder: Path, cfg: DataConfig) -> RawLog:
    import pyarrow as pa

    bad = BadRows(cfg.bad_rows)
    reviews_path, meta_path = source_files(folder, cfg)
    reviews = read_jsonl(
        reviews_path,
        bad,
        {
            "user_id": pa.string(),
            "parent_asin": pa.string(),
            "rating": pa.float64(),
            "timestamp": pa.int64(),
        },
    )
    reviews = reviews.rename(columns={"parent_asin": "item_id"})
    interactions = finish_interactions(
        reviews, reviews_path.name, bad, _unit(cfg), rating="rating"
    )
    log.info("%s: read %d reviews", reviews_path.name, len(interactions))

    meta = read_jsonl(meta_path, bad, _meta_schema())
    meta = meta.rename(columns={"parent_asin": "item_id"})
    meta = dedupe_items(
        coerce_ids(meta, "item_id", meta_path.name, bad), meta_path.name, bad
    )
    items = item_table(meta)
    log.info("%s: read %d items", meta_path.name, len(items))
    return RawLog(interactions, items, dict(bad.counts))


def _unit(cfg: DataConfig) -> str:
    # The 2023 release stores milliseconds; "auto" would agree but can be fooled
    # by a category whose reviews all fall in one narrow window.
    return "ms" if cfg.timestamp_unit == "auto" else cfg.timestamp_unit


def _meta_schema() -> dict:
    import pyarrow as pa

    return {
        "parent_asin": pa.string(),
        "title": pa.string(),
        "store": pa.string(),
        "main_category": pa.string(),
        "categories": pa.list_(pa.string()),
        "description": pa.list_(pa.string()),
    }


def item_table(meta: pd.DataFrame) -> pd.DataFrame:
    """item_id, title, store, main_category, categories ("A > B"), description,
    text."""
    items = pd.DataFrame({"item_id": meta["item_id"].to_numpy()})
    for column in ("title", "store", "main_category"):
        items[column] = _text(meta.get(column), len(meta))
    items["categories"] = _joined(meta.get("categories"), " > ", len(meta))
    items["description"] = _joined(meta.get("description"), " ", len(meta))
    items["text"] = amazon_text(items)
    return items


def _text(values: pd.Series | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, "", dtype=object)
    return values.fillna("").astype(str).str.strip().to_numpy()


def _joined(values: pd.Series | None, sep: str, n: int) -> np.ndarray:
    """Lists of strings joined with `sep` (missing or empty lists -> "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values is None:
        return np.full(n, "", dtype=object)
    try:
        lists = pa.array(values, type=pa.list_(pa.string()), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Plain strings where lists were expected (a hand-written file).
        return values.fillna("").astype(str).str.strip().to_numpy()
    return pc.binary_join(lists, sep).fill_null("").to_numpy(zero_copy_only=False)


def amazon_text(items: pd.DataFrame) -> pd.Series:
    """ "Title. Store: S. Category: A > B. Description: D." (empty parts left out)."""
    text = pd.Series(items["title"], dtype=str)
    text = text.where(text == "", text + ".")
    for label, column in (
        ("Store", "store"),
        ("Category", "categories"),
        ("Description", "description"),
    ):
        values = pd.Series(items[column], dtype=str)
        part = np.where(values != "", " " + label + ": " + values + ".", "")
        text = text + part
    return text.str.strip()
