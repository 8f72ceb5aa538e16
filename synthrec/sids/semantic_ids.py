"""An item -> code-tuple table, shared by every tokeniser."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthrec.io import read_json, write_json, write_parquet
from synthrec.sids import tokens

CODES_FILE = "codes.parquet"
META_FILE = "sids.json"
REPORT_FILE = "report.json"


@dataclass
class SemanticIds:
    """codes: (n_items + 1, num_codes) int64 global code ids; row 0 is padding.

    vocab_size is the number of distinct code ids a tokenizer must hold
    (ids are in [0, vocab_size)); every real item's tuple is unique. Level
    tokenisers use l * codebook_size + k, the sparse autoencoder its feature
    id; a final disambiguation code, when present, uses ids after those (see
    docs/semantic_ids.md). report holds the quality figures (see sids.report).
    """

    codes: np.ndarray
    vocab_size: int
    method: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def num_codes(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0] - 1)

    def render(self, item_idx: int) -> str:
        return tokens.render_sid(self.codes[item_idx])

    def special_tokens(self) -> list[str]:
        return tokens.special_tokens(self.vocab_size)

    def save(self, out_dir: str | Path) -> None:
        out = Path(out_dir)
        frame = pd.DataFrame(
            {
                "item_idx": np.arange(1, self.codes.shape[0], dtype=np.int64),
                "codes": list(self.codes[1:]),
            }
        )
        write_parquet(out / CODES_FILE, frame)
        write_json(
            out / META_FILE,
            {
                "vocab_size": self.vocab_size,
                "method": self.method,
                "num_codes": self.num_codes,
                "report": self.report,
            },
        )
        # The quality report on its own, for `synthrec sids report` and readers.
        write_json(out / REPORT_FILE, self.report)

    @classmethod
    def load(cls, out_dir: str | Path) -> "SemanticIds":
        out = Path(out_dir)
        meta = read_json(out / META_FILE)
        frame = pd.read_parquet(out / CODES_FILE)
        codes = np.zeros((len(frame) + 1, meta["num_codes"]), dtype=np.int64)
        codes[frame["item_idx"].to_numpy()] = np.stack(frame["codes"].to_numpy())
        return cls(
            codes=codes,
            vocab_size=int(meta["vocab_size"]),
            method=meta["method"],
            report=meta.get("report", {}),
        )
