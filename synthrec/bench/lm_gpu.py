"""Throughput and model FLOPs utilisation (MFU) of synthrec's training step.

One command on a one-GPU machine:

    python -m synthrec.bench lm_gpu                 # Qwen3-0.6B shape, bf16
    python -m synthrec.bench lm_gpu --strategy deepspeed --zero-stage 2

It builds the model from the shape of Qwen3-0.6B (random init: throughput does
not depend on the weights, and the machine needs no download), feeds random
token ids, and times `lm.engine` optimiser steps, the exact step `run_trial`
takes (micro-batches, AdamW, clipping; bf16 autocast on GPU, or DeepSpeed bf16).
MFU = tokens/s x FLOPs/token / peak FLOP/s, with FLOPs/token from
`lm.model_stats` (causal attention and the output layer included) and the
peak dense bf16 FLOP/s of the GPU from the table below or --peak-tflops.
`--device cpu --model xs` runs the same code on a CPU as a smoke test.
"""

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Dense bf16 peak TFLOP/s (no sparsity) by a substring of the device name.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
}
SHAPES = {
    # Qwen3-0.6B's published shape (config.json of Qwen/Qwen3-0.6B).
    "qwen3-0.6b": {"hidden_size": 1024, "num_layers": 28, "num_heads": 16,
                   "num_kv_heads": 8, "head_dim": 128, "intermediate_size": 3072,
                   "tie_word_embeddings": True},
    "xs": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
           "head_dim": 16, "intermediate_size": 64},
}  # fmt: skip
QWEN3_VOCAB = 151936


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m synthrec.bench lm_gpu")
    p.add_argument("--model", default="qwen3-0.6b", choices=sorted(SHAPES))
    p.add_argument("--vocab-size", type=int, default=QWEN3_VOCAB)
    p.add_argument("--max-seq-len", type=int, default=2048)
    p.add_argument("--micro-batch-size", type=int, default=8)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="timed optimiser steps")
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--strategy", default="ddp", choices=["ddp", "deepspeed"])
    p.add_argument("--zero-stage", type=int, default=2)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--peak-tflops", type=float, help="override the GPU's peak")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


def peak_flops(device_name: str, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in device_name:
            return tflops * 1e12
    return None


def _configs(args: argparse.Namespace) -> tuple[Any, Any]:
    from synthrec.lm.config import LMConfig, ModelSizeConfig

    model = ModelSizeConfig(name=args.model, **SHAPES[args.model])
    lm = LMConfig(
        max_seq_len=args.max_seq_len,
        batch_size=args.micro_batch_size * args.grad_accum,
        micro_batch_size=args.micro_batch_size,
        strategy=args.strategy, zero_stage=args.zero_stage,
        use_gpu=args.device == "cuda", learning_rate=1e-4,
    )  # fmt: skip
    model.validate()
    lm.validate()
    return model, lm


def _single_process_group(device: str) -> None:
    """DeepSpeed needs a process group even for one process (no network)."""
    import tempfile

    import torch.distributed as dist

    if dist.is_initialized():
        return
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}.items():
        os.environ.setdefault(key, value)
    store = Path(tempfile.mkdtemp(prefix="synthrec-pg-")) / "store"
    dist.init_process_group(
        "nccl" if device == "cuda" else "gloo",
        init_method=f"file://{store}",
        rank=0,
        world_size=1,
    )


class _Tok:
    """The two ids `build_model` reads, for a model without a tokenizer."""

    def __init__(self, vocab_size: int):
        self.vocab_size, self.eos_token_id, self.pad_token_id = vocab_size, 1, 0

    def __len__(self) -> int:
        return self.vocab_size


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from synthrec.lm.engine import make_engine
    from synthrec.lm.model import build_model, model_stats

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine or pass --device cpu")
    model_cfg, lm = _configs(args)
    device = torch.device(args.device)
    if args.strategy == "deepspeed":
        _single_process_group(args.device)
    net = build_model(model_cfg, _Tok(args.vocab_size), lm.max_seq_len, seed=0)
    engine = make_engine(net, lm, world_size=1, device=device)
    stats = model_stats(model_cfg, args.vocab_size, lm.max_seq_len)

    gen = torch.Generator(device="cpu").manual_seed(0)
    shape = (args.micro_batch_size, lm.max_seq_len)
    batches = [torch.randint(0, args.vocab_size, shape, generator=gen).to(device)
               for _ in range(args.grad_accum)]  # fmt: skip

    def step() -> float:
        losses = [engine.forward_backward(b) for b in batches]
        engine.step(lm.learning_rate)
        return sum(losses) / len(losses)

    for _ in range(args.warmup_steps):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    _sync(device)
    elapsed = time.perf_counter() - start
    return _report(args, stats, lm, elapsed, loss, device)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _report(args: argparse.Namespace, stats: dict, lm: Any, elapsed: float,
            loss: float, device: Any) -> dict[str, Any]:  # fmt: skip
    import torch

    tokens = args.steps * lm.batch_size * lm.max_seq_len
    tokens_per_s = tokens / elapsed
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = peak_flops(name, args.peak_tflops)
    achieved = tokens_per_s * stats["flops_per_token"]
    mem = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "device": name, "model": args.model, "strategy": args.strategy,
        "zero_stage": args.zero_stage if args.strategy == "deepspeed" else None,
        "num_params": stats["num_params"],
        "num_params_non_embedding": stats["num_params_non_embedding"],
        "flops_per_token": stats["flops_per_token"],
        "tokens_per_step": lm.batch_size * lm.max_seq_len,
        "tokens_per_s": tokens_per_s, "achieved_tflops": achieved / 1e12,
        "peak_tflops": peak / 1e12 if peak else None,
        "mfu": achieved / peak if peak else None,
        "peak_memory_gib": mem / 2**30 if mem else None, "last_loss": loss,
    }  # fmt: skip


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2))
    mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else "n/a (peak unknown)"
    print(
        f"{result['device']}: {result['tokens_per_s']:.0f} tokens/s, "
        f"{result['achieved_tflops']:.1f} TFLOP/s, MFU {mfu}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0
