"""The per-worker training function: the same code locally and under Ray Train.

`train_loop_per_worker(config)` turns the plain-dict config back into a
`TrialConfig`, finds out where it runs (rank, world size, device, Ray Train or
not), and runs `CptLoop`: packed mixture batches, AdamW with the configured
schedule, gradient accumulation and clipping, evaluation of every held-out set
at doubling token counts, optional WSD cooldown branches, checkpoints with
resume, and on rank 0 the MLflow run and the result files.

Losses are next-token cross-entropy over all tokens of the packed sequences
(template words, SID tokens and end-of-text alike), in nats per token.
"""

import json
import logging
import math
import os
import resource
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthrec.configtools import config_hash, from_dict, to_dict
from synthrec.errors import SynthrecError
from synthrec.io import write_json, write_parquet
from synthrec.lm.config import TrialConfig
from synthrec.lm.data import (
    IGNORE_INDEX,
    MixtureSampler,
    RayDataShards,
    ShardSource,
    load_eval_sets,
)
from synthrec.lm.engine import Engine, make_engine
from synthrec.lm.model import build_model, model_shape, model_stats
from synthrec.lm.schedule import cooldown_lr, decay_steps_of, lr_at
from synthrec.lm.tokenizer import load_tokenizer
from synthrec.logs import setup_logging
from synthrec.tracking import Tracker

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
CURVE_FILE = "curve.parquet"
MODEL_DIR = "model"
LOCAL_CHECKPOINT_DIR = "checkpoint"
_LOOP_STATE_FILE = "loop_state.json"
_FAULT_MARKER = ".fault_injected"
_UNDER_RAY_ENV = "SYNTHREC_UNDER_RAY_TRAIN"
_FAULT_GRACE_POLLS = 3


# -- where this worker runs ------------------------------------------------------


@dataclass
class WorkerEnv:
    rank: int
    world_size: int
    device: torch.device
    under_ray: bool


def _worker_env(use_gpu: bool) -> WorkerEnv:
    """Rank, world size and device, from Ray Train when inside one."""
    under_ray = os.environ.get(_UNDER_RAY_ENV) == "1"
    if under_ray:
        import ray.train
        import ray.train.torch

        ctx = ray.train.get_context()
        return WorkerEnv(
            ctx.get_world_rank(),
            ctx.get_world_size(),
            ray.train.torch.get_device(),
            True,
        )
    gpu = use_gpu and torch.cuda.is_available()
    return WorkerEnv(0, 1, torch.device("cuda" if gpu else "cpu"), False)


def _all_reduce_sum(values: list[float], env: WorkerEnv) -> list[float]:
    if env.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=env.device)
    torch.distributed.all_reduce(t)
    return t.tolist()


def _barrier(env: WorkerEnv) -> None:
    if env.world_size > 1:
        torch.distributed.barrier()


# -- the loop's resumable state ----------------------------------------------------


@dataclass
class LoopState:
    step: int = 0  # optimiser steps done on the trunk
    next_eval: int = 0  # index into the evaluation token counts
    branches_done: list[int] = field(default_factory=list)
    curve: list[dict] = field(default_factory=list)
    train_s: float = 0.0
    sampler: dict = field(default_factory=dict)
    mlflow_run_id: str | None = None
    resumed_from_steps: list[int] = field(default_factory=list)


def eval_points(first: int, total: int) -> list[int]:
    """first, 2 first, 4 first, ... below `total` (the end is always evaluated)."""
    points, d = [], first
    while d < total:
        points.append(d)
        d *= 2
    return points


# -- the loop -----------------------------------------------------------------------


class CptLoop:
    """One continual pre-training run on one worker."""

    def __init__(self, trial: TrialConfig, env: WorkerEnv):
        self.trial, self.lm, self.env = trial, trial.lm, env
        self.out_dir = Path(trial.out_dir)
        self.tokenizer = load_tokenizer(trial.tokenizer_dir)
        model = build_model(
            trial.model, self.tokenizer, self.lm.max_seq_len, trial.seed
        )
        # A checkpoint's shape comes from its own config, not from trial.model.
        self.shape = model_shape(model.config, trial.model.name)
        vocab = model.get_input_embeddings().weight.shape[0]
        self.stats = model_stats(self.shape, vocab, self.lm.max_seq_len)
        counted = sum(p.numel() for p in model.parameters())
        if counted != self.stats["num_params"]:
            raise SynthrecError(
                f"model {trial.model.name!r} has {counted} parameters but its "
                f"Qwen3 shape gives {self.stats['num_params']}: not a Qwen3 model?"
            )
        self.engine: Engine = make_engine(model, self.lm, env.world_size, env.device)
        # Under Ray Train the shards arrive through Ray Data iterators; the
        # packing, mixture and data order are the same as the local backend's.
        source: ShardSource | None = None
        if env.under_ray:
            source = RayDataShards.from_train_context(
                sorted(m for m, w in trial.mixture.items() if w > 0)
            )
        self.sampler = MixtureSampler(
            trial.corpus_dir,
            trial.mixture,
            self.tokenizer,
            self.lm.max_seq_len,
            trial.seed,
            source,
        )
        self.eval_sets = load_eval_sets(
            trial.corpus_dir,
            self.tokenizer,
            self.lm.max_seq_len,
            self.lm.max_eval_tokens_per_set,
        )
        self._plan_steps()
        self.state = LoopState()
        self.tracker = Tracker.disabled()

    def _plan_steps(self) -> None:
        tps = self.lm.tokens_per_step
        self.total_steps = self.trial.num_tokens // tps
        self.warmup_steps = min(
            math.ceil(self.lm.warmup_tokens / tps), self.total_steps // 2
        )
        self.eval_tokens = eval_points(
            self.lm.first_eval_tokens, self.total_steps * tps
        )
        self.ckpt_every_steps = (
            math.ceil(self.lm.checkpoint_every_tokens / tps)
            if self.lm.checkpoint_every_tokens
            else 0
        )
        decay_start = self.total_steps - decay_steps_of(
            self.total_steps, self.lm.cooldown_fraction
        )
        self.branch_tokens = [
            d for d in sorted(set(self.lm.cooldown_at_tokens)) if d < decay_start * tps
        ]
        skipped = sorted(set(self.lm.cooldown_at_tokens) - set(self.branch_tokens))
        if skipped:
            log.warning(
                "cooldown branches at %s tokens fall in the final decay; "
                "the run's own end is that annealed point",
                skipped,
            )

    # -- public ------------------------------------------------------------------

    def run(self, stop_after_steps: int | None = None) -> bool:
        """Train to the end (True), or stop after `stop_after_steps` steps of
        this session with a checkpoint (False), as a preempted job would."""
        t_start = time.perf_counter()
        self._maybe_resume()
        self._start_tracking()
        self._log_start()
        done_here = 0
        while self.state.step < self.total_steps:
            if stop_after_steps is not None and done_here == stop_after_steps:
                self._checkpoint()
                return False
            t0 = time.perf_counter()
            loss = self._train_step(self._lr(self.state.step))
            self.state.step += 1
            done_here += 1
            self.state.train_s += time.perf_counter() - t0
            self._after_step(loss)
        self._evaluate("final", self.tokens_seen)
        self._finish(time.perf_counter() - t_start)
        return True

    @property
    def tokens_seen(self) -> int:
        return self.state.step * self.lm.tokens_per_step

    # -- one optimiser step ------------------------------------------------------

    def _lr(self, step: int) -> float:
        return lr_at(
            step,
            self.total_steps,
            self.warmup_steps,
            self.lm.learning_rate,
            self.lm.schedule,
            self.lm.min_lr_ratio,
            self.lm.cooldown_fraction,
        )

    def _train_step(self, lr: float) -> float:
        """One global batch: this worker's share, in micro-batches; mean loss."""
        global_ids, _ = self.sampler.next_batch(self.lm.batch_size)
        mine = global_ids[self.env.rank :: self.env.world_size]  # (B / W, T)
        micro = self.lm.micro_batch(self.env.world_size)
        losses = []
        for start in range(0, len(mine), micro):
            batch = torch.from_numpy(mine[start : start + micro]).to(self.env.device)
            losses.append(self.engine.forward_backward(batch))
        self.grad_norm = self.engine.step(lr)
        return float(np.mean(losses))

    def _after_step(self, loss: float) -> None:
        st, tokens = self.state, self.tokens_seen
        if st.step % self.lm.log_every_steps == 0 or st.step == self.total_steps:
            self._log_train(loss)
        while (
            st.next_eval < len(self.eval_tokens)
            and tokens >= self.eval_tokens[st.next_eval]
        ):
            st.next_eval += 1
            if st.step < self.total_steps:  # the end is evaluated as "final"
                self._evaluate("trunk", tokens)
        for d in self.branch_tokens:
            if tokens >= d and d not in st.branches_done:
                self._cooldown_branch(d)
        if (
            self.ckpt_every_steps
            and st.step % self.ckpt_every_steps == 0
            and st.step < self.total_steps
        ):
            self._checkpoint()
        self._maybe_inject_fault()

    def _log_train(self, loss: float) -> None:
        mean_loss = _all_reduce_sum([loss], self.env)[0] / self.env.world_size
        if self.env.rank != 0:
            return
        st = self.state
        tok_s = self.tokens_seen / max(st.train_s, 1e-9)
        eta = (self.total_steps - st.step) * self.lm.tokens_per_step / max(tok_s, 1e-9)
        log.info(
            "step %d/%d loss %.4f lr %.2e grad_norm %.3f tok/s %.0f eta %.0fs",
            st.step,
            self.total_steps,
            mean_loss,
            self._lr(st.step - 1),
            self.grad_norm,
            tok_s,
            eta,
        )
        self.tracker.log_metrics(
            {"train/loss": mean_loss, "train/lr": self._lr(st.step - 1)},
            step=self.tokens_seen,
        )

    # -- evaluation ----------------------------------------------------------------

    @torch.no_grad()
    def _evaluate(self, kind: str, tokens: int) -> dict[str, float]:
        """Mean next-token loss on every evaluation set; a curve row per set."""
        self.engine.module.eval()
        losses = {
            name: self._eval_set(ids, labels)
            for name, (ids, labels) in self.eval_sets.items()
        }
        self.engine.module.train()
        rows = [
            {"tokens": tokens, "eval_set": n, "loss": v, "kind": kind}
            for n, v in losses.items()
        ]
        self.state.curve.extend(rows)
        if self.env.rank == 0:
            prefix = "cooldown" if kind == "cooldown" else "eval"
            self.tracker.log_metrics(
                {f"{prefix}/{n}/loss": v for n, v in losses.items()}, step=tokens
            )
            log.info(
                "eval (%s) at %d tokens: %s",
                kind,
                tokens,
                " ".join(f"{n}={v:.4f}" for n, v in losses.items()),
            )
        return losses

    def _eval_set(self, ids: np.ndarray, labels: np.ndarray) -> float:
        """Summed loss over this rank's rows, all-reduced into one mean."""
        micro = self.lm.micro_batch(self.env.world_size)
        rows = np.arange(self.env.rank, len(ids), self.env.world_size)
        # Every rank runs the same number of forwards (ZeRO-3 gathers per call).
        n_calls = math.ceil(math.ceil(len(ids) / self.env.world_size) / micro)
        total, count = 0.0, 0.0
        for i in range(n_calls):
            chunk = rows[i * micro : (i + 1) * micro]
            real = len(chunk) > 0
            chunk = chunk if real else np.array([0])
            x = torch.from_numpy(ids[chunk]).to(self.env.device)
            y = torch.from_numpy(labels[chunk]).to(self.env.device)
            logits = self.engine.eval_forward(x)  # (b, T, V)
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]),
                y[:, 1:].reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            if real:
                total += float(nll)
                count += float((y[:, 1:] != IGNORE_INDEX).sum())
        total, count = _all_reduce_sum([total, count], self.env)
        return total / max(count, 1.0)

    # -- WSD cooldown branches -----------------------------------------------------

    def _cooldown_branch(self, at_tokens: int) -> None:
        """Anneal a copy of the trunk; its end loss is one annealed L(D) point."""
        snap = self.out_dir / ".branch_snapshot"
        sampler_state = json.loads(json.dumps(self.sampler.state_dict()))
        rng = torch.get_rng_state()
        self._save_engine(snap)

        branch_steps = decay_steps_of(self.state.step, self.lm.cooldown_fraction)
        if self.env.rank == 0:
            log.info(
                "cooldown branch from %d tokens: %d steps",
                self.tokens_seen,
                branch_steps,
            )
        for i in range(branch_steps):
            self._train_step(
                cooldown_lr(
                    i, branch_steps, self.lm.learning_rate, self.lm.min_lr_ratio
                )
            )
        end = self.tokens_seen + branch_steps * self.lm.tokens_per_step
        self._evaluate("cooldown", end)

        # Back to the trunk exactly as it was.
        self.engine.load(snap)
        self.sampler.load_state_dict(sampler_state)
        torch.set_rng_state(rng)
        self.state.branches_done.append(at_tokens)
        _barrier(self.env)
        if self.env.rank == 0:
            shutil.rmtree(snap, ignore_errors=True)

    def _save_engine(self, folder: Path) -> None:
        if self.env.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        _barrier(self.env)
        self.engine.save(folder, self.env.rank)
        _barrier(self.env)

    # -- checkpoints --------------------------------------------------------------

    def _checkpoint(self) -> None:
        """Model, optimiser, data position and RNG, locally or as a Ray checkpoint."""
        self.state.sampler = self.sampler.state_dict()
        if self.env.under_ray:
            self._ray_checkpoint()
            return
        final = self.out_dir / LOCAL_CHECKPOINT_DIR
        tmp = Path(tempfile.mkdtemp(prefix=".checkpoint.", dir=self.out_dir))
        self._write_checkpoint(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        log.info("checkpoint at step %d saved to %s", self.state.step, final)

    def _write_checkpoint(self, folder: Path) -> None:
        self.engine.save(folder, self.env.rank)
        torch.save(torch.get_rng_state(), folder / f"rng_rank{self.env.rank}.pt")
        if self.env.rank == 0:
            write_json(folder / _LOOP_STATE_FILE, to_dict(self.state))

    def _ray_checkpoint(self) -> None:
        import ray.train

        # DeepSpeed partitions the optimiser: every rank uploads its own files
        # into the same checkpoint. DDP replicates it: rank 0 uploads.
        uploads = self.lm.resolved_strategy == "deepspeed" or self.env.rank == 0
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if uploads:
                self._write_checkpoint(Path(tmp))
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(
                {"step": self.state.step, "tokens": self.tokens_seen},
                checkpoint=checkpoint,
            )

    def _maybe_resume(self) -> None:
        folder = self._resume_folder()
        if folder is None:
            return
        with folder as path:
            path = Path(path)
            self.engine.load(path)
            state = json.loads((path / _LOOP_STATE_FILE).read_text())
            rng_file = path / f"rng_rank{self.env.rank}.pt"
            if rng_file.exists():
                torch.set_rng_state(torch.load(rng_file, weights_only=True))
        self.state = from_dict(LoopState, state)
        self.sampler.load_state_dict(self.state.sampler)
        self.state.resumed_from_steps.append(self.state.step)
        if self.env.rank == 0:
            log.info(
                "resumed at step %d (%d tokens)", self.state.step, self.tokens_seen
            )

    def _resume_folder(self) -> Any:
        """A context manager yielding the latest checkpoint folder, or None."""
        if self.env.under_ray:
            import ray.train

            checkpoint = ray.train.get_checkpoint()
            return checkpoint.as_directory() if checkpoint else None
        local = self.out_dir / LOCAL_CHECKPOINT_DIR
        if (local / _LOOP_STATE_FILE).is_file():
            return _Nullcontext(local)
        return None

    def _maybe_inject_fault(self) -> None:
        lm = self.lm
        if lm.fault_at_step != self.state.step or lm.fault_rank != self.env.rank:
            return
        marker = self.out_dir / _FAULT_MARKER
        if marker.exists():
            return
        marker.touch()
        # Ray Train registers a checkpoint when its controller next polls the
        # workers (every RAY_TRAIN_HEALTH_CHECK_INTERVAL_S, 2 s by default); a
        # kill before that poll loses the checkpoint, so wait a few polls.
        grace_s = _FAULT_GRACE_POLLS * float(
            os.environ.get("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "2.0")
        )
        log.warning(
            "fault injection: rank %d kills itself after step %d (in %.0f s)",
            self.env.rank,
            self.state.step,
            grace_s,
        )
        time.sleep(grace_s)
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)

    # -- tracking and results ----------------------------------------------------

    def _start_tracking(self) -> None:
        if self.env.rank != 0:
            return
        trial = self.trial
        base = Tracker.from_config(trial.tracking, trial.out_dir)
        if self.state.mlflow_run_id:
            self.tracker = Tracker(base.uri, base.experiment, self.state.mlflow_run_id)
            return
        if base.uri is None:
            return
        self.tracker = base.start_run(
            trial.run_name,
            trial.parent_run_id,
            tags={"synthrec.stage": "lm", "model": trial.model.name},
        )
        self.state.mlflow_run_id = self.tracker.run_id
        self.tracker.log_params(self._params())

    def _params(self) -> dict[str, Any]:
        t, s = self.trial, self.stats
        return {
            "model": t.model.name,
            "N": s["num_params_non_embedding"],
            "N_total": s["num_params"],
            "flops_per_token": s["flops_per_token"],
            "tokens": t.num_tokens,
            "mixture": json.dumps(t.mixture, sort_keys=True),
            "seed": t.seed,
            "vocab_size": s["vocab_size"],
            "max_seq_len": self.lm.max_seq_len,
            "batch_size": self.lm.batch_size,
            "learning_rate": self.lm.learning_rate,
            "schedule": self.lm.schedule,
            "strategy": self.lm.resolved_strategy,
            "zero_stage": self.lm.zero_stage,
            "num_workers": self.env.world_size,
            "config_hash": config_hash(t),
        }

    def _log_start(self) -> None:
        if self.env.rank != 0:
            return
        s = self.stats
        log.info(
            "trial %s: model %s N=%d N_total=%d flops/token=%.3g vocab=%d; "
            "%d steps x %d tokens, accum %d, %d worker(s) on %s, fp32 on CPU / "
            "bf16 on GPU; config %s",
            self.trial.run_name,
            self.trial.model.name,
            s["num_params_non_embedding"],
            s["num_params"],
            s["flops_per_token"],
            s["vocab_size"],
            self.total_steps,
            self.lm.tokens_per_step,
            self.lm.grad_accum_steps(self.env.world_size),
            self.env.world_size,
            self.env.device,
            config_hash(self.trial),
        )

    def _finish(self, wall_s: float) -> None:
        """Save the model (rank 0) and the results; close the MLflow run."""
        weights = self.engine.full_state_dict()
        if self.env.rank != 0:
            return
        self._save_model(weights)
        st = self.state
        stats = {
            **self.stats,
            "tokens": self.tokens_seen,
            "tokens_by_modality": self.sampler.tokens_by_modality(),
            "data_source": self.sampler.source.name,
            "steps": st.step,
            "wall_s": wall_s,
            "train_s": st.train_s,
            "tokens_per_s": self.tokens_seen / max(st.train_s, 1e-9),
            "world_size": self.env.world_size,
            "resumed_from_steps": st.resumed_from_steps,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        final = {r["eval_set"]: r["loss"] for r in st.curve if r["kind"] == "final"}
        result = {
            "curve": st.curve,
            "final": final,
            "stats": stats,
            "mlflow_run_id": st.mlflow_run_id,
            "config": to_dict(self.trial),
            "config_hash": config_hash(self.trial),
        }
        import pandas as pd

        write_parquet(self.out_dir / CURVE_FILE, pd.DataFrame(st.curve))
        write_json(self.out_dir / RESULT_FILE, result)
        self.tracker.log_metrics(
            {"tokens_per_s": stats["tokens_per_s"]}, step=self.tokens_seen
        )
        self.tracker.end_run()
        shutil.rmtree(self.out_dir / LOCAL_CHECKPOINT_DIR, ignore_errors=True)

    def _save_model(self, weights: dict | None) -> None:
        """save_pretrained (with the tokenizer) into a temp folder, then rename."""
        final = self.out_dir / MODEL_DIR
        tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=self.out_dir))
        try:
            self.engine.module.save_pretrained(tmp, state_dict=weights)
            self.tokenizer.save_pretrained(tmp)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class _Nullcontext:
    def __init__(self, value: Any):
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


def ray_train_entry(config: dict) -> None:
    """What Ray Train runs on each worker: mark the process, then the same loop."""
    os.environ[_UNDER_RAY_ENV] = "1"
    train_loop_per_worker(config)


def train_loop_per_worker(config: dict) -> None:
    """Ray Train's per-worker entry point (and the local backend's)."""
    setup_logging()
    trial = from_dict(TrialConfig, config)
    env = _worker_env(trial.lm.use_gpu)
    if trial.lm.fault_at_step is not None and not env.under_ray:
        raise SynthrecError(
            "lm.fault_at_step kills a worker process: use it only "
            "with lm.backend='ray_train'"
        )
    if trial.lm.torch_threads and env.device.type == "cpu":
        torch.set_num_threads(trial.lm.torch_threads)
    Path(trial.out_dir).mkdir(parents=True, exist_ok=True)
    CptLoop(trial, env).run()
