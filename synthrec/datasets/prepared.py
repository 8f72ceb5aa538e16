"""The canonical, cleaned form of an interaction log that every stage reads."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthrec.io import read_json, sha256_file, write_json, write_parquet

SPLITS = ("train", "valid", "test")
INTERACTIONS_FILE = "interactions.parquet"
ITEMS_FILE = "items.parquet"
MANIFEST_FILE = "manifest.json"
OUTPUT_FILES = (INTERACTIONS_FILE, ITEMS_FILE)


@dataclass
class PreparedData:
    """Interactions in event order with their split, and the item table.

    interactions: user_idx, item_idx (1..n_items; 0 is padding), timestamp
    (int64), rating (float32, NaN if absent), split (train/valid/test); rows in
    (user_idx, event order). items: item_idx, source_item_id, title, text, ...
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    n_users: int
    n_items: int
    manifest: dict[str, Any] = field(default_factory=dict)

    def sequences(self, splits: Sequence[str] = ("train",)) -> list[np.ndarray]:
        """One int64 item array per user (index = user_idx), in event order."""
        frame = self.interactions
        mask = frame["split"].isin(list(splits)).to_numpy()
        users = frame["user_idx"].to_numpy()[mask]
        items = frame["item_idx"].to_numpy()[mask].astype(np.int64)
        counts = np.bincount(users, minlength=self.n_users)
        # Rows are already grouped by user in event order: split by counts.
        order = np.argsort(users, kind="stable")
        return np.split(items[order], np.cumsum(counts)[:-1])

    def train_item_idx(self) -> np.ndarray:
        """Items that appear in the train split (the only ones fit on)."""
        train = self.interactions["split"] == "train"
        return np.unique(self.interactions.loc[train, "item_idx"].to_numpy())

    def save(self, out_dir: str | Path) -> None:
        out = Path(out_dir)
        write_parquet(out / INTERACTIONS_FILE, self.interactions)
        write_parquet(out / ITEMS_FILE, self.items)
        # The manifest comes last and records the tables' checksums, so a
        # reader can tell a complete, untouched output from anything else.
        outputs = {name: sha256_file(out / name) for name in OUTPUT_FILES}
        write_json(
            out / MANIFEST_FILE,
            {
                **self.manifest,
                "n_users": self.n_users,
                "n_items": self.n_items,
                "outputs": outputs,
            },
        )

    @classmethod
    def load(cls, out_dir: str | Path) -> "PreparedData":
        out = Path(out_dir)
        manifest = read_json(out / MANIFEST_FILE)
        return cls(
            interactions=pd.read_parquet(out / INTERACTIONS_FILE),
            items=pd.read_parquet(out / ITEMS_FILE),
            n_users=int(manifest["n_users"]),
            n_items=int(manifest["n_items"]),
            manifest=manifest,
        )
