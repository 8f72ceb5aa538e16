"""Bootstrap by run: resampling weights and a batched refit (pure math).

Points of one run (a trial, a seed) share its noise, so the resampling unit
is the run, never the point. Runs are resampled within strata (one stratum
per model size) so that every resample still spans every size: without that,
a sweep with a few runs would often draw a single size and the joint fit
would be unidentifiable. A stratum with a single run cannot be resampled by
run; its points are resampled instead, and the caller reports that.

A resample is a vector of integer weights over points, so all resamples can
be refitted at once: `refit_batched` runs Levenberg-Marquardt on the IRLS form
of the summed Huber objective for every resample in parallel (numpy batched
5x5 solves), warm-started at the full-data fit. `refit_serial` does the same
job one resample at a time with L-BFGS; it is the benchmark baseline and the
reference the batched solver is tested against.
"""

from dataclasses import dataclass

import numpy as np

from synthrec.scaling.laws import (
    Problem,
    bounds,
    fit_lbfgs,
    huber,
    huber_objective,
    one_blas_thread,
    predict_and_jacobian,
)

_LM_LAMBDA_INIT = 1e-3
_LM_LAMBDA_MIN, _LM_LAMBDA_MAX = 1e-12, 1e12
_LM_UP, _LM_DOWN = 4.0, 3.0


@dataclass(frozen=True)
class Resamples:
    counts: np.ndarray  # (B, n) integer multiplicity of each point
    point_fallback_strata: tuple  # strata with one run, resampled by point


def resample_weights(
    units: np.ndarray, strata: np.ndarray, num: int, seed: int
) -> Resamples:
    """Bootstrap multiplicities (num, n) for points with run ids `units`.

    Runs are drawn with replacement within each stratum; a stratum holding a
    single run has its points drawn instead.
    """
    rng = np.random.default_rng(seed)
    n = len(units)
    counts = np.zeros((num, n), dtype=np.int64)
    fallback = []
    for stratum in _ordered_unique(strata):
        in_stratum = np.flatnonzero(strata == stratum)
        stratum_units = _ordered_unique(units[in_stratum])
        if len(stratum_units) == 1:
            fallback.append(_plain(stratum))
            draws = rng.integers(0, len(in_stratum), size=(num, len(in_stratum)))
            counts[:, in_stratum] = _row_bincount(draws, len(in_stratum))
            continue
        draws = rng.integers(0, len(stratum_units), size=(num, len(stratum_units)))
        unit_counts = _row_bincount(draws, len(stratum_units))  # (num, U)
        index = np.searchsorted(stratum_units, units[in_stratum])
        counts[:, in_stratum] = unit_counts[:, index]
    return Resamples(counts, tuple(fallback))


def _ordered_unique(values: np.ndarray) -> np.ndarray:
    return np.unique(values)


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _row_bincount(draws: np.ndarray, size: int) -> np.ndarray:
    offsets = draws + size * np.arange(draws.shape[0])[:, None]
    flat = np.bincount(offsets.ravel(), minlength=size * draws.shape[0])
    return flat.reshape(draws.shape[0], size)


def refit_batched(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray,
    delta: float,
    max_iter: int = 300,
    tol: float = 1e-12,
) -> tuple[np.ndarray, np.ndarray]:
    """Refit every weight row (B, n) from `theta0`; return thetas (B, P), converged.

    Levenberg-Marquardt on IRLS weights: the gradient is exact (sum of
    w * psi(r) * J) and the curvature is J^T diag(w * psi(r)/r) J, so a fixed
    point is a stationary point of the summed Huber objective.
    """
    with one_blas_thread():
        return _refit_batched(problem, theta0, weights, delta, max_iter, tol)


def _refit_batched(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray,
    delta: float,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    num, p = weights.shape[0], theta0.shape[0]
    lo = np.array([b[0] for b in bounds(problem.form)])
    hi = np.array([b[1] for b in bounds(problem.form)])
    theta = np.repeat(theta0[None, :], num, axis=0)
    lam = np.full(num, _LM_LAMBDA_INIT)
    value = huber_objective(theta, problem, delta, weights)
    active = np.ones(num, dtype=bool)

    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        grad, curv = _grad_and_curvature(theta[idx], problem, weights[idx], delta)
        damp = lam[idx, None, None] * (
            np.eye(p) * np.diagonal(curv, axis1=1, axis2=2)[:, None, :]
            + 1e-12 * np.eye(p)
        )
        step = np.linalg.solve(curv + damp, -grad[..., None])[..., 0]
        trial = np.clip(theta[idx] + step, lo, hi)
        trial_value = huber_objective(trial, problem, delta, weights[idx])

        # Accept improving steps and relax damping; otherwise damp harder.
        better = trial_value < value[idx]
        gain = value[idx] - np.where(better, trial_value, value[idx])
        theta[idx[better]] = trial[better]
        value[idx[better]] = trial_value[better]
        lam[idx] = np.clip(
            np.where(better, lam[idx] / _LM_DOWN, lam[idx] * _LM_UP),
            _LM_LAMBDA_MIN,
            _LM_LAMBDA_MAX,
        )

        # Stop a resample when a step gains nothing measurable or damping is maxed.
        small = better & (gain <= tol * np.maximum(value[idx], 1e-300))
        stuck = lam[idx] >= _LM_LAMBDA_MAX
        active[idx[small | stuck]] = False
    # A resample still active after max_iter did not converge.
    return theta, ~active


def _grad_and_curvature(
    theta: np.ndarray, problem: Problem, weights: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    pred, jac = predict_and_jacobian(theta, problem.log_x)  # (B, n), (B, n, P)
    r = np.log(pred) - problem.log_loss
    _, psi = huber(r, delta)
    irls = weights * np.where(
        np.abs(r) <= delta, 1.0, delta / np.maximum(np.abs(r), delta)
    )
    grad = np.matmul((weights * psi)[:, None, :], jac)[:, 0, :]  # (B, P)
    curv = np.matmul((jac * irls[..., None]).transpose(0, 2, 1), jac)  # (B, P, P)
    return grad, curv


def refit_serial(
    problem: Problem, theta0: np.ndarray, weights: np.ndarray, delta: float
) -> np.ndarray:
    """Refit each weight row with L-BFGS warm-started at `theta0` (the baseline)."""
    thetas = []
    for w in weights:
        resampled = Problem(
            problem.form, problem.log_x, problem.log_x0, problem.log_loss, w
        )
        thetas.append(fit_lbfgs(resampled, delta, starts=theta0[None, :]).theta)
    return np.asarray(thetas)


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` percentile interval of finite samples."""
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)
