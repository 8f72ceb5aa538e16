"""What every tokeniser hands back, and the nearest-centre search they share."""

from dataclasses import dataclass

import numpy as np

# Rows per block when comparing points with centres: bounds the (rows, K)
# distance matrix to a few tens of MB for K up to a few thousand.
_BLOCK_ROWS = 16_384


@dataclass
class Encoded:
    """Codes of every item before disambiguation, in one tokeniser's own terms.

    local_codes: (n, C) int64, position c holds a code in [0, sizes[c]).
    offsets: (C,) int64, global id = local code + offsets[c].
    sizes: (C,) int64, the codebook each position draws from.
    reconstruction: (n, D) float32, the embedding the codes decode to.
    """

    local_codes: np.ndarray
    offsets: np.ndarray
    sizes: np.ndarray
    reconstruction: np.ndarray

    @property
    def global_codes(self) -> np.ndarray:
        return self.local_codes + self.offsets[None, :]

    @property
    def vocab_size(self) -> int:
        """Global ids are in [0, vocab_size) before any disambiguation code."""
        return int((self.offsets + self.sizes).max())


def level_offsets(num_levels: int, codebook_size: int) -> np.ndarray:
    """Level l code k has global id l * codebook_size + k."""
    return np.arange(num_levels, dtype=np.int64) * codebook_size


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the closest centre (squared Euclidean) for every point, (n,)."""
    centre_sq = np.einsum("kd,kd->k", centres, centres)
    out = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), _BLOCK_ROWS):
        block = points[start : start + _BLOCK_ROWS]
        # ||p - c||^2 = ||p||^2 - 2 p.c + ||c||^2; ||p||^2 does not change argmin.
        scores = centre_sq[None, :] - 2.0 * (block @ centres.T)  # (B, K)
        out[start : start + len(block)] = np.argmin(scores, axis=1)
    return out
