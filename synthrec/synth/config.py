"""Config of the synthetic-data stage: item graph, CF rules, walks, eval sets.

Defaults generate a full corpus for ml-latest-small in well under a minute on
a 2-core laptop. Token budgets are off by default (every item sentence, every
rule, `walks_per_node` walks per item); set `budget` to cap or grow a modality.
"""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require

# Training modalities, in generation order; `general` only with a text source.
MODALITIES = ("item_text", "cf", "uih", "general")
# Evaluation sets; `general` only with a text source.
EVAL_SETS = (
    "item_text",
    "cf_seen_pair",
    "cf_one_unseen",
    "cf_both_unseen",
    "uih_ood",
    "uih_full_graph",
    "uih_real",
    "general",
)


@dataclass
class GraphConfig:
    # Items within `window` positions of each other in a user's train sequence
    # are linked; "forward" links earlier -> later only, "both" adds the reverse.
    window: int = 3
    direction: Literal["forward", "both"] = "both"
    # count: co-occurrences; normalized: count / sqrt(count_a * count_b);
    # pmi: max(0, log lift); lift: count * total / (count_a * count_b).
    weighting: Literal["count", "normalized", "pmi", "lift"] = "count"
    # Edges seen fewer times than this are dropped before weighting.
    min_support: int = 1
    # Keep the top_k heaviest out-edges per node (0 keeps all).
    top_k: int = 50

    def validate(self) -> None:
        require(self.window >= 1, "synth.graph.window", self.window, "use 1 or more")
        require(
            self.min_support >= 1,
            "synth.graph.min_support",
            self.min_support,
            "use 1 or more",
        )
        require(self.top_k >= 0, "synth.graph.top_k", self.top_k, "use 0 (all) or more")


@dataclass
class RulesConfig:
    # A rule A -> B needs this many users who interacted with both.
    min_support_users: int = 3
    min_confidence: float = 0.05
    min_lift: float = 1.0
    # Keep the rules with the highest confidence per antecedent (0 keeps all).
    top_k_per_item: int = 5
    # Antecedents per mining block (memory is about block * n_items counts).
    block_items: int = 2048

    def validate(self) -> None:
        require(
            self.min_support_users >= 1,
            "synth.rules.min_support_users",
            self.min_support_users,
            "use 1 or more",
        )
        require(
            0.0 <= self.min_confidence <= 1.0,
            "synth.rules.min_confidence",
            self.min_confidence,
            "use a probability in [0, 1]",
        )
        require(self.min_lift >= 0, "synth.rules.min_lift", self.min_lift, "use >= 0")
        require(
            self.top_k_per_item >= 0,
            "synth.rules.top_k_per_item",
            self.top_k_per_item,
            "use 0 (all) or more",
        )
        require(
            self.block_items >= 1,
            "synth.rules.block_items",
            self.block_items,
            "use 1 or more",
        )


@dataclass
class WalkConfig:
    # node2vec: 1/p weights a step back to the previous item, 1/q a step away
    # from its neighbourhood.
    p: float = 1.0
    q: float = 0.5
    walk_length: int = 20
    walks_per_node: int = 4
    # uniform: every item starts the same number of walks (no popularity bias);
    # degree: starts drawn in proportion to an item's number of neighbours.
    start: Literal["uniform", "degree"] = "uniform"
    # fixed: every walk has walk_length items; real: lengths drawn from the real
    # train history lengths, clipped to [2, walk_length].
    length: Literal["fixed", "real"] = "fixed"

    def validate(self) -> None:
        require(self.p > 0, "synth.walks.p", self.p, "must be > 0")
        require(self.q > 0, "synth.walks.q", self.q, "must be > 0")
        require(
            self.walk_length >= 2,
            "synth.walks.walk_length",
            self.walk_length,
            "use 2 or more",
        )
        require(
            self.walks_per_node >= 1,
            "synth.walks.walks_per_node",
            self.walks_per_node,
            "use 1 or more",
        )


@dataclass
class BudgetConfig:
    """LM-token budgets per training modality; generation stops at the budget.

    Either name budgets per modality in `tokens`, or a `total_tokens` split by
    `shares`. A modality with no budget generates its natural size (every item,
    every rule, walks_per_node walks per item). uih grows past its natural size
    when its budget asks for more (more rounds of walks).
    """

    tokens: dict[str, int] = field(default_factory=dict)
    total_tokens: int | None = None
    shares: dict[str, float] = field(default_factory=dict)

    def validate(self) -> None:
        for name in [*self.tokens, *self.shares]:
            require(
                name in MODALITIES,
                f"synth.budget.{name}",
                name,
                f"use one of {', '.join(MODALITIES)}",
            )
        for name, value in self.tokens.items():
            require(value >= 1, f"synth.budget.tokens.{name}", value, "use 1 or more")
        if self.total_tokens is not None:
            require(
                self.total_tokens >= 1,
                "synth.budget.total_tokens",
                self.total_tokens,
                "use 1 or more",
            )
            total = sum(self.shares.values())
            require(
                self.shares and abs(total - 1.0) < 1e-6,
                "synth.budget.shares",
                self.shares,
                "with total_tokens, give shares per modality that sum to 1",
            )

    def for_modality(self, name: str) -> int | None:
        """The token budget of one modality, or None for its natural size."""
        if name in self.tokens:
            return self.tokens[name]
        if self.total_tokens is not None and name in self.shares:
            return int(self.total_tokens * self.shares[name])
        return None


@dataclass
class GeneralTextConfig:
    """An optional general-text source mixed into training at `share`."""

    # A local .jsonl or .parquet file; None turns general text off.
    path: str | None = None
    text_field: str = "text"
    # Share of all training tokens that general text makes up.
    share: float = 0.1

    def validate(self) -> None:
        require(
            0.0 <= self.share < 1.0,
            "synth.general.share",
            self.share,
            "use a fraction in [0, 1)",
        )


@dataclass
class SynthConfig:
    graph: GraphConfig = field(default_factory=GraphConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    walks: WalkConfig = field(default_factory=WalkConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    general: GeneralTextConfig = field(default_factory=GeneralTextConfig)
    # Item-text template family: auto picks movielens or amazon from the columns.
    item_template: Literal["auto", "movielens", "amazon", "generic"] = "auto"
    # Share of train items held out of item-text and CF training, so the eval
    # sets have unseen items.
    cf_holdout_item_fraction: float = 0.1
    # Share of known CF pairs (both items seen) held out for cf_seen_pair.
    cf_holdout_pair_fraction: float = 0.05
    # Share of users held out of every training structure, for uih_real.
    holdout_user_fraction: float = 0.05
    max_eval_rows_per_set: int = 300
    # Ray Data workers (actors) that run walk blocks; 0 uses every Ray CPU.
    num_workers: int = 0
    # Walks are generated in at least num_blocks blocks (to spread them over
    # workers) of at most rows_per_shard walks; one block is one uih shard.
    num_blocks: int = 4
    rows_per_shard: int = 20000
    # Also write a JSONL copy of every shard beside the Parquet.
    write_jsonl: bool = False

    def validate(self) -> None:
        for name in (
            "cf_holdout_item_fraction",
            "cf_holdout_pair_fraction",
            "holdout_user_fraction",
        ):
            value = getattr(self, name)
            require(
                0.0 <= value < 1.0, f"synth.{name}", value, "use a fraction in [0, 1)"
            )
        require(
            self.max_eval_rows_per_set >= 1,
            "synth.max_eval_rows_per_set",
            self.max_eval_rows_per_set,
            "use 1 or more",
        )
        require(self.num_blocks >= 1, "synth.num_blocks", self.num_blocks, "use >= 1")
        require(
            self.num_workers >= 0, "synth.num_workers", self.num_workers, "use >= 0"
        )
        require(
            self.rows_per_shard >= 1,
            "synth.rows_per_shard",
            self.rows_per_shard,
            "use 1 or more",
        )
