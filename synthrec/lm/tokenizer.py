"""The LM tokenizer: counting tokens, and building the tokenizer from the corpus.

The default tokenizer for from-scratch models is word-level over these
pre-tokens (SID tokens are whole words, punctuation is split off), so the number
of pre-tokens of a text is exactly its number of LM tokens. The synthetic-data
budgets and manifest use `count_tokens`; the tokenizer builder uses
`PRETOKEN_PATTERN`.

Three kinds of tokenizer, all saved with `save_pretrained` and loaded with
`load_tokenizer`:

- "word": one id per distinct pre-token of the training shards, plus one id per
  SID token (listed first, so every SID code has an id even if unused);
- "bpe": byte-pair merges learned on the training shards over the same
  pre-tokens, with every SID token added whole (never split);
- pretrained: a checkpoint's own tokenizer plus the SID tokens added whole; the
  model's new embedding rows are set by `synthrec.lm.model.add_sid_rows`.

Every document ends with one end-of-text token ([EOS], or the checkpoint's own).
Vocabularies read training shards only, never evaluation sets.
"""

import logging
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from synthrec.errors import SynthrecError
from synthrec.io import write_json

log = logging.getLogger(__name__)

# A SID tag, a run of word characters (REC123 included), or one other non-space char.
PRETOKEN_PATTERN = r"</?RECTOKEN>|\w+|[^\w\s]"
_PRETOKEN_RE = re.compile(PRETOKEN_PATTERN)

# Every document ends with one end-of-text token.
EOS_TOKENS_PER_DOC = 1

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"
META_FILE = "synthrec_tokenizer.json"
TokenizerKind = Literal["word", "bpe"]


def pretokenize(text: str) -> list[str]:
    return _PRETOKEN_RE.findall(text)


def count_tokens(texts: Iterable[str]) -> np.ndarray:
    """LM tokens per text, including the end-of-text token."""
    return np.fromiter(
        (len(_PRETOKEN_RE.findall(t)) + EOS_TOKENS_PER_DOC for t in texts),
        dtype=np.int64,
    )


# -- reading the corpus -------------------------------------------------------


def training_shards(corpus_dir: str | Path) -> list[Path]:
    """Every training shard of every modality, in a fixed order."""
    train = Path(corpus_dir) / "train"
    shards = sorted(train.glob("*/part-*.parquet"))
    if not shards:
        raise SynthrecError(
            f"no training shards under {train} (expected train/<modality>/"
            "part-*.parquet); generate the corpus first"
        )
    return shards


def iter_texts(shards: Iterable[Path], batch_rows: int = 4096) -> Iterator[str]:
    """The `text` column of each shard, streamed in record batches."""
    import pyarrow.parquet as pq

    for shard in shards:
        file = pq.ParquetFile(shard)
        if "text" not in file.schema_arrow.names:
            raise SynthrecError(f"{shard}: no 'text' column")
        for batch in file.iter_batches(batch_size=batch_rows, columns=["text"]):
            yield from batch.column(0).to_pylist()


# -- building -----------------------------------------------------------------


def _pre_tokenizer() -> Any:
    from tokenizers import Regex, pre_tokenizers

    # Split on whitespace, then isolate each pattern match; the pattern covers
    # every non-space character, so nothing is left between matches.
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(PRETOKEN_PATTERN), behavior="isolated"),
        ]
    )


def _word_level(
    texts: Iterable[str], special_tokens: list[str], max_vocab_size: int | None
) -> Any:
    """A word-level tokenizer: specials, SID tokens, then words by frequency.

    With `max_vocab_size`, only the most frequent words that fit are kept and
    the rest read as [UNK]; token counts do not change (one per pre-token).
    """
    from tokenizers import Tokenizer, models

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_PRETOKEN_RE.findall(text))
    vocab: dict[str, int] = {}
    for token in [PAD, UNK, EOS, *special_tokens]:
        vocab.setdefault(token, len(vocab))
    # Ties in frequency are broken by the word itself, so the ids are stable.
    limit = max_vocab_size or len(vocab) + len(counts)
    if limit < len(vocab):
        raise SynthrecError(
            f"max_vocab_size={max_vocab_size} is below the "
            f"{len(vocab)} special and SID tokens"
        )
    for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) == limit:
            break
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = _pre_tokenizer()
    return tok


def _bpe(texts: Iterable[str], special_tokens: list[str], vocab_size: int) -> Any:
    """Byte-pair merges over the same pre-tokens; SID tokens added whole."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, trainers

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.BPEDecoder()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, UNK, EOS], show_progress=False
    )
    # SID tokens are single ids: added before training so merges never see them.
    tok.add_tokens(
        [AddedToken(t, single_word=True, normalized=False) for t in special_tokens]
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _wrap(tok: Any) -> Any:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    eos_id = tok.token_to_id(EOS)
    # Encoding with special tokens appends [EOS], as every corpus document has.
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", special_tokens=[(EOS, eos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token=UNK, eos_token=EOS, pad_token=PAD
    )


def _pretrained(name: str, special_tokens: list[str]) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise SynthrecError(f"cannot load the tokenizer of {name!r}: {exc}") from None
    if tok.eos_token_id is None:
        raise SynthrecError(f"the tokenizer of {name!r} has no end-of-text token")
    added = tok.add_tokens(special_tokens)
    log.info("added %d SID tokens to the tokenizer of %s", added, name)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def build_tokenizer(
    corpus_dir: str | Path,
    special_tokens: list[str],
    out_dir: str | Path,
    kind: TokenizerKind = "word",
    bpe_vocab_size: int = 4096,
    pretrained: str | None = None,
    max_vocab_size: int | None = None,
) -> Any:
    """Build the LM tokenizer from the training shards and save it to `out_dir`.

    `pretrained` (a checkpoint path or hub name) takes that tokenizer and adds
    the SID tokens; otherwise `kind` picks a word-level or BPE tokenizer learned
    on the training shards of `corpus_dir`. `max_vocab_size` caps a word-level
    vocabulary (the output layer dominates a tiny model's FLOPs).
    """
    if pretrained:
        tok = _pretrained(pretrained, special_tokens)
        kind_name = "pretrained"
    else:
        texts = iter_texts(training_shards(corpus_dir))
        if kind == "word":
            tok = _wrap(_word_level(texts, special_tokens, max_vocab_size))
        elif kind == "bpe":
            tok = _wrap(_bpe(texts, special_tokens, bpe_vocab_size))
        else:
            raise SynthrecError(f"tokenizer kind {kind!r} is unknown: use word or bpe")
        kind_name = kind
    _save(
        tok,
        out_dir,
        {
            "kind": kind_name,
            "pretrained": pretrained,
            "vocab_size": len(tok),
            "num_sid_tokens": len(special_tokens),
            "pretoken_pattern": PRETOKEN_PATTERN,
        },
    )
    log.info("tokenizer (%s) with %d tokens saved to %s", kind_name, len(tok), out_dir)
    return tok


def _save(tok: Any, out_dir: str | Path, meta: dict[str, Any]) -> None:
    """Write the tokenizer into a temporary folder, then move it into place."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        tok.save_pretrained(tmp)
        write_json(tmp / META_FILE, meta)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_tokenizer(tokenizer_dir: str | Path) -> Any:
    """A tokenizer saved by `build_tokenizer` (plain transformers loading)."""
    from transformers import AutoTokenizer

    path = Path(tokenizer_dir)
    if not (path / META_FILE).is_file():
        raise SynthrecError(
            f"no tokenizer at {path}; build one with `synthrec lm tokenizer`"
        )
    return AutoTokenizer.from_pretrained(path)
