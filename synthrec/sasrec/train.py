"""Training one SASRec on one source, with validation and early stopping.

The budget is the same for every source (steps or target items, per config),
so the real/synthetic comparison differs only in what the batches contain.
The weights kept are those with the best validation metric.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from synthrec.errors import SynthrecError
from synthrec.sasrec.config import SasrecConfig
from synthrec.sasrec.data import BatchStream, EvalSet
from synthrec.sasrec.evaluate import evaluate
from synthrec.sasrec.metrics import tracking_key
from synthrec.sasrec.model import (
    ModelShape,
    SASRec,
    bce_loss,
    full_ce_loss,
    sampled_softmax_loss,
)
from synthrec.tracking import Tracker

log = logging.getLogger(__name__)

# Adam betas of the original SASRec.
_ADAM_BETAS = (0.9, 0.98)


@dataclass
class TrainResult:
    best_state: dict[str, torch.Tensor]
    best_step: int
    best_valid: dict[str, float]
    steps: int
    items_seen: int
    seconds: float
    stopped_early: bool
    curve: list[dict[str, float]] = field(default_factory=list)


def build_model(cfg: SasrecConfig, num_items: int) -> SASRec:
    shape = ModelShape(
        num_items=num_items,
        hidden_size=cfg.hidden_size,
        num_blocks=cfg.num_blocks,
        num_heads=cfg.num_heads,
        dropout=cfg.dropout,
        attention_dropout=cfg.attention_dropout,
        max_seq_len=cfg.max_seq_len,
        norm=cfg.norm,
    )
    return SASRec(shape)


def resolve_device(name: str) -> torch.device:
    """ "auto" is CUDA when available, else CPU; "cuda" without a GPU is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SynthrecError("sasrec.device='cuda' but torch sees no CUDA GPU; use cpu")
    return torch.device(name)


def compute_loss(
    model: SASRec,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    cfg: SasrecConfig,
    generator: torch.Generator,
) -> torch.Tensor:
    """The configured training loss for one batch of (B, T) inputs and targets."""
    hidden = model(inputs)  # (B, T, D)
    weight = model.item_emb.weight  # (V, D)
    if cfg.loss == "bce":
        return bce_loss(hidden, targets, weight, generator)
    if cfg.loss == "sampled_softmax":
        return sampled_softmax_loss(
            hidden, targets, weight, generator, cfg.num_negatives, cfg.temperature
        )
    return full_ce_loss(hidden, targets, weight)


class _Budget:
    """Steps or target items: how far training may go, and how far it got."""

    def __init__(self, cfg: SasrecConfig):
        self.unit = cfg.budget_unit
        self.total = (
            cfg.max_train_steps if self.unit == "steps" else cfg.max_train_items
        )
        self.steps = 0
        self.items = 0

    def add(self, items: int) -> None:
        self.steps += 1
        self.items += items

    @property
    def used(self) -> int:
        return self.steps if self.unit == "steps" else self.items

    @property
    def done(self) -> bool:
        return self.used >= self.total


class _BestCheckpoint:
    """Early stopping on one validation metric, keeping the best weights."""

    def __init__(self, model: SASRec, metric: str, patience_evals: int):
        self.metric, self.patience = metric, patience_evals
        self.value, self.step, self.valid = -1.0, 0, {}
        self.state = _snapshot(model)
        self.bad_evals = 0
        self.curve: list[dict[str, float]] = []

    def update(
        self, model: SASRec, budget: "_Budget", loss: float, valid: dict[str, float]
    ) -> dict[str, float]:
        """Record one validation; return its curve point."""
        point = {
            "step": budget.steps,
            "items": budget.items,
            "train_loss": loss,
            f"valid_{self.metric}": valid[self.metric],
        }
        self.curve.append(point)
        if valid[self.metric] > self.value:
            self.value, self.step, self.valid = valid[self.metric], budget.steps, valid
            self.state = _snapshot(model)
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        return point

    @property
    def patience_spent(self) -> bool:
        return self.bad_evals >= self.patience


def train_model(
    model: SASRec,
    stream: BatchStream,
    valid_set: EvalSet,
    cfg: SasrecConfig,
    seed: int,
    tracker: Tracker,
    label: str,
    valid_negatives: np.ndarray | None = None,
) -> TrainResult:
    """Train until the budget is spent or validation stops improving."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = model.item_emb.weight.device
    optimizer = _optimizer(model, cfg)
    budget = _Budget(cfg)
    best = _BestCheckpoint(model, cfg.early_stopping_metric, cfg.patience_evals)
    losses, started = [], time.perf_counter()
    log.info(
        "SASRec %s: %d parameters, budget %d %s, loss %s",
        label,
        model.num_parameters(),
        budget.total,
        budget.unit,
        cfg.loss,
    )

    model.train()
    while not budget.done:
        # One optimiser step on the next batch.
        inputs, targets = (t.to(device) for t in stream.next_batch())
        loss = compute_loss(model, inputs, targets, cfg, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        budget.add(int((targets != 0).sum()))
        losses.append(loss.item())
        if budget.steps % cfg.eval_every_steps and not budget.done:
            continue

        # Validate, keep the best weights, and stop when patience runs out.
        valid = evaluate(model, valid_set, cfg, valid_negatives)
        point = best.update(model, budget, float(np.mean(losses)), valid)
        losses = []
        _track(tracker, label, point, best.metric)
        _log_progress(label, budget, point, best, started)
        if best.patience_spent:
            log.info(
                "SASRec %s: early stop at step %d (best %s %.4f at step %d)",
                label,
                budget.steps,
                best.metric,
                best.value,
                best.step,
            )
            break

    return TrainResult(
        best_state=best.state,
        best_step=best.step,
        best_valid=dict(best.valid),
        steps=budget.steps,
        items_seen=budget.items,
        seconds=time.perf_counter() - started,
        stopped_early=not budget.done,
        curve=best.curve,
    )


def _track(tracker: Tracker, label: str, point: dict[str, float], metric: str) -> None:
    tracker.log_metrics(
        {
            f"sasrec/{label}/train_loss": point["train_loss"],
            f"sasrec/{label}/valid_{tracking_key(metric)}": point[f"valid_{metric}"],
        },
        step=int(point["step"]),
    )


def _optimizer(model: SASRec, cfg: SasrecConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        model.parameters(),
        lr=cfg.learning_rate,
        betas=_ADAM_BETAS,
        weight_decay=cfg.weight_decay,
    )


def _snapshot(model: SASRec) -> dict[str, torch.Tensor]:
    # A CPU copy: the best weights survive further steps and save anywhere.
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _log_progress(
    label: str,
    budget: _Budget,
    point: dict[str, float],
    best: _BestCheckpoint,
    started: float,
) -> None:
    elapsed = time.perf_counter() - started
    fraction = budget.used / budget.total
    eta = elapsed * (1 - fraction) / max(fraction, 1e-9)
    log.info(
        "SASRec %s: step %d (%d/%d %s) loss %.4f valid %s %.4f (best %.4f @%d)"
        " %.0f items/s ETA %.0fs",
        label,
        budget.steps,
        budget.used,
        budget.total,
        budget.unit,
        point["train_loss"],
        best.metric,
        point[f"valid_{best.metric}"],
        best.value,
        best.step,
        budget.items / max(elapsed, 1e-9),
        eta,
    )
