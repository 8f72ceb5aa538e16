"""Config of the data stage: which interaction log, how it is cleaned and split."""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require

TimestampUnit = Literal["auto", "s", "ms", "us", "ns"]


@dataclass
class ColumnMap:
    """Where each field lives in a generic table (column names as in the file)."""

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str = "timestamp"
    # Optional columns; None when the table has no such column.
    rating: str | None = None
    event: str | None = None
    # An event id or sub-second clock that orders events sharing a timestamp.
    event_order: str | None = None
    # Item table columns: the key defaults to `item`; title and text fields.
    item_key: str | None = None
    title: str | None = None
    item_text: list[str] = field(default_factory=list)


@dataclass
class TableConfig:
    """A log in plain files: used when `data.dataset` is "table"."""

    # File names inside `data.path` (or absolute paths).
    interactions_file: str = "interactions.csv"
    items_file: str | None = None
    format: Literal["auto", "csv", "tsv", "parquet", "jsonl"] = "auto"
    columns: ColumnMap = field(default_factory=ColumnMap)


@dataclass
class DataConfig:
    # Registry name of the source (see synthrec.datasets.registry).
    dataset: str = "ml-latest-small"
    # Folder holding the source files; None looks in $SYNTHREC_DATA_HOME/<dataset>/,
    # then downloads the official archive into that cache.
    path: str | None = None
    # Allow a download when the files are not found locally.
    download: bool = True
    # Implicit-feedback rule: keep ratings >= this; None keeps every rating.
    min_rating: float | None = None
    # Implicit-feedback rule for event logs: keep only these event types.
    event_types: list[str] | None = None
    # Repeated (user, item) pairs: keep the first, the last, or all of them.
    # Exact duplicate events (same user, item, timestamp) are always collapsed.
    dedupe: Literal["keep_first", "keep_last", "keep_all"] = "keep_first"
    # Iterative k-core filter, repeated until stable.
    min_user_interactions: int = 5
    min_item_interactions: int = 1
    split: Literal["leave_one_out", "temporal"] = "leave_one_out"
    # Temporal split: timestamp quantiles where valid and test begin.
    temporal_valid_quantile: float = 0.8
    temporal_test_quantile: float = 0.9
    # Keep a seeded random subset of users (smoke runs); None keeps all.
    max_users: int | None = None
    # Malformed rows: stop with a message naming them, or drop and count them.
    bad_rows: Literal["error", "skip"] = "error"
    # Unit of numeric timestamps; "auto" reads it from their magnitude.
    timestamp_unit: TimestampUnit = "auto"
    # Text encoding of the source files; None uses the family's default (UTF-8).
    encoding: str | None = None
    # MovieLens: how many of an item's most frequent tags go into its text.
    max_tags_per_item: int = 10
    # The generic table source (dataset: table).
    table: TableConfig = field(default_factory=TableConfig)

    def validate(self) -> None:
        require(
            self.min_user_interactions >= 3,
            "data.min_user_interactions",
            self.min_user_interactions,
            "leave-one-out needs at least 3 per user",
        )
        require(
            self.min_item_interactions >= 1,
            "data.min_item_interactions",
            self.min_item_interactions,
            "use 1 or more",
        )
        require(
            self.max_users is None or self.max_users > 0,
            "data.max_users",
            self.max_users,
            "use a positive number or null",
        )
        require(
            0.0 < self.temporal_valid_quantile < self.temporal_test_quantile < 1.0,
            "data.temporal_valid_quantile",
            (self.temporal_valid_quantile, self.temporal_test_quantile),
            "need 0 < temporal_valid_quantile < temporal_test_quantile < 1",
        )
        require(
            self.max_tags_per_item >= 0,
            "data.max_tags_per_item",
            self.max_tags_per_item,
            "use 0 or more",
        )
        require(
            self.event_types is None or len(self.event_types) > 0,
            "data.event_types",
            self.event_types,
            "list at least one event type, or use null to keep all",
        )
