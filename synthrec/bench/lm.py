"""CPT speed on CPU: synthrec's training loop against Hugging Face `Trainer`.

Both train the same Qwen3 model (same shape, seed and tokenizer) on the same
packed sequences with the same batch, AdamW settings, schedule and clipping,
each in a fresh process (so peak memory is that loop's own), with one CPU
thread. Reported: tokens/s over the timed steps (after warm-up steps) and the
process's peak resident memory. Needs `accelerate` for `Trainer`.

    python -m synthrec.bench lm [--corpus DIR --tokenizer DIR] [--steps 30]

Without --corpus it writes the small toy corpus (synthrec.lm.toy_corpus).
"""

import argparse
import json
import logging
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SIZES = {
    "xs": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
           "head_dim": 16, "intermediate_size": 64},
    "s": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
          "head_dim": 16, "intermediate_size": 192},
    "m": {"hidden_size": 128, "num_layers": 3, "num_heads": 4, "num_kv_heads": 2,
          "head_dim": 32, "intermediate_size": 384},
}  # fmt: skip
MIXTURE = {"item_text": 0.2, "cf": 0.3, "uih": 0.5}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m synthrec.bench lm")
    p.add_argument("--corpus", help="corpus dir (default: a toy corpus)")
    p.add_argument("--tokenizer", help="tokenizer dir (default: built from corpus)")
    p.add_argument("--model", default="s", choices=sorted(SIZES))
    p.add_argument("--max-seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=30, help="timed optimiser steps")
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed first steps")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1, help="alternating runs each")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


def trial_dict(args: argparse.Namespace, out_dir: str) -> dict[str, Any]:
    """The one TrialConfig both loops are configured from."""
    total = args.steps + args.warmup_steps
    tokens_per_step = args.batch_size * args.max_seq_len
    return {
        "model": {"name": args.model, **SIZES[args.model]},
        "lm": {"max_seq_len": args.max_seq_len, "batch_size": args.batch_size,
               "warmup_tokens": tokens_per_step * 2, "first_eval_tokens": 10**12,
               "torch_threads": args.threads, "log_every_steps": 10**9},
        "num_tokens": total * tokens_per_step, "mixture": MIXTURE, "seed": 0,
        "corpus_dir": args.corpus, "tokenizer_dir": args.tokenizer,
        "out_dir": out_dir, "tracking": {"enabled": False},
    }  # fmt: skip


# -- the two loops, each run in its own process ---------------------------------


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_synthrec(config: dict, warmup: int) -> dict[str, float]:
    import torch

    from synthrec.configtools import from_dict
    from synthrec.lm.config import TrialConfig
    from synthrec.lm.train import CptLoop, WorkerEnv

    trial = from_dict(TrialConfig, config)
    torch.set_num_threads(trial.lm.torch_threads)
    loop = CptLoop(trial, WorkerEnv(0, 1, torch.device("cpu"), False))
    steps = loop.total_steps
    for step in range(warmup):
        loop._train_step(loop._lr(step))
    start = time.perf_counter()
    for step in range(warmup, steps):
        loss = loop._train_step(loop._lr(step))
    elapsed = time.perf_counter() - start
    timed_tokens = (steps - warmup) * trial.lm.tokens_per_step
    return {
        "tokens_per_s": timed_tokens / elapsed,
        "peak_rss_bytes": _rss_bytes(),
        "last_loss": loss,
        "threads": torch.get_num_threads(),
    }


def measure_hf_trainer(config: dict, warmup: int) -> dict[str, float]:
    """`Trainer` on the very sequences synthrec's sampler yields, same settings."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from synthrec.configtools import from_dict
    from synthrec.lm.config import TrialConfig
    from synthrec.lm.data import MixtureSampler
    from synthrec.lm.model import build_model
    from synthrec.lm.tokenizer import load_tokenizer

    trial = from_dict(TrialConfig, config)
    lm = trial.lm
    torch.set_num_threads(lm.torch_threads)
    tok = load_tokenizer(trial.tokenizer_dir)
    steps = trial.num_tokens // lm.tokens_per_step
    sampler = MixtureSampler(trial.corpus_dir, trial.mixture, tok, lm.max_seq_len,
                             trial.seed)  # fmt: skip
    rows = [torch.from_numpy(r) for _ in range(steps)
            for r in sampler.next_batch(lm.batch_size)[0]]  # fmt: skip
    dataset = [{"input_ids": r, "labels": r} for r in rows]
    model = build_model(trial.model, tok, lm.max_seq_len, trial.seed)

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a: Any, **k: Any) -> None:
            stamps.append(time.perf_counter())

    args = TrainingArguments(
        output_dir=trial.out_dir, per_device_train_batch_size=lm.batch_size,
        max_steps=steps, learning_rate=lm.learning_rate, weight_decay=lm.weight_decay,
        adam_beta1=lm.adam_beta1, adam_beta2=lm.adam_beta2, max_grad_norm=lm.grad_clip,
        lr_scheduler_type="cosine",
        warmup_steps=lm.warmup_tokens // lm.tokens_per_step,
        logging_strategy="no", save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, seed=trial.seed, disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      callbacks=[Clock()])  # fmt: skip
    # the same sequences in the same order (Trainer shuffles by default)
    trainer._get_train_sampler = lambda *a, **k: torch.utils.data.SequentialSampler(
        dataset
    )
    out = trainer.train()
    elapsed = stamps[-1] - stamps[warmup - 1]
    timed_tokens = (steps - warmup) * lm.tokens_per_step
    return {
        "tokens_per_s": timed_tokens / elapsed,
        "peak_rss_bytes": _rss_bytes(),
        "last_loss": float(out.training_loss),
        "threads": torch.get_num_threads(),
        "optim": str(args.optim),
    }


def _in_fresh_process(fn: Any, *args: Any) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


# -- driver -----------------------------------------------------------------------


def _inputs(args: argparse.Namespace, scratch: Path) -> None:
    """The toy corpus and its tokenizer, unless a corpus is given."""
    from synthrec.errors import SynthrecError
    from synthrec.lm.tokenizer import build_tokenizer
    from synthrec.lm.toy_corpus import SID_TOKENS, write_corpus

    if args.corpus:
        if not args.tokenizer:
            raise SynthrecError("--corpus needs --tokenizer (RUN/tokenizer)")
        return
    args.corpus = str(write_corpus(scratch / "corpus", n_train=3000))
    args.tokenizer = str(scratch / "tokenizer")
    build_tokenizer(args.corpus, SID_TOKENS, args.tokenizer)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synthrec-bench-lm-") as scratch:
        _inputs(args, Path(scratch))
        loops = {"synthrec": measure_synthrec, "hf_trainer": measure_hf_trainer}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in loops}
        for i in range(args.repeats):  # alternate, so load drifts hit both
            for name, fn in loops.items():
                config = trial_dict(args, f"{scratch}/{name}{i}")
                runs[name].append(_in_fresh_process(fn, config, args.warmup_steps))
        results = {name: _median(r) for name, r in runs.items()}
    _print(args, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median tokens/s (its own peak memory with it)."""
    ordered = sorted(runs, key=lambda r: r["tokens_per_s"])
    return {**ordered[len(ordered) // 2], "runs": len(runs)}


def _print(args: argparse.Namespace, results: dict[str, dict[str, float]]) -> None:
    base = results["hf_trainer"]
    print(f"model {args.model} {SIZES[args.model]}, batch {args.batch_size} x "
          f"{args.max_seq_len} tokens, {args.steps} timed steps, "
          f"{args.threads} thread(s), CPU fp32, median of {args.repeats}")  # fmt: skip
    print(f"{'loop':<12} {'tokens/s':>10} {'peak RSS MB':>12} {'speed vs HF':>12}")
    for name, r in results.items():
        print(f"{name:<12} {r['tokens_per_s']:>10.0f} "
              f"{r['peak_rss_bytes'] / 2**20:>12.0f} "
              f"{r['tokens_per_s'] / base['tokens_per_s']:>11.2f}x")  # fmt: skip
