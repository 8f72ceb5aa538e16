"""Layered synthetic data: item graph, CF rules, node2vec walks, corpus shards.

The pure pieces (graph, rules, walks, templates) work on arrays; generate_corpus
runs them over Ray Data and writes the sharded corpus with its manifest.
"""

from synthrec.synth.config import (
    BudgetConfig,
    GeneralTextConfig,
    GraphConfig,
    RulesConfig,
    SynthConfig,
    WalkConfig,
)
from synthrec.synth.corpus import (
    check_disjoint,
    generate_corpus,
    read_walk_sequences,
    training_sequences,
)
from synthrec.synth.graph import ItemGraph, build_item_graph
from synthrec.synth.rules import mine_cf_rules
from synthrec.synth.templates import (
    cf_rule_sentence,
    item_text_amazon,
    item_text_generic,
    item_text_movielens,
    uih_sentence,
)
from synthrec.synth.walks import (
    Walks,
    node2vec_walks,
    random_walks,
    transition_probabilities,
)

__all__ = [
    "BudgetConfig",
    "GeneralTextConfig",
    "GraphConfig",
    "ItemGraph",
    "RulesConfig",
    "SynthConfig",
    "WalkConfig",
    "Walks",
    "build_item_graph",
    "cf_rule_sentence",
    "check_disjoint",
    "generate_corpus",
    "item_text_amazon",
    "item_text_generic",
    "item_text_movielens",
    "mine_cf_rules",
    "node2vec_walks",
    "random_walks",
    "read_walk_sequences",
    "training_sequences",
    "transition_probabilities",
    "uih_sentence",
]
