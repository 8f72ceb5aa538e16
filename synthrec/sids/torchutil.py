"""Small torch helpers shared by the learned tokenisers (imported lazily)."""

import contextlib
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def seeded_torch(seed: int, num_threads: int) -> Iterator[None]:
    """Seed torch and cap its threads inside the block; restore both after.

    The thread cap also covers the other OpenMP/BLAS pools (scikit-learn's):
    two OpenMP runtimes spinning on a small, shared machine slowed training
    tenfold in our measurements.
    """
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        with torch.random.fork_rng(devices=[]), threadpool_limits(limits=num_threads):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(previous)


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


def encode_in_chunks(encode, x_all: np.ndarray, rows_per_chunk: int):
    """Run `encode(batch) -> (codes, reconstructions)` over row chunks, no grad.

    `encode` takes a float tensor on the model's device and returns numpy
    arrays; the chunks are concatenated into (n, ...) int64 codes and
    (n, D) reconstructions.
    """
    import torch

    codes, recons = [], []
    with torch.no_grad():
        for start in range(0, len(x_all), rows_per_chunk):
            batch = torch.from_numpy(
                np.ascontiguousarray(x_all[start : start + rows_per_chunk])
            )
            c, r = encode(batch)
            codes.append(c)
            recons.append(r)
    return np.concatenate(codes).astype(np.int64), np.concatenate(recons)
