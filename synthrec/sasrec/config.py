"""Config of the SASRec stage: model, loss, training budget and evaluation protocol.

Defaults give a real-vs-synthetic comparison on ml-latest-small in about a
minute per seed on a 2-core CPU. The MovieLens-1M reference settings are in
docs/sasrec.md (`ML1M_REFERENCE` below holds them as data).
"""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require

Loss = Literal["bce", "sampled_softmax", "full_ce"]
Protocol = Literal["full_ranking", "sampled_100"]
BudgetUnit = Literal["steps", "items"]


@dataclass
class SasrecConfig:
    # -- model ------------------------------------------------------------
    hidden_size: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    # Dropout on embeddings, residual branches and the feed-forward layer.
    dropout: float = 0.1
    # Dropout on attention weights (the original SASRec uses `dropout` here
    # too); 0 lets torch use its fused attention kernel.
    attention_dropout: float = 0.0
    # Longest history the model reads; older items are cut off. 200 is the
    # MovieLens reference; 50 keeps a 2-core CPU run near a minute per source.
    max_seq_len: int = 50
    norm: Literal["pre", "post"] = "pre"

    # -- loss -------------------------------------------------------------
    loss: Loss = "sampled_softmax"
    # Negatives per batch for sampled softmax (shared by every position).
    num_negatives: int = 256
    temperature: float = 1.0

    # -- optimisation and budget -----------------------------------------
    learning_rate: float = 5e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    # "steps": every source gets `max_train_steps` optimiser steps;
    # "items": every source sees `max_train_items` target items (non-padding).
    budget_unit: BudgetUnit = "steps"
    max_train_steps: int = 400
    max_train_items: int = 2_000_000
    # Validate on real valid items this often; stop after `patience_evals`
    # validations without improvement of `early_stopping_metric`.
    eval_every_steps: int = 50
    patience_evals: int = 3
    early_stopping_metric: str = "ndcg@100"

    # How sequences become training windows of max_seq_len + 1 items: "last"
    # keeps each sequence's most recent window (original SASRec); "all" tiles
    # the whole sequence so every interaction is a target once.
    train_windows: Literal["last", "all"] = "all"

    # -- sources ----------------------------------------------------------
    train_on: list[Literal["real", "synthetic", "mix"]] = field(
        default_factory=lambda: ["real", "synthetic"]
    )
    # Share of each mix batch drawn from the synthetic histories.
    mix_synthetic_fraction: float = 0.5

    # -- evaluation ---------------------------------------------------------
    protocol: Protocol = "full_ranking"
    ks: list[int] = field(default_factory=lambda: [10, 50, 100, 200])
    ndcg_ks: list[int] = field(default_factory=lambda: [10, 100])
    # Drop items already in the user's history from the ranking (not the target).
    exclude_history: bool = True
    eval_batch_size: int = 256
    # Seeds run per source: seed, seed + 1, ..., seed + num_seeds - 1.
    num_seeds: int = 1
    # CPU threads torch may use during the comparison; None keeps torch's
    # default. 1 is the safe choice on a busy 2-core machine: oversubscribed
    # OpenMP threads made small steps up to 50x slower there (docs/sasrec.md).
    num_threads: int | None = 1
    # "cpu", "cuda", or "auto" (CUDA when available). Negatives are drawn on
    # the CPU either way.
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    # Write each source's best weights to out_dir/<source>/seed<k>/best.pt.
    save_checkpoints: bool = True

    def validate(self) -> None:
        require(
            self.hidden_size > 0,
            "sasrec.hidden_size",
            self.hidden_size,
            "use a positive width",
        )
        require(
            self.hidden_size % self.num_heads == 0,
            "sasrec.hidden_size",
            self.hidden_size,
            "must be divisible by sasrec.num_heads",
        )
        require(
            self.num_blocks >= 1, "sasrec.num_blocks", self.num_blocks, "use 1 or more"
        )
        require(
            0.0 <= self.dropout < 1.0,
            "sasrec.dropout",
            self.dropout,
            "use a probability in [0, 1)",
        )
        require(
            0.0 <= self.attention_dropout < 1.0,
            "sasrec.attention_dropout",
            self.attention_dropout,
            "use a probability in [0, 1)",
        )
        require(
            self.max_seq_len >= 2,
            "sasrec.max_seq_len",
            self.max_seq_len,
            "use 2 or more",
        )
        require(
            self.num_negatives >= 1,
            "sasrec.num_negatives",
            self.num_negatives,
            "use 1 or more",
        )
        require(
            self.temperature > 0, "sasrec.temperature", self.temperature, "must be > 0"
        )
        require(
            self.learning_rate > 0,
            "sasrec.learning_rate",
            self.learning_rate,
            "must be > 0",
        )
        require(
            self.batch_size >= 1, "sasrec.batch_size", self.batch_size, "use 1 or more"
        )
        require(
            self.max_train_steps >= 1,
            "sasrec.max_train_steps",
            self.max_train_steps,
            "use 1 or more",
        )
        require(
            self.max_train_items >= 1,
            "sasrec.max_train_items",
            self.max_train_items,
            "use 1 or more",
        )
        require(
            self.eval_every_steps >= 1,
            "sasrec.eval_every_steps",
            self.eval_every_steps,
            "use 1 or more",
        )
        require(
            self.patience_evals >= 1,
            "sasrec.patience_evals",
            self.patience_evals,
            "use 1 or more",
        )
        require(
            len(self.train_on) >= 1 and len(set(self.train_on)) == len(self.train_on),
            "sasrec.train_on",
            self.train_on,
            "list each of real, synthetic, mix at most once",
        )
        require(
            0.0 < self.mix_synthetic_fraction < 1.0,
            "sasrec.mix_synthetic_fraction",
            self.mix_synthetic_fraction,
            "use a share strictly between 0 and 1",
        )
        require(
            len(self.ks) >= 1 and all(k >= 1 for k in self.ks),
            "sasrec.ks",
            self.ks,
            "give cut-offs of 1 or more",
        )
        require(
            all(k >= 1 for k in self.ndcg_ks),
            "sasrec.ndcg_ks",
            self.ndcg_ks,
            "give cut-offs of 1 or more",
        )
        require(
            self.eval_batch_size >= 1,
            "sasrec.eval_batch_size",
            self.eval_batch_size,
            "use 1 or more",
        )
        require(
            self.num_seeds >= 1, "sasrec.num_seeds", self.num_seeds, "use 1 or more"
        )
        require(
            self.early_stopping_metric in self.metric_names(),
            "sasrec.early_stopping_metric",
            self.early_stopping_metric,
            f"choose one of {', '.join(self.metric_names())}",
        )

    def metric_names(self) -> list[str]:
        """Every metric the evaluation reports, in table order."""
        names = [f"recall@{k}" for k in self.ks] + [f"ndcg@{k}" for k in self.ndcg_ks]
        return [*names, "mrr"]


# Reference settings for the MovieLens-1M accuracy anchor (docs/sasrec.md).
ML1M_REFERENCE = {
    "hidden_size": 64,
    "num_blocks": 2,
    "num_heads": 1,
    "dropout": 0.2,
    "attention_dropout": 0.2,
    "max_seq_len": 200,
    "train_windows": "last",
    "loss": "sampled_softmax",
    "num_negatives": 128,
    "learning_rate": 1e-3,
    "batch_size": 128,
    "budget_unit": "steps",
    "max_train_steps": 20000,
    "eval_every_steps": 500,
    "patience_evals": 5,
    "early_stopping_metric": "ndcg@10",
    "train_on": ["real"],
    "num_seeds": 3,
    "num_threads": None,
    "device": "auto",
}
