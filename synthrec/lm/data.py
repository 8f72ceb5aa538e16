"""Packed training sequences from the corpus shards, mixed by modality.

Each modality is one endless token stream: per epoch, a seeded shuffle of its
shards and of the documents in each shard, every document tokenized and ended
with end-of-text, all concatenated. A sequence is the next `max_seq_len` tokens
of one stream (documents are packed across sequence boundaries).

Which modality the next sequence comes from is decided by a deficit rule over
sequence counts (`next_modality`), so the tokens seen per modality never differ
from `mixture x tokens seen` by more than one sequence, with no randomness.
The whole global order is the same on every worker; worker r of W takes
sequences r, r + W, ... of each global batch, so the data a run sees does not
depend on the number of workers.

The position of every stream and the counts are plain integers
(`MixtureSampler.state_dict`), saved in checkpoints so a resumed run continues
with exactly the data it would have seen.

Where a shard's texts come from is a `ShardSource`: `LocalShards` reads the
Parquet file (local backend); `RayDataShards` reads the rows of Ray Data
iterators (`ray.train.get_dataset_shard`, Ray Train backend) built in the
driver by `ray_train_datasets`. Both give each shard's texts in file order, so
the packing and mixture code above them, and the data of a run, are the same.
"""

import json
import logging
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from synthrec.errors import SynthrecError
from synthrec.lm.tokenizer import PRETOKEN_PATTERN, iter_texts, pretokenize

log = logging.getLogger(__name__)

IGNORE_INDEX = -100


# -- pure pieces ----------------------------------------------------------------


def next_modality(weights: dict[str, float], counts: dict[str, int]) -> str:
    """The modality furthest behind its share after one more sequence.

    Ties go to the earlier name in sorted order, so the choice is deterministic.
    """
    total = sum(weights.values())
    n_next = sum(counts.values()) + 1
    names = sorted(m for m, w in weights.items() if w > 0)
    return max(
        names, key=lambda m: (weights[m] / total * n_next - counts[m], -names.index(m))
    )


def pack_eval(
    docs: Sequence[np.ndarray], max_seq_len: int, max_tokens: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Documents in order, concatenated and cut into `(n, max_seq_len)` rows.

    Returns (input_ids, labels); the last row is padded with `pad_id` inputs
    and IGNORE_INDEX labels. At most `max_tokens` tokens are kept.
    """
    if not docs:
        return (np.zeros((0, max_seq_len), np.int64),) * 2
    stream = np.concatenate(docs)[:max_tokens]
    n_rows = -(-len(stream) // max_seq_len)
    ids = np.full(n_rows * max_seq_len, pad_id, np.int64)
    labels = np.full(n_rows * max_seq_len, IGNORE_INDEX, np.int64)
    ids[: len(stream)] = stream
    labels[: len(stream)] = stream
    return ids.reshape(n_rows, max_seq_len), labels.reshape(n_rows, max_seq_len)


def _stream_seed(seed: int, modality: str, epoch: int) -> list[int]:
    return [seed, zlib.crc32(modality.encode()), epoch]


# -- tokenizing documents --------------------------------------------------------


def encode_docs(tokenizer: Any, texts: list[str]) -> list[np.ndarray]:
    """Token ids of each text, each ended with the end-of-text id.

    Word-level tokenizers take a pure-Python path (pattern split + dict look-up)
    that gives the same ids as the tokenizer and ran ~8x faster than the Rust
    regex pre-tokenizer on the MovieLens corpus.
    """
    eos = tokenizer.eos_token_id
    if _is_word_level(tokenizer):
        vocab, unk = tokenizer.get_vocab(), tokenizer.unk_token_id
        encoded = [[vocab.get(w, unk) for w in pretokenize(t)] for t in texts]
    else:
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [np.asarray([*ids, eos], dtype=np.int64) for ids in encoded]


def _is_word_level(tokenizer: Any) -> bool:
    """True for a word-level tokenizer over our own pre-token pattern."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    spec = json.loads(backend.to_str())
    pre = spec.get("pre_tokenizer") or {}
    patterns = [p.get("pattern", {}).get("Regex") for p in pre.get("pretokenizers", [])]
    return spec["model"]["type"] == "WordLevel" and PRETOKEN_PATTERN in patterns


# -- where shard texts come from ----------------------------------------------------


class ShardSource(Protocol):
    """The `text` column of one training shard, in file order."""

    name: str

    def texts(self, modality: str, shard: Path) -> list[str]: ...


class LocalShards:
    """Reads each shard's Parquet file directly (the local backend)."""

    name = "local_files"

    def texts(self, modality: str, shard: Path) -> list[str]:
        return list(iter_texts([shard]))


RAY_DATASET_PREFIX = "train_"


def ray_dataset_name(modality: str) -> str:
    return f"{RAY_DATASET_PREFIX}{modality}"


class RayDataShards:
    """Shard texts read through Ray Data iterators, one per modality.

    Every worker gets the whole dataset of each modality (not a split of it,
    see `ray_train_datasets`); the first time a modality is needed its
    iterator is read once, in order, into per-shard text lists (keyed by file
    name), which later epochs reuse. Rows read are counted per modality.
    """

    name = "ray.train.get_dataset_shard"

    def __init__(self, iterators: dict[str, Any]):
        self.iterators = iterators
        self.rows_read: dict[str, int] = {}
        self._by_shard: dict[str, dict[str, list[str]]] = {}

    @classmethod
    def from_train_context(cls, modalities: list[str]) -> "RayDataShards":
        """This Ray Train worker's dataset iterators for `modalities`."""
        import ray.train

        iterators = {}
        for m in modalities:
            it = ray.train.get_dataset_shard(ray_dataset_name(m))
            if it is None:
                raise SynthrecError(
                    f"no Ray Data dataset {ray_dataset_name(m)!r} was passed to "
                    "the TorchTrainer; build them with ray_train_datasets"
                )
            iterators[m] = it
        return cls(iterators)

    def texts(self, modality: str, shard: Path) -> list[str]:
        if modality not in self._by_shard:
            self._by_shard[modality] = self._read(modality)
        texts = self._by_shard[modality].get(shard.name)
        if texts is None:
            raise SynthrecError(
                f"{shard}: not in the Ray Data dataset of modality {modality!r}"
            )
        return texts

    def _read(self, modality: str) -> dict[str, list[str]]:
        by_shard: dict[str, list[str]] = {}
        for batch in self.iterators[modality].iter_batches(
            batch_size=None, batch_format="pyarrow"
        ):
            paths = batch.column("path").to_pylist()
            for path, text in zip(paths, batch.column("text").to_pylist(), strict=True):
                by_shard.setdefault(Path(path).name, []).append(text)
        self.rows_read[modality] = sum(len(t) for t in by_shard.values())
        log.info(
            "modality %s: %d documents in %d shards read through Ray Data",
            modality,
            self.rows_read[modality],
            len(by_shard),
        )
        return by_shard


def ray_train_datasets(
    corpus_dir: str | Path, mixture: dict[str, float]
) -> tuple[dict[str, Any], Any]:
    """Ray Data datasets of the training shards and the TorchTrainer's DataConfig.

    One dataset per modality with a positive weight (`text` and the file
    `path`), materialised here in the driver in file order, so reading them
    in the workers runs no Ray Data tasks (on a small CPU cluster the training
    workers hold every CPU). No dataset is split: every worker reads all rows
    in file order, so the global batch order, the data position in
    checkpoints and the losses are exactly those of the local backend.
    """
    import ray.data
    import ray.train

    datasets = {}
    for m in sorted(k for k, w in mixture.items() if w > 0):
        ds = ray.data.read_parquet(
            [str(p) for p in modality_shards(corpus_dir, m)],
            columns=["text"],
            include_paths=True,
        )
        ds.context.execution_options.preserve_order = True
        datasets[ray_dataset_name(m)] = ds.materialize()

    return datasets, ray.train.DataConfig(
        datasets_to_split=[],
        execution_options=ray.data.ExecutionOptions(preserve_order=True),
    )


# -- one modality ------------------------------------------------------------------


class ModalityStream:
    """An endless, seeded, resumable token stream over one modality's shards.

    Documents are tokenized lazily, a block of `block_docs` at a time in the
    epoch's shuffled order, so a short run never tokenizes a whole large shard;
    the current shard's encoded documents are kept for later epochs.
    """

    def __init__(
        self,
        name: str,
        shards: list[Path],
        tokenizer: Any,
        seed: int,
        source: ShardSource | None = None,
        block_docs: int = 512,
    ):
        if not shards:
            raise SynthrecError(f"modality {name!r} has no training shards")
        self.name, self.shards, self.tokenizer, self.seed = (
            name,
            shards,
            tokenizer,
            seed,
        )
        self.source = source or LocalShards()
        self.block_docs = block_docs
        self.epoch, self.shard_pos, self.block, self.offset = 0, 0, 0, 0
        self._shard: tuple[int, list[str], dict[int, np.ndarray]] | None = None
        self._tokens: tuple[tuple[int, int, int], np.ndarray] | None = None

    def state_dict(self) -> dict[str, int]:
        return {
            "epoch": self.epoch,
            "shard_pos": self.shard_pos,
            "block": self.block,
            "offset": self.offset,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.shard_pos = state["epoch"], state["shard_pos"]
        self.block, self.offset = state["block"], state["offset"]

    def take(self, n: int) -> np.ndarray:
        """The next `n` tokens, crossing block, shard and epoch boundaries."""
        parts, need = [], n
        while need > 0:
            tokens = self._block_tokens()
            piece = tokens[self.offset : self.offset + need]
            parts.append(piece)
            need -= len(piece)
            self.offset += len(piece)
            if self.offset >= len(tokens):
                self._advance()
        return np.concatenate(parts)

    def _advance(self) -> None:
        self.offset, self.block = 0, self.block + 1
        if self.block * self.block_docs < len(self._shard_state()[1]):
            return
        self.block, self.shard_pos = 0, self.shard_pos + 1
        if self.shard_pos == len(self.shards):
            self.shard_pos, self.epoch = 0, self.epoch + 1

    def _rng(self, *extra: int) -> np.random.Generator:
        return np.random.default_rng(
            [*_stream_seed(self.seed, self.name, self.epoch), *extra]
        )

    def _shard_state(self) -> tuple[int, list[str], dict[int, np.ndarray]]:
        """(shard index, texts, encoded docs) of the epoch's current shard."""
        # Shard order and document order are both reshuffled every epoch.
        shard_idx = int(self._rng().permutation(len(self.shards))[self.shard_pos])
        if self._shard is None or self._shard[0] != shard_idx:
            texts = self.source.texts(self.name, self.shards[shard_idx])
            if not texts:
                raise SynthrecError(f"{self.shards[shard_idx]}: shard has no rows")
            self._shard = (shard_idx, texts, {})
        return self._shard

    def _block_tokens(self) -> np.ndarray:
        shard_idx, texts, encoded = self._shard_state()
        key = (self.epoch, shard_idx, self.block)
        if self._tokens is None or self._tokens[0] != key:
            order = self._rng(shard_idx).permutation(len(texts))
            block = order[
                self.block * self.block_docs : (self.block + 1) * self.block_docs
            ]
            missing = [int(i) for i in block if int(i) not in encoded]
            for i, ids in zip(
                missing,
                encode_docs(self.tokenizer, [texts[i] for i in missing]),
                strict=True,
            ):
                encoded[i] = ids
            self._tokens = (key, np.concatenate([encoded[int(i)] for i in block]))
        return self._tokens[1]


# -- the mixture -------------------------------------------------------------------


class MixtureSampler:
    """Global batches of packed sequences drawn by mixture weight, resumable.

    `source` says where shard texts come from (default: the Parquet files).
    """

    def __init__(
        self,
        corpus_dir: str | Path,
        mixture: dict[str, float],
        tokenizer: Any,
        max_seq_len: int,
        seed: int,
        source: ShardSource | None = None,
    ):
        self.max_seq_len = max_seq_len
        self.weights = {m: w for m, w in mixture.items() if w > 0}
        self.counts = {m: 0 for m in self.weights}
        self.source = source or LocalShards()
        self.streams = {
            m: ModalityStream(
                m, modality_shards(corpus_dir, m), tokenizer, seed, self.source
            )
            for m in sorted(self.weights)
        }

    def next_batch(self, num_sequences: int) -> tuple[np.ndarray, list[str]]:
        """`(num_sequences, max_seq_len)` token ids and each row's modality."""
        rows, names = [], []
        for _ in range(num_sequences):
            m = next_modality(self.weights, self.counts)
            rows.append(self.streams[m].take(self.max_seq_len))
            self.counts[m] += 1
            names.append(m)
        return np.stack(rows), names

    def tokens_by_modality(self) -> dict[str, int]:
        return {m: c * self.max_seq_len for m, c in self.counts.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "streams": {m: s.state_dict() for m, s in self.streams.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = {m: int(state["counts"][m]) for m in self.weights}
        for m, s in self.streams.items():
            s.load_state_dict(state["streams"][m])


def modality_shards(corpus_dir: str | Path, modality: str) -> list[Path]:
    folder = Path(corpus_dir) / "train" / modality
    shards = sorted(folder.glob("part-*.parquet"))
    if not shards:
        raise SynthrecError(
            f"mixture names modality {modality!r} but {folder} has no part-*.parquet"
        )
    return shards


def _first_docs(
    shards: list[Path], tokenizer: Any, max_tokens: int, batch_docs: int = 256
) -> list[np.ndarray]:
    """Encoded documents in file order, stopping once `max_tokens` are covered."""
    docs: list[np.ndarray] = []
    total, batch = 0, []
    for text in iter_texts(shards):
        batch.append(text)
        if len(batch) < batch_docs:
            continue
        docs += encode_docs(tokenizer, batch)
        total, batch = sum(len(d) for d in docs), []
        if total >= max_tokens:
            return docs
    return docs + (encode_docs(tokenizer, batch) if batch else [])


def load_eval_sets(
    corpus_dir: str | Path, tokenizer: Any, max_seq_len: int, max_tokens: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every `eval/<set>/` folder as packed (input_ids, labels), in file order."""
    root = Path(corpus_dir) / "eval"
    sets = {}
    for folder in sorted(p for p in root.glob("*") if p.is_dir()):
        docs = _first_docs(sorted(folder.glob("part-*.parquet")), tokenizer, max_tokens)
        if not docs:
            log.warning("evaluation set %s is empty; skipped", folder.name)
            continue
        sets[folder.name] = pack_eval(
            docs, max_seq_len, max_tokens, tokenizer.pad_token_id
        )
    if not sets:
        raise SynthrecError(f"no evaluation sets under {root} (eval/<set>/part-*)")
    return sets
