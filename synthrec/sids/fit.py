"""fit_semantic_ids: item text -> embedding -> tokeniser -> unique code tuples."""

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from synthrec.errors import SynthrecError
from synthrec.sids.base import Encoded
from synthrec.sids.config import SidConfig
from synthrec.sids.embed import embed_items
from synthrec.sids.report import build_report
from synthrec.sids.semantic_ids import SemanticIds
from synthrec.sids.unique import collision_rate, disambiguate

log = logging.getLogger(__name__)

# (embeddings of all items, training rows, config, seed) -> codes of all items.
Tokeniser = Callable[[np.ndarray, np.ndarray, SidConfig, int], Encoded]


def _rq_kmeans(
    x: np.ndarray, train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> Encoded:
    from synthrec.sids.rq_kmeans import rq_kmeans_tokenise

    return rq_kmeans_tokenise(
        x,
        train_rows,
        cfg.num_levels,
        cfg.codebook_size,
        cfg.kmeans_iters,
        seed,
        cfg.kmeans_algorithm,
    )


def _rq_vae(
    x: np.ndarray, train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> Encoded:
    from synthrec.sids.rq_vae import rq_vae_tokenise

    return rq_vae_tokenise(x, train_rows, cfg, seed)


def _sae(x: np.ndarray, train_rows: np.ndarray, cfg: SidConfig, seed: int) -> Encoded:
    from synthrec.sids.sae import sae_tokenise

    return sae_tokenise(x, train_rows, cfg, seed)


TOKENISERS: dict[str, Tokeniser] = {
    "rq_kmeans": _rq_kmeans,
    "rq_vae": _rq_vae,
    "sae": _sae,
}


def fit_semantic_ids(
    items: pd.DataFrame,
    train_item_idx: np.ndarray,
    cfg: SidConfig,
    seed: int,
    train_sequences: Sequence[np.ndarray] | None = None,
) -> SemanticIds:
    """Fit the configured tokeniser on the training items and encode every item.

    items holds item_idx 1..n_items and text; train_item_idx lists the items the
    tokeniser (and the embedding) may learn from; train_sequences, when given,
    lets the report compare code neighbours with co-interaction neighbours.
    """
    cfg.validate()
    texts, train_rows = _check_inputs(items, train_item_idx)
    tokenise = TOKENISERS.get(cfg.method)
    if tokenise is None:
        raise SynthrecError(
            f"sids.method={cfg.method!r} is unknown; "
            f"choose one of {', '.join(TOKENISERS)}"
        )
    log.info(
        "sids: %s on %s embeddings, %d items (%d train), seed %d",
        cfg.method,
        cfg.embedding,
        len(texts),
        len(train_rows),
        seed,
    )

    started = time.perf_counter()
    x = embed_items(texts, train_rows, cfg, seed)
    embedded = time.perf_counter()
    encoded = tokenise(x, train_rows, cfg, seed)
    fitted = time.perf_counter()

    # Uniqueness: one extra code numbers the items that share a tuple.
    raw = encoded.global_codes
    codes, extra_ids = disambiguate(raw, encoded.vocab_size)
    collisions = (collision_rate(raw), collision_rate(codes))
    log.info(
        "sids: embed %.1fs, fit+encode %.1fs; collision rate %.2f%% -> %.2f%%",
        embedded - started,
        fitted - embedded,
        100 * collisions[0],
        100 * collisions[1],
    )

    report = build_report(
        x, train_rows, encoded, codes, collisions, extra_ids, cfg, seed, train_sequences
    )
    padded = np.zeros((len(codes) + 1, codes.shape[1]), dtype=np.int64)
    padded[1:] = codes
    return SemanticIds(
        codes=padded,
        vocab_size=encoded.vocab_size + extra_ids,
        method=cfg.method,
        report=report,
    )


def _check_inputs(
    items: pd.DataFrame, train_item_idx: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Texts in item_idx order, and the training rows (item_idx - 1), checked."""
    missing = {"item_idx", "text"} - set(items.columns)
    if missing:
        raise SynthrecError(f"items table lacks column(s) {sorted(missing)}")
    frame = items.sort_values("item_idx")
    idx = frame["item_idx"].to_numpy()
    if len(idx) == 0 or not np.array_equal(idx, np.arange(1, len(idx) + 1)):
        raise SynthrecError("items.item_idx must be exactly 1..n_items, once each")
    train = np.unique(np.asarray(train_item_idx, dtype=np.int64))
    if len(train) == 0:
        raise SynthrecError("no training items: train_item_idx is empty")
    if train[0] < 1 or train[-1] > len(idx):
        raise SynthrecError(
            f"train_item_idx must lie in 1..{len(idx)}, got {train[0]}..{train[-1]}"
        )
    texts = frame["text"].fillna("").astype(str).tolist()
    return texts, train - 1
