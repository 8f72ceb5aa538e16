"""SASRec speed: training target items/s per loss, evaluation users/s per batching.

    python -m synthrec.bench sasrec [--device cpu|cuda|auto] [--steps N] ...

Training rows compare each loss against the named baseline `full_ce` (the
whole-catalogue softmax); evaluation rows compare batched full-catalogue
ranking against the baseline `unbatched` (one user per forward pass). The
workload is random item sequences shaped like ml-latest-small (about 10k
items, histories cut to `--seq-len`), so no data files are needed; speed does
not depend on which items the sequences hold.
"""

import argparse
import time

import numpy as np
import torch

from synthrec.sasrec.config import SasrecConfig
from synthrec.sasrec.data import BatchStream, EvalSet, make_pool
from synthrec.sasrec.evaluate import rank_targets
from synthrec.sasrec.train import build_model, compute_loss, resolve_device

LOSSES = ("full_ce", "sampled_softmax", "bce")
EVAL_BATCH = 256


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m synthrec.bench sasrec")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--num-items", type=int, default=9724)
    parser.add_argument("--num-users", type=int, default=610)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--eval-users", type=int, default=256)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own choice)",
    )
    return parser.parse_args(argv)


# -- workload -----------------------------------------------------------------------


def _sequences(args: argparse.Namespace, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(1, args.num_items + 1, size=args.seq_len + 1) for _ in range(count)
    ]


def _config(args: argparse.Namespace, loss: str) -> SasrecConfig:
    cfg = SasrecConfig(loss=loss, max_seq_len=args.seq_len, batch_size=args.batch_size)
    cfg.validate()
    return cfg


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# -- measurements -------------------------------------------------------------------


def train_items_per_s(
    args: argparse.Namespace, loss: str, device: torch.device
) -> float:
    """Target items per second over `args.steps` optimiser steps (after 2 warm-up)."""
    cfg = _config(args, loss)
    torch.manual_seed(0)
    model = build_model(cfg, args.num_items).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    pool = make_pool(_sequences(args, args.num_users, 0), cfg.max_seq_len, "bench")
    stream = BatchStream([pool], [1.0], cfg.batch_size, np.random.default_rng(0))
    generator = torch.Generator().manual_seed(0)

    items, started = 0, 0.0
    for step in range(args.steps + 2):
        if step == 2:  # warm-up steps are not timed
            _sync(device)
            items, started = 0, time.perf_counter()
        inputs, targets = (t.to(device) for t in stream.next_batch())
        optimizer.zero_grad(set_to_none=True)
        compute_loss(model, inputs, targets, cfg, generator).backward()
        optimizer.step()
        items += int((targets != 0).sum())
    _sync(device)
    return items / (time.perf_counter() - started)


def eval_users_per_s(
    args: argparse.Namespace, batch_size: int, device: torch.device
) -> float:
    """Users ranked per second by full-catalogue ranking with history exclusion."""
    cfg = _config(args, "sampled_softmax")
    cfg.eval_batch_size = batch_size
    model = build_model(cfg, args.num_items).to(device)
    sequences = _sequences(args, args.eval_users, 1)
    eval_set = EvalSet(
        "bench",
        [s[:-1] for s in sequences],
        np.array([s[-1] for s in sequences]),
        np.arange(len(sequences)),
    )
    rank_targets(
        model,
        EvalSet(
            "warm", eval_set.histories[:2], eval_set.targets[:2], eval_set.users[:2]
        ),
        cfg,
    )
    _sync(device)
    started = time.perf_counter()
    rank_targets(model, eval_set, cfg)
    _sync(device)
    return len(eval_set) / (time.perf_counter() - started)


# -- report -------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = _parse(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, "
        f"{args.num_items} items, seq len {args.seq_len}, batch {args.batch_size}"
    )

    print(f"{'training (loss)':<28}{'items/s':>12}{'vs full_ce':>12}")
    rates = {loss: train_items_per_s(args, loss, device) for loss in LOSSES}
    for loss, rate in rates.items():
        print(f"{loss:<28}{rate:>12.0f}{rate / rates['full_ce']:>11.2f}x")

    print(f"{'evaluation (batch)':<28}{'users/s':>12}{'vs unbatched':>14}")
    unbatched = eval_users_per_s(args, 1, device)
    batch = min(EVAL_BATCH, args.eval_users)
    batched = eval_users_per_s(args, batch, device)
    print(f"{'unbatched (1 user)':<28}{unbatched:>12.0f}{1.0:>13.2f}x")
    print(
        f"{f'batched ({batch} users)':<28}{batched:>12.0f}{batched / unbatched:>13.2f}x"
    )
    return 0
