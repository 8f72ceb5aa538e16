"""Power laws for loss curves and their robust fits (pure math, no I/O).

Every form here is  L = E + sum_k A_k * X_k^(-alpha_k)  with one term
(L(D) per model size, L(N) across sizes) or two (the joint L(N, D) with
X = (N, D)). A fit minimises the *summed* Huber loss of the log-residuals
log(pred) - log(L), weighted per point, over parameters kept in log space so
that every coefficient and exponent stays positive.

Inputs are divided by their geometric mean before fitting (X' = X / X0), which
keeps A' = A * X0^-alpha near the size of the losses and the problem well
conditioned; results are converted back to the caller's units.

Two solvers minimise the same objective:
- `fit_lbfgs`: L-BFGS-B from the best points of a grid of initialisations,
  with tolerances far below the scale of the objective;
- `fit_varpro`: variable projection: for a fixed exponent vector the model is
  linear in (E, A_1, ...), which is solved under non-negativity by Gauss-Newton
  steps of weighted NNLS; the exponents are then searched on a grid and refined.
"""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, minimize, nnls

from synthrec.errors import SynthrecError

# Bounds of the log-space parameters (log E, log A', log alpha).
_LOG_COEF_MIN, _LOG_COEF_MAX = -60.0, 30.0
_LOG_EXP_MIN, _LOG_EXP_MAX = float(np.log(1e-3)), float(np.log(10.0))
# Initialisation grid (E as a fraction of the smallest loss; A' as a multiple
# of the largest loss, since X' is near 1; exponents as they are).
_INIT_E_FRACTIONS = (0.05, 0.5, 0.9)
_INIT_A_MULTIPLES = (0.01, 0.1, 0.5, 2.0)
_INIT_EXPONENTS = (0.05, 0.15, 0.4, 1.0, 2.0)
# Iterations per L-BFGS start; a well-posed fit converges in ~100.
_LBFGS_MAX_ITER = 1000
# Distinct values each input needs for its exponent to be identified.
_MIN_DISTINCT = 3
# Exponent grid of the variable-projection search.
_VARPRO_EXPONENTS = np.geomspace(0.01, 3.0, 14)


@dataclass(frozen=True)
class Form:
    """One power-law form: its name and its parameter names, in theta order."""

    name: str
    param_names: tuple[str, ...]
    input_names: tuple[str, ...]

    @property
    def num_terms(self) -> int:
        return len(self.input_names)

    @property
    def num_params(self) -> int:
        return 1 + 2 * self.num_terms


PER_SIZE = Form("L(D)", ("L_inf", "A", "alpha"), ("D",))
BY_SIZE = Form("L(N)", ("L_inf", "A", "alpha"), ("N",))
JOINT = Form("L(N,D)", ("E", "A", "alpha", "B", "beta"), ("N", "D"))


@dataclass(frozen=True)
class Problem:
    """Validated, scaled data of one fit."""

    form: Form
    log_x: np.ndarray  # (n, K) log of inputs over their geometric mean
    log_x0: np.ndarray  # (K,) log of the geometric means
    log_loss: np.ndarray  # (n,)
    weight: np.ndarray  # (n,) non-negative


@dataclass(frozen=True)
class FitResult:
    form: Form
    theta: np.ndarray  # (P,) log-space parameters in scaled units
    log_x0: np.ndarray
    objective: float
    converged: bool
    method: str

    @property
    def params(self) -> dict[str, float]:
        values = theta_to_params(self.theta[None, :], self.log_x0)[0]
        return dict(zip(self.form.param_names, map(float, values), strict=True))

    @property
    def at_bounds(self) -> list[str]:
        """Parameters pinned at a bound: the data do not constrain them."""
        lo, hi = np.array(bounds(self.form)).T
        pinned = np.isclose(self.theta, lo, atol=1e-6) | np.isclose(
            self.theta, hi, atol=1e-6
        )
        return [n for n, p in zip(self.form.param_names, pinned, strict=True) if p]


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run with a single-threaded BLAS.

    The solvers work on 5x5 systems, where BLAS threads only add latency: on a
    busy 2-core machine L-BFGS-B ran ~6x slower with OpenBLAS's default threads.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


# -- data --------------------------------------------------------------------


def make_problem(
    form: Form, x: np.ndarray, loss: np.ndarray, weight: np.ndarray | None = None
) -> Problem:
    """Check and scale inputs `x` (n, K) and `loss` (n,) for a fit of `form`."""
    x = np.asarray(x, dtype=np.float64).reshape(len(loss), form.num_terms)
    loss = np.asarray(loss, dtype=np.float64)
    weight = np.ones_like(loss) if weight is None else np.asarray(weight, np.float64)
    _check_values(form, x, loss, weight)
    _check_identifiable(form, x[weight > 0])

    log_x = np.log(x)
    log_x0 = log_x[weight > 0].mean(axis=0)
    return Problem(form, log_x - log_x0, log_x0, np.log(loss), weight)


def _check_values(form: Form, x: np.ndarray, loss: np.ndarray, w: np.ndarray) -> None:
    if not np.all(np.isfinite(loss)):
        bad = int(np.sum(~np.isfinite(loss)))
        raise SynthrecError(
            f"{form.name}: {bad} loss value(s) are NaN or infinite; "
            "drop those points or set scaling.drop_nonfinite"
        )
    if np.any(loss <= 0):
        raise SynthrecError(f"{form.name}: losses must be positive to fit on log-loss")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise SynthrecError(
            f"{form.name}: {', '.join(form.input_names)} must be "
            "positive finite numbers"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise SynthrecError(f"{form.name}: point weights must be finite and >= 0")


def _check_identifiable(form: Form, x: np.ndarray) -> None:
    # Repeated inputs (seeds, trunk reads shared by runs) add no new constraint:
    # count distinct points, and keep one degree of freedom beyond the fit.
    need, distinct = form.num_params + 1, len(np.unique(x, axis=0))
    if distinct < need:
        raise SynthrecError(
            f"{form.name}: too few points to fit {form.num_params} parameters "
            f"(got {distinct} distinct, need at least {need})"
        )
    # Each input needs 3 distinct values: with 2 sizes, E + A N^-alpha fits any
    # alpha exactly, so the exponent (and any extrapolation) would be arbitrary.
    for k, name in enumerate(form.input_names):
        values = np.unique(x[:, k])
        if len(values) < _MIN_DISTINCT:
            what = "model sizes" if name == "N" else "token counts"
            raise SynthrecError(
                f"{form.name}: needs at least {_MIN_DISTINCT} distinct {what} "
                f"({name}) to identify its exponent, got {len(values)}: "
                f"{values.tolist()}"
                + ("; a joint fit needs several model sizes" if name == "N" else "")
            )


# -- the model and the objective ----------------------------------------------


def theta_to_params(theta: np.ndarray, log_x0: np.ndarray) -> np.ndarray:
    """(B, P) log-space scaled parameters -> (B, P) natural parameters."""
    params = np.exp(theta)
    for k in range(len(log_x0)):
        alpha = params[:, 2 + 2 * k]
        params[:, 1 + 2 * k] = np.exp(theta[:, 1 + 2 * k] + alpha * log_x0[k])
    return params


def params_to_theta(params: np.ndarray, log_x0: np.ndarray) -> np.ndarray:
    """(B, P) natural parameters -> (B, P) log-space scaled parameters."""
    with np.errstate(divide="ignore"):
        theta = np.log(np.asarray(params, dtype=np.float64))
    for k in range(len(log_x0)):
        theta[:, 1 + 2 * k] -= params[:, 2 + 2 * k] * log_x0[k]
    return np.clip(theta, _LOG_COEF_MIN, _LOG_COEF_MAX)


def predict(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Loss at inputs `x` (n, K) for natural parameters (B, P) -> (B, n)."""
    params = np.atleast_2d(params)
    log_x = np.log(np.asarray(x, dtype=np.float64)).reshape(
        -1, (params.shape[1] - 1) // 2
    )
    pred = np.repeat(params[:, :1], len(log_x), axis=1)
    for k in range(log_x.shape[1]):
        coef, alpha = params[:, 1 + 2 * k, None], params[:, 2 + 2 * k, None]
        pred = pred + coef * np.exp(-alpha * log_x[None, :, k])
    return pred


def predict_and_jacobian(
    theta: np.ndarray, log_x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (B, n) and d log(pred) / d theta (B, n, P) in scaled units."""
    e = np.exp(theta[:, :1])  # (B, 1)
    grads = [np.broadcast_to(e, (theta.shape[0], log_x.shape[0]))]
    pred = grads[0].copy()
    for k in range(log_x.shape[1]):
        alpha = np.exp(theta[:, 2 + 2 * k, None])  # (B, 1)
        term = np.exp(theta[:, 1 + 2 * k, None] - alpha * log_x[None, :, k])  # (B, n)
        pred += term
        grads += [term, -term * alpha * log_x[None, :, k]]
    jac = np.stack(grads, axis=-1) / pred[..., None]  # (B, n, P)
    return pred, jac


def huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss rho(r) and its derivative psi(r), elementwise."""
    inside = np.abs(r) <= delta
    rho = np.where(inside, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
    psi = np.where(inside, r, delta * np.sign(r))
    return rho, psi


def predict_scaled(theta: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    """Predictions (B, n) for log-space scaled parameters (B, P)."""
    pred = np.repeat(np.exp(theta[:, :1]), log_x.shape[0], axis=1)
    for k in range(log_x.shape[1]):
        alpha = np.exp(theta[:, 2 + 2 * k, None])
        pred += np.exp(theta[:, 1 + 2 * k, None] - alpha * log_x[None, :, k])
    return pred


def huber_objective(
    theta: np.ndarray, problem: Problem, delta: float, weight: np.ndarray | None = None
) -> np.ndarray:
    """Summed, weighted Huber loss of log-residuals for each row of theta (B, P)."""
    w = problem.weight if weight is None else weight
    pred = predict_scaled(np.atleast_2d(theta), problem.log_x)
    rho, _ = huber(np.log(pred) - problem.log_loss, delta)
    return np.sum(w * rho, axis=-1)


def _objective_and_grad(
    theta: np.ndarray, problem: Problem, delta: float
) -> tuple[float, np.ndarray]:
    pred, jac = predict_and_jacobian(theta[None, :], problem.log_x)
    rho, psi = huber(np.log(pred[0]) - problem.log_loss, delta)
    value = float(np.sum(problem.weight * rho))
    grad = np.einsum("n,np->p", problem.weight * psi, jac[0])
    return value, grad


# -- L-BFGS from a grid of starts --------------------------------------------


def init_grid(problem: Problem) -> np.ndarray:
    """Log-space starting points (G, P) spanning plausible parameter scales."""
    loss = np.exp(problem.log_loss)
    e_values = [np.log(f * loss.min()) for f in _INIT_E_FRACTIONS]
    term_values = [
        (np.log(m * loss.max()), np.log(a))
        for m in _INIT_A_MULTIPLES
        for a in _INIT_EXPONENTS
    ]
    rows = []
    for e in e_values:
        for terms in itertools.product(term_values, repeat=problem.form.num_terms):
            rows.append([e, *itertools.chain.from_iterable(terms)])
    return np.asarray(rows, dtype=np.float64)


def bounds(form: Form) -> list[tuple[float, float]]:
    per_term = [(_LOG_COEF_MIN, _LOG_COEF_MAX), (_LOG_EXP_MIN, _LOG_EXP_MAX)]
    return [(_LOG_COEF_MIN, _LOG_COEF_MAX), *per_term * form.num_terms]


def fit_lbfgs(
    problem: Problem,
    delta: float = 1e-3,
    num_starts: int = 8,
    starts: np.ndarray | None = None,
) -> FitResult:
    """Minimise the summed Huber objective by L-BFGS-B from several starts.

    `starts` (S, P) replaces the grid (used to warm-start refits); otherwise
    the `num_starts` best grid points by objective value are refined.
    """
    with one_blas_thread():
        return _fit_lbfgs(problem, delta, num_starts, starts)


def _fit_lbfgs(
    problem: Problem, delta: float, num_starts: int, starts: np.ndarray | None
) -> FitResult:
    if starts is None:
        grid = init_grid(problem)
        values = huber_objective(grid, problem, delta)
        starts = grid[np.argsort(values, kind="stable")[:num_starts]]

    best = None
    for start in starts:
        result = minimize(
            _objective_and_grad,
            start,
            args=(problem, delta),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds(problem.form),
            # The summed objective is ~delta * n * |r|: stop on the gradient far
            # below that scale, never on a relative decrease of order 1.
            options={
                "maxiter": _LBFGS_MAX_ITER,
                "ftol": 1e-15,
                "gtol": 1e-12,
                "maxcor": 20,
            },
        )
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    return FitResult(
        problem.form,
        best.x,
        problem.log_x0,
        float(best.fun),
        _converged(best, problem, delta),
        "lbfgs",
    )


def _converged(result: OptimizeResult, problem: Problem, delta: float) -> bool:
    # L-BFGS-B often ends on "abnormal line search" at machine precision; judge
    # convergence by the gradient relative to the per-point scale of psi*J.
    _, grad = _objective_and_grad(result.x, problem, delta)
    at_bound = np.isclose(result.x, [b[0] for b in bounds(problem.form)]) | np.isclose(
        result.x, [b[1] for b in bounds(problem.form)]
    )
    free = ~at_bound
    scale = delta * max(1.0, float(problem.weight.sum()))
    return bool(np.all(np.abs(grad[free]) <= 1e-6 * scale))


# -- variable projection -------------------------------------------------------


def fit_varpro(problem: Problem, delta: float = 1e-3) -> FitResult:
    """Minimise the same objective by variable projection over the exponents."""
    with one_blas_thread():
        return _fit_varpro(problem, delta)


def _fit_varpro(problem: Problem, delta: float) -> FitResult:
    k = problem.form.num_terms
    grid = list(itertools.product(_VARPRO_EXPONENTS, repeat=k))
    values = [_profile(np.asarray(a), problem, delta)[1] for a in grid]
    start = np.log(np.asarray(grid[int(np.argmin(values))]))

    # Refine the exponents (in log space) on the profiled objective.
    result = minimize(
        lambda la: _profile(np.exp(la), problem, delta)[1],
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 4000, "maxfev": 8000},
    )
    alphas = np.exp(result.x)
    coefs, value = _profile(alphas, problem, delta)
    theta = np.empty(problem.form.num_params)
    with np.errstate(divide="ignore"):
        theta[0] = np.log(coefs[0])
        theta[1::2] = np.log(coefs[1:])
    theta[2::2] = np.log(alphas)
    theta = np.clip(theta, _LOG_COEF_MIN, _LOG_COEF_MAX)
    return FitResult(
        problem.form,
        theta,
        problem.log_x0,
        float(value),
        bool(result.success),
        "varpro",
    )


def _profile(
    alphas: np.ndarray, problem: Problem, delta: float, max_iter: int = 200
) -> tuple[np.ndarray, float]:
    """Best non-negative (E, A'_1, ...) for fixed exponents, and its objective."""
    basis = np.column_stack(
        [np.ones(len(problem.log_loss))]
        + [np.exp(-a * problem.log_x[:, k]) for k, a in enumerate(alphas)]
    )  # (n, K + 1)
    loss, w = np.exp(problem.log_loss), problem.weight

    def objective(c: np.ndarray) -> float:
        pred = basis @ c
        if np.any(pred <= 0):
            return np.inf
        return float(np.sum(w * huber(np.log(pred) - problem.log_loss, delta)[0]))

    # Start from relative least squares, then Gauss-Newton/IRLS steps: linearise
    # log(basis c) around the current c and solve a weighted NNLS for the step.
    root_w = np.sqrt(w)
    c = nnls(basis * (root_w / loss)[:, None], root_w)[0]
    value = objective(c)
    for _ in range(max_iter):
        pred = basis @ c
        r = np.log(pred) - problem.log_loss
        irls = w * np.where(np.abs(r) <= delta, 1.0, delta / np.abs(r))
        root = np.sqrt(irls)
        c_new = nnls(basis * (root / pred)[:, None], root * (1.0 - r))[0]
        new_value, step = objective(c_new), 1.0
        while new_value > value and step > 1e-6:  # damp a step that overshoots
            step *= 0.5
            c_try = c + step * (c_new - c)
            new_value = objective(c_try)
            c_new = c_try
        if new_value > value:
            break
        done = value - new_value <= 1e-15 * max(value, 1e-30)
        c, value = c_new, new_value
        if done:
            break
    return c, value


def fit(
    problem: Problem, delta: float = 1e-3, method: str = "lbfgs", num_starts: int = 8
) -> FitResult:
    if method == "lbfgs":
        return fit_lbfgs(problem, delta, num_starts)
    if method == "varpro":
        return fit_varpro(problem, delta)
    raise SynthrecError(f"unknown fit method {method!r}; choose 'lbfgs' or 'varpro'")
