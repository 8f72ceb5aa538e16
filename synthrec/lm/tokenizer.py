"""Counting LM tokens the way the LM tokenizer splits text.

The default tokenizer for from-scratch models is word-level over these
pre-tokens (SID tokens are whole words, punctuation is split off), so the number
of pre-tokens of a text is exactly its number of LM tokens. The synthetic-data
budgets and manifest use `count_tokens`; the tokenizer builder uses
`PRETOKEN_PATTERN`.
"""

import re
from collections.abc import Iterable

import numpy as np

# A SID tag, a run of word characters (REC123 included), or one other non-space char.
PRETOKEN_PATTERN = r"</?RECTOKEN>|\w+|[^\w\s]"
_PRETOKEN_RE = re.compile(PRETOKEN_PATTERN)

# Every document ends with one end-of-text token.
EOS_TOKENS_PER_DOC = 1


def pretokenize(text: str) -> list[str]:
    return _PRETOKEN_RE.findall(text)


def count_tokens(texts: Iterable[str]) -> np.ndarray:
    """LM tokens per text, including the end-of-text token."""
    return np.fromiter(
        (len(_PRETOKEN_RE.findall(t)) + EOS_TOKENS_PER_DOC for t in texts), dtype=np.int64
    )
