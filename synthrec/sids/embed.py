"""Item text -> dense, L2-normalised embeddings, with a cache per item set.

Two backends: `tfidf_svd` (TF-IDF over words and word pairs, then truncated SVD;
offline, no model download) and `sentence_transformers` (a local path or a hub
name; imported lazily). Both are fitted on the training items' text only and
then applied to every item. The cache key covers the backend settings, every
item's text, the training item set and the seed, so a changed item set never
reuses stale vectors.
"""

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from synthrec.errors import SynthrecError
from synthrec.io import atomic_path
from synthrec.sids.config import SidConfig

log = logging.getLogger(__name__)

_TFIDF_NGRAMS = (1, 2)


def default_cache_dir() -> Path:
    home = os.environ.get("SYNTHREC_CACHE_HOME")
    return Path(home) if home else Path.home() / ".cache" / "synthrec"


def embed_items(
    texts: list[str], train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> np.ndarray:
    """(n, D) float32 unit-norm embeddings of `texts`; fitted on `train_rows` only."""
    if not texts:
        raise SynthrecError("no item texts to embed: the item table is empty")
    path = _cache_path(texts, train_rows, cfg, seed) if cfg.cache_embeddings else None
    if path is not None and path.is_file():
        log.info("embeddings: cache hit %s", path)
        return np.load(path)

    if cfg.embedding == "tfidf_svd":
        vectors = _tfidf_svd(texts, train_rows, cfg, seed)
    else:
        vectors = _sentence_transformers(texts, cfg)
    vectors = normalise_rows(vectors.astype(np.float32))

    if path is not None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, vectors)
        log.info("embeddings: cached %s", path)
    return vectors


def normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.finfo(x.dtype).tiny)


def _cache_path(
    texts: list[str], train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> Path:
    digest = hashlib.sha256()
    settings = {
        "backend": cfg.embedding,
        "dim": cfg.embedding_dim,
        "model": cfg.embedding_model,
        "tfidf_max_features": cfg.tfidf_max_features,
        "seed": seed if cfg.embedding == "tfidf_svd" else None,
        "version": 1,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    digest.update(np.ascontiguousarray(train_rows, dtype=np.int64).tobytes())
    root = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    return root / "embeddings" / f"{cfg.embedding}-{digest.hexdigest()[:24]}.npy"


# TF-IDF + truncated SVD: a latent-semantic embedding of the item text.
def _tfidf_svd(
    texts: list[str], train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectoriser = TfidfVectorizer(
        ngram_range=_TFIDF_NGRAMS,
        sublinear_tf=True,
        max_features=cfg.tfidf_max_features,
        dtype=np.float32,
    )
    train_texts = [texts[i] for i in train_rows]
    try:
        train_matrix = vectoriser.fit_transform(train_texts)
    except ValueError as exc:  # e.g. every text is empty or a stop word
        raise SynthrecError(
            f"TF-IDF cannot fit the training item texts: {exc}"
        ) from None
    n_terms = train_matrix.shape[1]
    if n_terms <= cfg.embedding_dim:
        raise SynthrecError(
            f"the training item texts have only {n_terms} distinct terms; "
            f"set sids.embedding_dim below that (now {cfg.embedding_dim})"
        )
    svd = TruncatedSVD(n_components=cfg.embedding_dim, n_iter=7, random_state=seed)
    svd.fit(train_matrix)
    log.info(
        "embeddings: tfidf_svd %d terms -> %d dims, explained variance %.3f",
        n_terms,
        cfg.embedding_dim,
        float(svd.explained_variance_ratio_.sum()),
    )
    return svd.transform(vectoriser.transform(texts))


# sentence-transformers: optional, imported only when asked for.
def _sentence_transformers(texts: list[str], cfg: SidConfig) -> np.ndarray:
    model = load_sentence_transformer(cfg.embedding_model or "", cfg.device)
    log.info("embeddings: %s on %d texts", cfg.embedding_model, len(texts))
    vectors = model.encode(
        texts,
        batch_size=cfg.embedding_batch_size,
        show_progress_bar=len(texts) > 10 * cfg.embedding_batch_size,
        convert_to_numpy=True,
    )
    return np.asarray(vectors, dtype=np.float32)


def load_sentence_transformer(name: str, device: str):  # -> SentenceTransformer
    """Load a model by local path or hub name, with a clear error if we cannot."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SynthrecError(
            "sids.embedding=sentence_transformers needs the sentence-transformers "
            "package: pip install 'synthrec[embeddings]' "
            "(or use sids.embedding=tfidf_svd, which needs no model)"
        ) from None
    is_local = Path(name).expanduser().exists()
    try:
        return SentenceTransformer(
            str(Path(name).expanduser()) if is_local else name, device=device
        )
    except Exception as exc:  # hub/network/format errors all mean "cannot load"
        where = "local path" if is_local else "hub name (needs network or HF cache)"
        raise SynthrecError(
            f"cannot load sentence-transformers model {name!r} as a {where}: "
            f"{type(exc).__name__}: {exc}. Offline? Point sids.embedding_model at a "
            "downloaded model folder, or use sids.embedding=tfidf_svd"
        ) from None
