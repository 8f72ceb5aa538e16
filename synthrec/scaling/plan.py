"""Compute-optimal model size and data for a FLOPs budget (pure math).

With C = k * N * D (k = 6 for the usual 6ND estimate, or the ratio
flops_per_token / N measured in the sweep), minimising
E + A N^-alpha + B D^-beta on that budget gives

    N_opt = G * (C / k)^(beta / (alpha + beta)),   D_opt = (C / k) / N_opt,
    G = (alpha A / (beta B))^(1 / (alpha + beta)).

Applied to every bootstrap sample of the joint fit, it gives intervals.
"""

import numpy as np

from synthrec.errors import SynthrecError
from synthrec.scaling.bootstrap import percentile_interval
from synthrec.scaling.laws import JOINT, predict


def optimal_allocation(
    params: np.ndarray, budget_flops: float, flops_per_param_token: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N_opt, D_opt and the loss there for joint parameters (B, 5)."""
    params = np.atleast_2d(params)
    _, a, alpha, b, beta = params.T
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = budget_flops / flops_per_param_token  # N * D
        g = (alpha * a / (beta * b)) ** (1.0 / (alpha + beta))
        n_opt = g * scale ** (beta / (alpha + beta))
        d_opt = scale / n_opt
        loss = np.array(
            [
                predict(p[None, :], np.array([[n, d]]))[0, 0]
                for p, n, d in zip(params, n_opt, d_opt, strict=True)
            ]
        )
    return n_opt, d_opt, loss


def compute_optimal(
    eval_fit: dict, budget_flops: float, level: float | None = None
) -> dict:
    """The compute-optimal (N, D, loss) of one eval set's fit, with intervals."""
    if not budget_flops > 0:
        raise SynthrecError(
            f"budget must be a positive number of FLOPs, got {budget_flops}"
        )
    joint = eval_fit.get("joint") or {}
    if "error" in joint or "alpha" not in joint:
        reason = joint.get("error", "no joint fit")
        raise SynthrecError(f"cannot plan without a joint fit ({reason})")
    relation = eval_fit.get("compute") or {}
    k = float(relation.get("flops_per_param_token", 6.0))

    point = np.array([[joint[name] for name in JOINT.param_names]])
    n_opt, d_opt, loss = optimal_allocation(point, budget_flops, k)
    out = {
        "budget_flops": float(budget_flops),
        "N": float(n_opt[0]),
        "D": float(d_opt[0]),
        "loss": float(loss[0]),
        "flops_per_param_token": k,
        "flops_source": relation.get("source", "assumed C = 6 N D"),
    }

    samples = (eval_fit.get("samples") or {}).get("joint")
    if samples:
        draws = np.column_stack([samples[name] for name in JOINT.param_names])
        level = level or (joint.get("bootstrap") or {}).get("level", 0.9)
        ns, ds, ls = optimal_allocation(draws, budget_flops, k)
        out["ci"] = {
            "N": list(percentile_interval(ns, level)),
            "D": list(percentile_interval(ds, level)),
            "loss": list(percentile_interval(ls, level)),
        }
        out["level"] = level
    return out
