"""Small torch helpers shared by the learned tokenisers (imported lazily)."""

import contextlib
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Seed torch's global RNG inside the block, leaving the caller's state alone."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def batches(n: int, batch_size: int, generator) -> Iterator[np.ndarray]:
    """Shuffled index batches for one epoch from a torch.Generator."""
    import torch

    order = torch.randperm(n, generator=generator).numpy()
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def device_of(name: str):
    import torch

    from synthrec.errors import SynthrecError

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SynthrecError(f"sids.device={name!r} but no CUDA GPU is visible; use cpu")
    return torch.device(name)
