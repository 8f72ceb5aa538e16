"""Any interaction log in a plain table: CSV, TSV, Parquet or JSON lines.

`data.path` is the interactions file itself or a folder holding
`data.table.interactions_file` (and optionally `data.table.items_file`).
`data.table.columns` names the user, item and timestamp columns, the optional
rating / event / event-order columns, and the item title and text columns.
Item metadata comes from the items file when given, else from the first row of
each item in the interactions table. User and item ids are read as text, so
"007" stays "007".
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from synthrec.datasets.config import ColumnMap, DataConfig, TableConfig
from synthrec.datasets.readers import (
    BadRows,
    RawLog,
    coerce_ids,
    dedupe_items,
    finish_interactions,
    read_csv,
    read_jsonl,
    read_parquet,
    require_columns,
)
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
}


def interactions_path(folder: Path, table: TableConfig) -> Path:
    return folder if folder.is_file() else folder / table.interactions_file


def items_path(folder: Path, table: TableConfig) -> Path | None:
    if table.items_file is None:
        return None
    base = folder.parent if folder.is_file() else folder
    return base / table.items_file


def source_files(folder: Path, cfg: DataConfig) -> list[Path]:
    paths = [interactions_path(folder, cfg.table), items_path(folder, cfg.table)]
    files = []
    for path in paths:
        if path is None:
            continue
        if not path.exists():
            raise SynthrecError(f"file not found: {path}")
        files += sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return files


def file_format(path: Path, declared: str) -> str:
    """The declared format, or the one the file name says."""
    if declared != "auto":
        return declared
    if path.is_dir():
        return "parquet"
    suffixes = [s for s in path.suffixes if s != ".gz"]
    fmt = _FORMATS.get(suffixes[-1].lower()) if suffixes else None
    if fmt is None:
        raise SynthrecError(
            f"{path}: cannot tell the format from the name; set data.table.format "
            f"to one of csv, tsv, parquet, jsonl"
        )
    return fmt


def read_table(
    path: Path,
    fmt: str,
    bad: BadRows,
    text_columns: tuple[str, ...],
    encoding: str | None,
) -> pd.DataFrame:
    if fmt in ("csv", "tsv"):
        return read_csv(
            path,
            bad,
            delimiter="," if fmt == "csv" else "\t",
            string_columns=text_columns,
            encoding=encoding,
        )
    if fmt == "parquet":
        return read_parquet(path)
    return read_jsonl(path, bad)


def load(folder: Path, cfg: DataConfig) -> RawLog:
    return load_with_columns(folder, cfg, cfg.table.columns)


def load_with_columns(folder: Path, cfg: DataConfig, cols: ColumnMap) -> RawLog:
    """Read the tables with the column mapping `cols` into a RawLog."""
    bad = BadRows(cfg.bad_rows)
    path = interactions_path(folder, cfg.table)
    fmt = file_format(path, cfg.table.format)
    frame = read_table(path, fmt, bad, (cols.user, cols.item), cfg.encoding)
    interactions = _interactions(frame, cols, path, bad, cfg)
    log.info("%s: read %d interactions", path.name, len(interactions))

    meta_path = items_path(folder, cfg.table)
    if meta_path is None:
        items = item_table(_first_rows(frame, cols), cols, path.name, bad)
    else:
        key = cols.item_key or cols.item
        meta = read_table(
            meta_path,
            file_format(meta_path, cfg.table.format),
            bad,
            tuple(c for c in (key, cols.title, *cols.item_text) if c),
            cfg.encoding,
        )
        items = item_table(meta, cols, meta_path.name, bad)
    log.info("%s: %d items with metadata", path.name, len(items))
    return RawLog(interactions, items, dict(bad.counts))


def _interactions(
    frame: pd.DataFrame, cols: ColumnMap, path: Path, bad: BadRows, cfg: DataConfig
) -> pd.DataFrame:
    optional = [c for c in (cols.rating, cols.event, cols.event_order) if c]
    require_columns(frame, [cols.user, cols.item, cols.timestamp, *optional], path)
    renamed = pd.DataFrame(
        {
            "user_id": _ids(frame[cols.user]),
            "item_id": _ids(frame[cols.item]),
            "timestamp": frame[cols.timestamp],
        }
    )
    for name, column in (
        ("rating", cols.rating),
        ("event", cols.event),
        ("event_order", cols.event_order),
    ):
        if column:
            renamed[name] = frame[column]
    return finish_interactions(
        renamed,
        path.name,
        bad,
        cfg.timestamp_unit,
        rating="rating" if cols.rating else None,
        event="event" if cols.event else None,
        event_order="event_order" if cols.event_order else None,
    )


def _ids(values: pd.Series) -> pd.Series:
    """Ids as text (numbers from Parquet/JSON as their integer text)."""
    if values.dtype.kind == "f" and np.all(
        np.floor(values.dropna()) == values.dropna()
    ):
        values = values.astype("Int64")
    return values.astype("str").where(values.notna(), None)


def _first_rows(frame: pd.DataFrame, cols: ColumnMap) -> pd.DataFrame:
    """Item metadata carried on the interaction rows: each item's first row."""
    keep = [c for c in (cols.title, *cols.item_text) if c]
    require_columns(frame, keep, "interactions table")
    # Rows without an item id were already reported with the interactions.
    ids = frame[cols.item]
    frame = frame[ids.notna() & (ids.astype("str").str.strip() != "")]
    first = frame.drop_duplicates(cols.item, keep="first")
    return first[[cols.item, *keep]].rename(
        columns={cols.item: cols.item_key or cols.item}
    )


def item_table(
    meta: pd.DataFrame, cols: ColumnMap, where: str, bad: BadRows
) -> pd.DataFrame:
    """item_id, title, each item-text column, and text "Title. col: value."."""
    key = cols.item_key or cols.item
    fields = [c for c in cols.item_text if c != cols.title]
    require_columns(meta, [key, *([cols.title] if cols.title else []), *fields], where)
    meta = meta.reset_index(drop=True)
    items = pd.DataFrame({"item_id": _ids(meta[key])})
    items["title"] = _clean(meta[cols.title]) if cols.title else ""
    for column in fields:
        items[column] = _clean(meta[column])
    items = dedupe_items(coerce_ids(items, "item_id", where, bad), where, bad)
    items["text"] = table_text(items, fields)
    return items


def _clean(values: pd.Series) -> pd.Series:
    return values.astype("str").where(values.notna(), "").str.strip()


def table_text(items: pd.DataFrame, fields: list[str]) -> pd.Series:
    """ "Title. field: value. field: value." with empty parts left out."""
    title = items["title"].astype(str)
    text = title.where(title == "", title + ".")
    for column in fields:
        values = items[column].astype(str)
        text = text + np.where(values != "", f" {column}: " + values + ".", "")
    return pd.Series(text, index=items.index).astype(str).str.strip()
