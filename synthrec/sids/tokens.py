"""How an item's semantic ID is written for the LLM.

Both the synthetic-data renderers and the LM tokenizer use these functions, so
the text and the vocabulary never disagree. Code c at level l is written
REC{l * codebook_size + c}: each level has its own token range, one token per code.
"""

from collections.abc import Sequence

SID_OPEN = "<RECTOKEN>"
SID_CLOSE = "</RECTOKEN>"
CODE_PREFIX = "REC"


def code_token(level: int, code: int, codebook_size: int) -> str:
    return f"{CODE_PREFIX}{level * codebook_size + code}"


def render_sid(codes: Sequence[int], codebook_size: int) -> str:
    """`<RECTOKEN> REC12 REC904 ... </RECTOKEN>` for one item's code tuple."""
    inner = " ".join(code_token(lvl, int(c), codebook_size) for lvl, c in enumerate(codes))
    return f"{SID_OPEN} {inner} {SID_CLOSE}"


def special_tokens(num_levels: int, codebook_size: int) -> list[str]:
    """Every SID token the LM vocabulary must hold, in a fixed order."""
    codes = [
        code_token(lvl, c, codebook_size)
        for lvl in range(num_levels)
        for c in range(codebook_size)
    ]
    return [SID_OPEN, SID_CLOSE, *codes]
