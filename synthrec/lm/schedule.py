"""Learning-rate schedules as pure functions of the step.

All schedules warm up linearly from 0 to the peak. After warm-up:

- cosine: half a cosine from the peak down to `min_ratio` x peak at the end;
- wsd (warm-up, stable, decay): flat at the peak, then over the last
  `cooldown_fraction` of the run a linear decay to `min_ratio` x peak;
- constant: flat at the peak.

A WSD cooldown branch started at step `branch_start` from the stable trunk
decays linearly over its own `branch_steps` (see `cooldown_lr`).
"""

import math
from typing import Literal

Schedule = Literal["cosine", "wsd", "constant"]


def lr_at(
    step: int,
    total_steps: int,
    warmup_steps: int,
    peak: float,
    schedule: Schedule,
    min_ratio: float,
    cooldown_fraction: float,
) -> float:
    """Learning rate for optimiser step `step` (0-based) of `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    floor = peak * min_ratio
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        span = max(total_steps - warmup_steps, 1)
        progress = min((step - warmup_steps) / span, 1.0)
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "wsd":
        decay_steps = decay_steps_of(total_steps, cooldown_fraction)
        decay_start = total_steps - decay_steps
        if step < decay_start:
            return peak
        return linear_decay(step - decay_start, decay_steps, peak, floor)
    raise ValueError(f"unknown schedule {schedule!r}: use cosine, wsd or constant")


def decay_steps_of(total_steps: int, cooldown_fraction: float) -> int:
    """Steps in the final decay of a WSD run (at least one)."""
    return max(1, round(total_steps * cooldown_fraction))


def linear_decay(step: int, decay_steps: int, peak: float, floor: float) -> float:
    """Linear from `peak` (first decay step) to `floor` (last decay step)."""
    if decay_steps <= 1:
        return floor
    frac = min(step / (decay_steps - 1), 1.0)
    return peak + (floor - peak) * frac


def cooldown_lr(
    branch_step: int, branch_steps: int, peak: float, min_ratio: float
) -> float:
    """Learning rate of step `branch_step` of a WSD cooldown branch."""
    return linear_decay(branch_step, branch_steps, peak, peak * min_ratio)
