"""Sparse autoencoder with top-k activation; an item's codes are its k features.

encode: pre = W_enc (x - b_pre) + b_enc, keep the k largest pre-activations
(ReLU on those), zero the rest; decode: x_hat = sum_f a_f d_f + b_pre with
unit-norm dictionary rows d_f. Training minimises ||x - x_hat||^2. Dictionary
rows start on random training points; a feature that fired in no batch for
`sae_dead_feature_window_steps` steps is restarted on the direction of a badly
reconstructed item, with a small encoder row so it does not take over (the
usual resampling of dead latents). Resampling stops for the last quarter of
the epochs so the dictionary settles before items are encoded.

Codes: the k selected features ordered by pre-activation, strongest first,
ties by lower feature id. Feature f has global code id f (no level ranges:
the same feature is the same token wherever it appears in the tuple).
"""

import logging

import numpy as np

from synthrec.sids.base import Encoded
from synthrec.sids.config import SidConfig
from synthrec.sids.torchutil import (
    batches,
    device_of,
    encode_in_chunks,
    seeded_torch,
)

log = logging.getLogger(__name__)

_LOG_EVERY_EPOCHS = 10
_ENCODE_ROWS = 8192
# A resampled feature's encoder row is this share of the live rows' mean norm.
_RESAMPLE_ENCODER_SCALE = 0.2
# Resampling runs during this share of the epochs, then the dictionary settles.
_RESAMPLE_SHARE = 0.75


def _build_model(x_init, cfg: SidConfig):
    import torch
    from torch import nn

    m, k = cfg.sae_dictionary_size, cfg.sae_top_k

    class TopKSAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Dictionary rows on random training points; encoder tied at start.
            pick = torch.randint(len(x_init), (m,))
            rows = x_init[pick] - x_init.mean(0)
            rows = rows + 0.01 * torch.randn_like(rows)
            rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-8)
            self.b_pre = nn.Parameter(x_init.mean(0).clone())
            self.dictionary = nn.Parameter(rows.clone())  # (M, D)
            self.w_enc = nn.Parameter(rows.clone())  # (M, D)
            self.b_enc = nn.Parameter(torch.zeros(m))

        def select(self, x):
            """Top-k pre-activations (B, k) and their feature ids (B, k), sorted."""
            pre = (x - self.b_pre) @ self.w_enc.T + self.b_enc  # (B, M)
            return pre.topk(k, dim=1, sorted=True)

        def decode(self, values, features):
            acts = values.relu().unsqueeze(-1)  # (B, k, 1)
            return (acts * self.dictionary[features]).sum(1) + self.b_pre  # (B, D)

        @torch.no_grad()
        def normalise_dictionary(self) -> None:
            self.dictionary /= self.dictionary.norm(dim=1, keepdim=True).clamp_min(1e-8)

    return TopKSAE()


def _resample_dead(model, batch, x_hat, idle, window: int) -> int:
    """Point dead features at the worst-reconstructed items of this batch."""
    import torch

    dead = torch.nonzero(idle >= window).flatten()
    if len(dead) == 0:
        return 0
    with torch.no_grad():
        err = batch - x_hat
        worst = err.pow(2).sum(1).argsort(descending=True)
        take = worst[torch.arange(len(dead)) % len(worst)]
        direction = err[take] / err[take].norm(dim=1, keepdim=True).clamp_min(1e-8)
        live = torch.ones(len(idle), dtype=torch.bool)
        live[dead] = False
        scale = _RESAMPLE_ENCODER_SCALE * (
            model.w_enc[live].norm(dim=1).mean() if live.any() else 1.0
        )
        model.dictionary[dead] = direction
        model.w_enc[dead] = direction * scale
        model.b_enc[dead] = 0.0
    idle[dead] = 0
    return len(dead)


def train_sae(x_train: np.ndarray, cfg: SidConfig, seed: int):
    import torch

    device = device_of(cfg.device)
    with seeded_torch(seed, cfg.torch_num_threads):
        x = torch.from_numpy(np.ascontiguousarray(x_train)).to(device)
        generator = torch.Generator().manual_seed(seed)
        model = _build_model(x, cfg).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=cfg.sae_learning_rate)
        idle = torch.zeros(cfg.sae_dictionary_size, dtype=torch.long)
        last_resample_epoch = int(_RESAMPLE_SHARE * cfg.sae_epochs)

        for epoch in range(1, cfg.sae_epochs + 1):
            total, resampled, n_batches = 0.0, 0, 0
            for idx in batches(len(x), cfg.sae_batch_size, generator):
                batch = x[idx]
                values, features = model.select(batch)
                x_hat = model.decode(values, features)
                loss = (x_hat - batch).pow(2).sum(1).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                model.normalise_dictionary()

                idle += 1
                idle[features[values > 0].cpu()] = 0
                if epoch <= last_resample_epoch:
                    resampled += _resample_dead(
                        model,
                        batch,
                        x_hat.detach(),
                        idle,
                        cfg.sae_dead_feature_window_steps,
                    )
                total, n_batches = total + loss.item(), n_batches + 1
            if epoch % _LOG_EVERY_EPOCHS == 0 or epoch == cfg.sae_epochs:
                log.info(
                    "sae: epoch %d/%d recon %.4f resampled %d",
                    epoch,
                    cfg.sae_epochs,
                    total / n_batches,
                    resampled,
                )
    return model.eval()


def order_features(values: np.ndarray, features: np.ndarray) -> np.ndarray:
    """(n, k) feature ids ordered by value descending, then feature id ascending."""
    by_id = np.argsort(features, axis=1, kind="stable")
    features = np.take_along_axis(features, by_id, axis=1)
    values = np.take_along_axis(values, by_id, axis=1)
    # A stable sort on value keeps the id order among equal values.
    by_value = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(features, by_value, axis=1)


def encode_sae(model, x_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feature codes (n, k) and reconstructions (n, D) of every row."""
    device = next(model.parameters()).device

    def encode(batch):
        values, features = model.select(batch.to(device))
        recon = model.decode(values, features).cpu().numpy()
        return order_features(values.cpu().numpy(), features.cpu().numpy()), recon

    return encode_in_chunks(encode, x_all, _ENCODE_ROWS)


def sae_tokenise(
    x_all: np.ndarray, train_rows: np.ndarray, cfg: SidConfig, seed: int
) -> Encoded:
    model = train_sae(x_all[train_rows], cfg, seed)
    codes, reconstruction = encode_sae(model, x_all)
    k = cfg.sae_top_k
    return Encoded(
        local_codes=codes,
        offsets=np.zeros(k, dtype=np.int64),
        sizes=np.full(k, cfg.sae_dictionary_size, dtype=np.int64),
        reconstruction=reconstruction.astype(np.float32),
    )
