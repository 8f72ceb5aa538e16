"""How an item's semantic ID is written for the LLM.

Both the synthetic-data renderers and the LM tokenizer use these functions, so
the text and the vocabulary never disagree. A tokeniser maps each item to a
tuple of global code ids in [0, vocab_size); code id c is written `REC{c}`.
Tokenisers with levels give each level its own id range (level l, code k ->
l * codebook_size + k), so one id is one token.
"""

from collections.abc import Sequence

SID_OPEN = "<RECTOKEN>"
SID_CLOSE = "</RECTOKEN>"
CODE_PREFIX = "REC"


def code_token(code_id: int) -> str:
    return f"{CODE_PREFIX}{int(code_id)}"


def render_sid(code_ids: Sequence[int]) -> str:
    """`<RECTOKEN> REC12 REC904 ... </RECTOKEN>` for one item's code ids."""
    inner = " ".join(code_token(c) for c in code_ids)
    return f"{SID_OPEN} {inner} {SID_CLOSE}"


def special_tokens(vocab_size: int) -> list[str]:
    """Every SID token the LM vocabulary must hold, in a fixed order."""
    return [SID_OPEN, SID_CLOSE, *(code_token(c) for c in range(vocab_size))]
