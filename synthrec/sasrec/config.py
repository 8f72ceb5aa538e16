"""Config of the SASRec stage: model, loss, training and evaluation protocol."""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require


@dataclass
class SasrecConfig:
    hidden_size: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    max_seq_len: int = 200
    norm: Literal["pre", "post"] = "pre"
    loss: Literal["bce", "sampled_softmax", "full_ce"] = "sampled_softmax"
    num_negatives: int = 128
    temperature: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 20
    patience_epochs: int = 3
    ks: list[int] = field(default_factory=lambda: [10, 50, 100, 200])
    exclude_history: bool = True
    seeds: list[int] = field(default_factory=lambda: [0])

    def validate(self) -> None:
        require(self.hidden_size % self.num_heads == 0, "sasrec.hidden_size",
                self.hidden_size, "must be divisible by sasrec.num_heads")
        require(self.max_seq_len >= 2, "sasrec.max_seq_len", self.max_seq_len,
                "use 2 or more")
        require(len(self.seeds) >= 1, "sasrec.seeds", self.seeds, "give at least one seed")
