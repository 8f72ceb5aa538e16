"""RQ-VAE: an encoder, a residual vector quantiser and a decoder, in torch.

The encoder maps an embedding (D) to a latent (Z); L codebooks of K vectors
quantise it residually (level l quantises what levels < l left); the decoder
maps the summed code vectors back to D. Loss = reconstruction + codebook loss +
commitment weight * commitment loss, with a straight-through gradient.
Codebooks start from k-means on the first latents; a code no batch has used for
`rqvae_dead_code_window_steps` steps is restarted on the batch's worst-fitted
residual at its level.
"""

import logging

import numpy as np

from synthrec.sids.base import Encoded, level_offsets
from synthrec.sids.config import SidConfig
from synthrec.sids.rq_kmeans import kmeans_centres
from synthrec.sids.torchutil import (
    batches,
    device_of,
    encode_in_chunks,
    seeded_torch,
)

log = logging.getLogger(__name__)

_INIT_ROWS = 4096
_INIT_KMEANS_ITERS = 10
_LOG_EVERY_EPOCHS = 10
_ENCODE_ROWS = 8192


def _build_model(dim: int, cfg: SidConfig):
    import torch
    from torch import nn

    class RQVAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            hidden, latent = cfg.rqvae_hidden_dim, cfg.rqvae_latent_dim
            self.encoder = nn.Sequential(
                nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, latent)
            )
            self.decoder = nn.Sequential(
                nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, dim)
            )
            # (L, K, Z) codebooks; overwritten by the k-means start.
            self.codebooks = nn.Parameter(
                torch.randn(cfg.num_levels, cfg.codebook_size, latent) * 0.1
            )

        def quantise(self, z):
            """Codes (B, L), quantised latent (B, Z), per-level residuals, losses."""
            residual, total = z, torch.zeros_like(z)
            codes, residuals = [], []
            codebook_loss = commit_loss = z.new_zeros(())
            for level in range(self.codebooks.shape[0]):
                book = self.codebooks[level]  # (K, Z)
                with torch.no_grad():  # the choice itself carries no gradient
                    idx = torch.cdist(residual, book).argmin(dim=1)  # (B,)
                chosen = book[idx]
                codebook_loss = (
                    codebook_loss + (chosen - residual.detach()).pow(2).mean()
                )
                commit_loss = commit_loss + (residual - chosen.detach()).pow(2).mean()
                residuals.append(residual.detach())
                codes.append(idx)
                total = total + chosen
                residual = residual - chosen.detach()
            # Straight-through: forward uses the codes, backward reaches the encoder.
            quantised = z + (total - z).detach()
            return (
                torch.stack(codes, 1),
                quantised,
                residuals,
                codebook_loss,
                commit_loss,
            )

    return RQVAE()


def _init_codebooks(model, x, cfg: SidConfig, seed: int) -> None:
    """Start every level's codebook from k-means on that level's residuals."""
    import torch

    with torch.no_grad():
        residual = model.encoder(x[:_INIT_ROWS])
        for level in range(cfg.num_levels):
            centres = kmeans_centres(
                residual.cpu().numpy(),
                cfg.codebook_size,
                _INIT_KMEANS_ITERS,
                seed + level,
            )
            book = model.codebooks[level]
            book[: len(centres)] = torch.from_numpy(centres).to(book)
            idx = torch.cdist(residual, book).argmin(dim=1)
            residual = residual - book[idx]


def _restart_dead_codes(model, residuals, codes, idle_steps, window: int) -> int:
    """Move codes idle for `window` steps onto this batch's worst-fitted residuals.

    A residual far from its code usually means one code is covering two groups;
    a dead code placed there splits them.
    """
    import torch

    restarted = 0
    with torch.no_grad():
        for level, residual in enumerate(residuals):
            dead = torch.nonzero(idle_steps[level] >= window).flatten()
            if len(dead) == 0:
                continue
            book = model.codebooks[level]
            error = (residual - book[codes[:, level]]).pow(2).sum(1)
            worst = error.argsort(descending=True, stable=True)
            take = worst[torch.arange(len(dead)) % len(worst)]
            model.codebooks[level, dead] = residual[take]
            idle_steps[level, dead] = 0
            restarted += len(dead)
    return restarted


def train_rq_vae(x_train: np.ndarray, cfg: SidConfig, seed: int):
    """A trained RQ-VAE module (in eval mode) on the training embeddings."""
    import torch

    device = device_of(cfg.device)
    with seeded_torch(seed, cfg.torch_num_threads):
        x = torch.from_numpy(np.ascontiguousarray(x_train)).to(device)
        generator = torch.Generator().manual_seed(seed)
        model = _build_model(x.shape[1], cfg).to(device)
        _init_codebooks(
            model, x[torch.randperm(len(x), generator=generator)], cfg, seed
        )
        optimiser = torch.optim.Adam(model.parameters(), lr=cfg.rqvae_learning_rate)
        idle = torch.zeros(cfg.num_levels, cfg.codebook_size, dtype=torch.long)

        for epoch in range(1, cfg.rqvae_epochs + 1):
            sums = np.zeros(3)
            restarted = 0
            for idx in batches(len(x), cfg.rqvae_batch_size, generator):
                batch = x[idx]
                codes, quantised, residuals, cb_loss, commit = model.quantise(
                    model.encoder(batch)
                )
                recon = (model.decoder(quantised) - batch).pow(2).sum(1).mean()
                loss = recon + cb_loss + cfg.rqvae_commitment_weight * commit
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()

                # Codes used by this batch are alive; the rest age by one step.
                idle += 1
                for level in range(cfg.num_levels):
                    idle[level, codes[:, level].cpu()] = 0
                restarted += _restart_dead_codes(
                    model, residuals, codes, idle, cfg.rqvae_dead_code_window_steps
                )
                sums += [recon.item(), cb_loss.item(), commit.item()]
            if epoch % _LOG_EVERY_EPOCHS == 0 or epoch == cfg.rqvae_epochs:
                n_batches = -(-len(x) // cfg.rqvae_batch_size)
                r, c, m = sums / n_batches
                log.info(
                    "rq_vae: epoch %d/%d recon %.4f codebook %.4f commit %.4f "
                    "restarted %d",
                    epoch,
                    cfg.rqvae_epochs,
                    r,
                    c,
                    m,
                    restarted,
                )
    return model.eval()


def encode_rq_vae(model, x_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local codes (n, L) and reconstructions (n, D) of every row."""
    device = next(model.parameters()).device

    def encode(batch):
        c, quantised, *_ = model.quantise(model.encoder(batch.to(device)))
        return c.cpu().numpy(), model.decoder(quantised).cpu().numpy()

    return encode_in_chunks(encode, x_all, _ENCODE_ROWS)


def rq_vae_tokenise(
    x_all: np.ndarray, train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> Encoded:
    model = train_rq_vae(x_all[train_rows], cfg, seed)
    codes, reconstruction = encode_rq_vae(model, x_all)
    return Encoded(
        local_codes=codes,
        offsets=level_offsets(cfg.num_levels, cfg.codebook_size),
        sizes=np.full(cfg.num_levels, cfg.codebook_size, dtype=np.int64),
        reconstruction=reconstruction.astype(np.float32),
    )
