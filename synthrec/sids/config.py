"""Config of the semantic-ID stage: item text -> embedding -> code tuple."""

from dataclasses import dataclass
from typing import Literal

from synthrec.configtools import require

Method = Literal["rq_kmeans", "rq_vae", "sae"]
EmbeddingBackend = Literal["tfidf_svd", "sentence_transformers"]


@dataclass
class SidConfig:
    """How items become code tuples.

    Level methods (rq_kmeans, rq_vae) give each item `num_levels` codes from
    codebooks of `codebook_size`; the sparse autoencoder (sae) gives each item its
    `sae_top_k` strongest features out of `sae_dictionary_size`. Either way a
    disambiguation code is appended when two items would share a tuple.
    """

    method: Method = "rq_kmeans"

    # Item text -> embedding.
    embedding: EmbeddingBackend = "tfidf_svd"
    embedding_dim: int = 64
    # sentence-transformers model (local path or hub name) when embedding says so.
    embedding_model: str | None = None
    embedding_batch_size: int = 64
    # Cache of embeddings per item set; None uses $SYNTHREC_CACHE_HOME or
    # ~/.cache/synthrec. Set cache_embeddings false to always recompute.
    cache_dir: str | None = None
    cache_embeddings: bool = True
    tfidf_max_features: int = 50_000

    # Residual levels (rq_kmeans, rq_vae).
    num_levels: int = 3
    codebook_size: int = 256
    kmeans_iters: int = 25
    # auto: Lloyd up to 200k training items, MiniBatchKMeans above.
    kmeans_algorithm: Literal["auto", "lloyd", "minibatch"] = "auto"

    # RQ-VAE (torch, CPU by default).
    rqvae_latent_dim: int = 32
    rqvae_hidden_dim: int = 128
    rqvae_epochs: int = 60
    rqvae_batch_size: int = 512
    rqvae_learning_rate: float = 1e-3
    rqvae_commitment_weight: float = 0.25
    # A code unused for this many optimiser steps is restarted on a live residual.
    rqvae_dead_code_window_steps: int = 20

    # Sparse autoencoder with top-k activation.
    sae_dictionary_size: int = 1024
    sae_top_k: int = 8
    sae_epochs: int = 60
    sae_batch_size: int = 512
    sae_learning_rate: float = 1e-3
    # A feature that fired for no item in this many steps is resampled.
    sae_dead_feature_window_steps: int = 40

    device: str = "cpu"
    # Threads for torch (and the BLAS/OpenMP pools) while RQ-VAE or SAE train.
    torch_num_threads: int = 1

    # Quality report: neighbourhood agreement at this many neighbours, measured
    # on this many seeded query items (0 skips the neighbourhood part).
    report_neighbours: int = 10
    report_queries: int = 1000

    def validate(self) -> None:
        require(
            self.num_levels >= 1, "sids.num_levels", self.num_levels, "use 1 or more"
        )
        require(
            self.codebook_size >= 2,
            "sids.codebook_size",
            self.codebook_size,
            "use 2 or more",
        )
        require(
            self.embedding_dim >= 2,
            "sids.embedding_dim",
            self.embedding_dim,
            "use 2 or more",
        )
        require(
            self.embedding != "sentence_transformers" or bool(self.embedding_model),
            "sids.embedding_model",
            self.embedding_model,
            "name a sentence-transformers model (local path or hub name)",
        )
        for name in (
            "torch_num_threads",
            "kmeans_iters",
            "rqvae_epochs",
            "sae_epochs",
            "embedding_batch_size",
        ):
            value = getattr(self, name)
            require(value >= 1, f"sids.{name}", value, "use 1 or more")
        for name in ("rqvae_batch_size", "sae_batch_size", "rqvae_latent_dim"):
            value = getattr(self, name)
            require(value >= 2, f"sids.{name}", value, "use 2 or more")
        require(
            1 <= self.sae_top_k < self.sae_dictionary_size,
            "sids.sae_top_k",
            self.sae_top_k,
            f"use 1..{self.sae_dictionary_size - 1} (below sae_dictionary_size)",
        )
        for name in ("rqvae_dead_code_window_steps", "sae_dead_feature_window_steps"):
            value = getattr(self, name)
            require(value >= 1, f"sids.{name}", value, "use 1 or more")
        require(
            self.report_neighbours >= 1,
            "sids.report_neighbours",
            self.report_neighbours,
            "use 1 or more",
        )
        require(
            self.report_queries >= 0,
            "sids.report_queries",
            self.report_queries,
            "use 0 (skip) or more",
        )

    @property
    def num_codes_before_disambiguation(self) -> int:
        return self.sae_top_k if self.method == "sae" else self.num_levels
