"""Semantic IDs: every item as a short, unique tuple of code tokens."""

from synthrec.sids.config import SidConfig
from synthrec.sids.fit import TOKENISERS, fit_semantic_ids
from synthrec.sids.semantic_ids import SemanticIds
from synthrec.sids.tokens import render_sid, special_tokens

__all__ = [
    "TOKENISERS",
    "SemanticIds",
    "SidConfig",
    "fit_semantic_ids",
    "render_sid",
    "special_tokens",
]
