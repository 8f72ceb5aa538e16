"""RQ-KMeans: residual k-means, one codebook per level.

Level 0 clusters the embeddings; level l clusters what levels 0..l-1 left
unexplained (the residual). An item's code at level l is its nearest centre on
its residual, so unseen items are encoded the same way as training items.
"""

import logging
from typing import Literal

import numpy as np

from synthrec.sids.base import Encoded, level_offsets, nearest_centre

log = logging.getLogger(__name__)

KMeansAlgorithm = Literal["auto", "lloyd", "minibatch"]
_MINIBATCH_ROWS = 4096
# "auto" switches from Lloyd to MiniBatchKMeans above this many training rows:
# at 1M items MiniBatch was 17x faster for 3% more reconstruction error
# (python -m synthrec.bench sids, docs/semantic_ids.md).
AUTO_MINIBATCH_ROWS = 200_000


def kmeans_centres(
    x: np.ndarray, k: int, iters: int, seed: int, algorithm: KMeansAlgorithm = "auto"
) -> np.ndarray:
    """(k', D) centres of one k-means fit, k' = min(k, distinct rows of x)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    distinct = len(np.unique(x, axis=0)) if len(x) <= 4 * k else k
    k_eff = max(1, min(k, distinct))
    if k_eff < k:
        log.warning(
            "k-means: only %d distinct points, using %d of %d codes", distinct, k_eff, k
        )
    if algorithm == "auto":
        algorithm = "minibatch" if len(x) > AUTO_MINIBATCH_ROWS else "lloyd"
    if algorithm == "minibatch":
        model = MiniBatchKMeans(
            n_clusters=k_eff,
            max_iter=iters,
            n_init=1,
            batch_size=_MINIBATCH_ROWS,
            random_state=seed,
        )
    else:
        model = KMeans(n_clusters=k_eff, max_iter=iters, n_init=1, random_state=seed)
    model.fit(x)
    return model.cluster_centers_.astype(x.dtype)


def fit_rq_kmeans(
    x: np.ndarray,
    num_levels: int,
    codebook_size: int,
    iters: int,
    seed: int,
    algorithm: KMeansAlgorithm = "auto",
) -> list[np.ndarray]:
    """One (K, D) codebook per level, fitted on the rows of x (the training items)."""
    residual = np.array(x, dtype=np.float32, copy=True)
    codebooks = []
    for level in range(num_levels):
        centres = kmeans_centres(
            residual, codebook_size, iters, seed + level, algorithm
        )
        residual -= centres[nearest_centre(residual, centres)]
        codebooks.append(centres)
        log.info(
            "rq_kmeans: level %d/%d fitted, residual energy %.4f",
            level + 1,
            num_levels,
            float(np.mean(np.sum(residual**2, axis=1))),
        )
    return codebooks


def encode_rq(
    x: np.ndarray, codebooks: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Local codes (n, L) and the reconstruction (n, D) of x under the codebooks."""
    residual = np.array(x, dtype=np.float32, copy=True)
    codes = np.empty((len(x), len(codebooks)), dtype=np.int64)
    for level, centres in enumerate(codebooks):
        codes[:, level] = nearest_centre(residual, centres)
        residual -= centres[codes[:, level]]
    return codes, (x - residual).astype(np.float32)


def rq_kmeans_tokenise(
    x_all: np.ndarray,
    train_rows: np.ndarray,
    num_levels: int,
    codebook_size: int,
    iters: int,
    seed: int,
    algorithm: KMeansAlgorithm = "auto",
) -> Encoded:
    """Fit on x_all[train_rows], encode every row of x_all."""
    codebooks = fit_rq_kmeans(
        x_all[train_rows], num_levels, codebook_size, iters, seed, algorithm
    )
    codes, reconstruction = encode_rq(x_all, codebooks)
    return Encoded(
        local_codes=codes,
        offsets=level_offsets(num_levels, codebook_size),
        sizes=np.full(num_levels, codebook_size, dtype=np.int64),
        reconstruction=reconstruction,
    )
