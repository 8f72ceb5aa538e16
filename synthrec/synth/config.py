"""Config of the synthetic-data stage: item graph, CF rules, walks, eval sets."""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require


@dataclass
class GraphConfig:
    # Items within `window` positions of each other in a user's train sequence
    # are linked.
    window: int = 3
    direction: Literal["forward", "both"] = "both"
    weighting: Literal["count", "normalized", "pmi", "lift"] = "count"
    min_support: int = 1
    top_k: int = 50


@dataclass
class RulesConfig:
    min_support_users: int = 3
    min_confidence: float = 0.05
    min_lift: float = 1.0
    top_k_per_item: int = 5


@dataclass
class WalkConfig:
    p: float = 1.0
    q: float = 0.5
    walk_length: int = 20
    walks_per_node: int = 4
    start: Literal["uniform", "degree"] = "uniform"

    def validate(self) -> None:
        require(self.p > 0, "synth.walks.p", self.p, "must be > 0")
        require(self.q > 0, "synth.walks.q", self.q, "must be > 0")
        require(self.walk_length >= 2, "synth.walks.walk_length", self.walk_length,
                "use 2 or more")


@dataclass
class SynthConfig:
    graph: GraphConfig = field(default_factory=GraphConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    walks: WalkConfig = field(default_factory=WalkConfig)
    # Share of items held out of CF training so CF eval has unseen items.
    cf_holdout_item_fraction: float = 0.1
    max_eval_rows_per_set: int = 300
    num_blocks: int = 8
    rows_per_shard: int = 20000
