"""Config of the semantic-ID stage: item text -> embedding -> code tuple."""

from dataclasses import dataclass
from typing import Literal

from synthrec.configtools import require


@dataclass
class SidConfig:
    method: Literal["rq_kmeans", "rq_vae", "sae"] = "rq_kmeans"
    embedding: Literal["tfidf_svd", "sentence_transformers"] = "tfidf_svd"
    embedding_dim: int = 64
    # sentence-transformers model (local path or hub name) when embedding says so.
    embedding_model: str | None = None
    num_levels: int = 3
    codebook_size: int = 32
    kmeans_iters: int = 25

    def validate(self) -> None:
        require(self.num_levels >= 1, "sids.num_levels", self.num_levels, "use 1 or more")
        require(self.codebook_size >= 2, "sids.codebook_size", self.codebook_size,
                "use 2 or more")
        require(self.embedding_dim >= 2, "sids.embedding_dim", self.embedding_dim,
                "use 2 or more")
