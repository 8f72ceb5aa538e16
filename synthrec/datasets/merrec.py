"""MerRec: the Mercari marketplace event log the paper used (Parquet shards).

The folder holds the release's Parquet shards (any depth). Each row is one
event: a user, an item, an event type (item_view, item_like, ..., buy_comp), a
time, and the item's name, brand and three category levels. The column names
below follow the release; a copy with other names can be read through
`data.table.columns` (any field changed from its default replaces this map).
Pick the implicit-feedback events with `data.event_types`.
"""

import logging
from dataclasses import replace
from pathlib import Path

from synthrec.datasets import table
from synthrec.datasets.config import ColumnMap, DataConfig
from synthrec.datasets.readers import RawLog
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

MERREC_COLUMNS = ColumnMap(
    user="user_id",
    item="item_id",
    timestamp="stime",
    event="event_id",
    title="name",
    item_text=["brand_name", "c0_name", "c1_name", "c2_name"],
)


def _columns(cfg: DataConfig) -> ColumnMap:
    return MERREC_COLUMNS if cfg.table.columns == ColumnMap() else cfg.table.columns


def _shards(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    shards = sorted(folder.rglob("*.parquet"))
    if not shards:
        raise SynthrecError(f"{folder}: no MerRec Parquet shards (*.parquet) found")
    return shards


def source_files(folder: Path, cfg: DataConfig) -> list[Path]:
    return _shards(folder)


def load(folder: Path, cfg: DataConfig) -> RawLog:
    """All shards as one log; item text from each item's first event row."""
    shards = _shards(folder)
    log.info("merrec: reading %d Parquet shard(s) from %s", len(shards), folder)
    source = cfg.table
    if folder.is_dir():
        # Every shard under the folder, read as one Parquet dataset.
        source = replace(cfg.table, interactions_file=".", format="parquet")
    local = replace(cfg, table=source)
    return table.load_with_columns(folder, local, _columns(cfg))
