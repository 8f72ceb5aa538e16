"""sweep stage: the scaling grid as Ray Tune trials, each one `lm.run_trial`."""

from synthrec.sweep.plan import PlannedTrial, plan_grid, plan_trials, trial_id
from synthrec.sweep.runner import derive_concurrency, run_sweep

__all__ = [
    "PlannedTrial",
    "derive_concurrency",
    "plan_grid",
    "plan_trials",
    "run_sweep",
    "trial_id",
]
