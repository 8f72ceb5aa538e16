"""Fits of a curves table: per eval set, per-size L(D), L(N), joint L(N, D).

`fit_curves` turns the table the sweep (or MLflow, or a user's CSV) produces
into plain nested dicts of floats: parameters, bootstrap intervals (by run),
and the held-out self-checks. A form that cannot be fitted for one eval set
records its reason under `error` and the other forms and sets carry on.
"""

import logging
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from synthrec.errors import SynthrecError
from synthrec.scaling import laws
from synthrec.scaling.bootstrap import (
    percentile_interval,
    refit_batched,
    resample_weights,
)
from synthrec.scaling.config import ScalingConfig

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("N", "D", "eval_set", "loss")
UNIT_COLUMNS = ("trial_id", "run_id")
ANNEALED_KINDS = ("final", "cooldown")
# C = 6 N D: forward + backward FLOPs per parameter per token (Kaplan et al.).
DEFAULT_FLOPS_PER_PARAM_TOKEN = 6.0


@dataclass(frozen=True)
class Points:
    """The points of one eval set, ready for fitting."""

    n: np.ndarray
    d: np.ndarray
    loss: np.ndarray
    weight: np.ndarray
    unit: np.ndarray  # resampling unit (run) of each point, as strings

    def subset(self, mask: np.ndarray) -> "Points":
        return Points(
            self.n[mask],
            self.d[mask],
            self.loss[mask],
            self.weight[mask],
            self.unit[mask],
        )

    @property
    def x_joint(self) -> np.ndarray:
        return np.column_stack([self.n, self.d])


# -- the table -----------------------------------------------------------------


def check_curves(curves: pd.DataFrame) -> None:
    """Raise a SynthrecError unless `curves` has the columns every fit needs."""
    missing = [c for c in REQUIRED_COLUMNS if c not in curves.columns]
    if missing:
        raise SynthrecError(
            f"curves table lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(REQUIRED_COLUMNS)} (extra columns are allowed)"
        )
    if curves.empty:
        raise SynthrecError("curves table has no rows")
    for col in ("N", "D", "loss"):
        if not pd.api.types.is_numeric_dtype(curves[col]):
            raise SynthrecError(
                f"curves column {col!r} must be numeric, got {curves[col].dtype}"
            )


def unit_column(curves: pd.DataFrame) -> str | None:
    """The column naming each point's run (the bootstrap unit), if any."""
    return next((c for c in UNIT_COLUMNS if c in curves.columns), None)


def select_points(curves: pd.DataFrame, cfg: ScalingConfig) -> pd.DataFrame:
    """Apply exclusions (warm-up, un-annealed) and attach a `_weight` column."""
    table = curves[curves["D"] >= cfg.min_tokens].copy()
    weight = np.ones(len(table))
    if "weight" in table.columns:
        weight *= table["weight"].to_numpy(dtype=np.float64)
    if "kind" in table.columns:
        trunk = ~table["kind"].isin(ANNEALED_KINDS).to_numpy()
        if cfg.annealed_only:
            table, weight = table[~trunk], weight[~trunk]
        else:
            weight = np.where(trunk, weight * cfg.trunk_weight, weight)
    table["_weight"] = weight
    return table


def points_of(table: pd.DataFrame, cfg: ScalingConfig, eval_set: str) -> Points:
    """Arrays of one eval set's rows of a `select_points` table."""
    if cfg.drop_nonfinite:
        finite = np.isfinite(table["loss"].to_numpy(dtype=np.float64))
        if not finite.all():
            log.warning(
                "eval set %s: dropping %d NaN/inf loss point(s)",
                eval_set,
                int((~finite).sum()),
            )
            table = table[finite]
    unit = unit_column(table)
    if unit is not None:
        units = table[unit].astype(str).to_numpy()
    elif "seed" in table.columns:
        units = (table["N"].astype(str) + "/" + table["seed"].astype(str)).to_numpy()
    else:
        units = table["N"].astype(str).to_numpy()
    return Points(
        table["N"].to_numpy(dtype=np.float64),
        table["D"].to_numpy(dtype=np.float64),
        table["loss"].to_numpy(dtype=np.float64),
        table["_weight"].to_numpy(dtype=np.float64),
        units,
    )


# -- one form with its bootstrap -------------------------------------------------


def fit_form(
    form: laws.Form,
    x: np.ndarray,
    points: Points,
    strata: np.ndarray,
    cfg: ScalingConfig,
    seed: int,
    label: str = "",
) -> tuple[dict, np.ndarray | None]:
    """Fit `form`, bootstrap it by run; return its dict and (B, P) samples."""
    problem = laws.make_problem(form, x, points.loss, points.weight)
    result = laws.fit(problem, cfg.huber_delta, cfg.method, cfg.num_starts)
    out = {
        **result.params,
        "objective": result.objective,
        "converged": result.converged,
        "method": result.method,
        "n_points": int(np.sum(points.weight > 0)),
        "n_runs": int(len(np.unique(points.unit))),
    }
    pinned = result.at_bounds
    if pinned:
        out["at_bounds"] = pinned
        log.warning(
            "%s %s: %s pinned at a search bound; the data do not constrain it",
            label,
            form.name,
            ", ".join(pinned),
        )
    if not result.converged:
        log.warning(
            "%s %s: the fit did not meet its convergence test (gradient "
            "not ~0); treat its parameters with care",
            label,
            form.name,
        )
    if cfg.num_bootstrap == 0:
        return out, None
    samples = _bootstrap(problem, result, points, strata, cfg, seed, out)
    return out, samples


def _bootstrap(
    problem: laws.Problem,
    result: laws.FitResult,
    points: Points,
    strata: np.ndarray,
    cfg: ScalingConfig,
    seed: int,
    out: dict,
) -> np.ndarray:
    """Refit resamples by run; add `ci` and `bootstrap` to `out`; return samples."""
    resamples = resample_weights(points.unit, strata, cfg.num_bootstrap, seed)
    weights = resamples.counts * points.weight[None, :]
    thetas, converged = refit_batched(problem, result.theta, weights, cfg.huber_delta)
    samples = laws.theta_to_params(thetas, problem.log_x0)
    out["ci"] = {
        name: list(percentile_interval(samples[:, i], cfg.confidence_level))
        for i, name in enumerate(problem.form.param_names)
    }
    # Strata with a single run were resampled by point (see bootstrap.py).
    out["bootstrap"] = {
        "num": cfg.num_bootstrap,
        "level": cfg.confidence_level,
        "converged_fraction": float(converged.mean()),
        "by_point_strata": [str(s) for s in resamples.point_fallback_strata],
    }
    return samples


def _guarded(what: str, fn) -> dict:
    try:
        return fn()
    except SynthrecError as exc:
        log.warning("%s not fitted: %s", what, exc)
        return {"error": str(exc)}


# -- self-checks -----------------------------------------------------------------


def holdout_check(
    points: Points, held_out: np.ndarray, cfg: ScalingConfig, seed: int = 0
) -> dict:
    """Fit the joint law without `held_out` points; errors of their predictions.

    "final" is the held-out point furthest out (largest N, then largest D); its
    prediction gets a bootstrap interval (by run) when intervals are on.
    """
    train, test = points.subset(~held_out), points.subset(held_out)
    if len(test.loss) == 0:
        raise SynthrecError("nothing to hold out")
    problem = laws.make_problem(laws.JOINT, train.x_joint, train.loss, train.weight)
    result = laws.fit(problem, cfg.huber_delta, cfg.method, cfg.num_starts)
    params = np.array([[result.params[k] for k in laws.JOINT.param_names]])
    pred = laws.predict(params, test.x_joint)[0]
    rel = np.abs(pred - test.loss) / test.loss
    last = int(np.lexsort((test.d, test.n))[-1])
    out = {
        "n_train_points": len(train.loss),
        "n_points": len(test.loss),
        "mean_abs_rel_error": float(np.mean(rel)),
        "max_abs_rel_error": float(np.max(rel)),
        "final_abs_rel_error": float(rel[last]),
        "final_N": float(test.n[last]),
        "final_D": float(test.d[last]),
        "final_loss": float(test.loss[last]),
        "final_pred": float(pred[last]),
    }
    if cfg.num_bootstrap > 0:
        lo, hi = _prediction_interval(
            problem, result, train, test.x_joint[last], cfg, seed
        )
        out["final_pred_ci"] = [lo, hi]
        out["final_in_ci"] = bool(lo <= test.loss[last] <= hi)
    return out


def _prediction_interval(
    problem: laws.Problem,
    result: laws.FitResult,
    train: Points,
    x: np.ndarray,
    cfg: ScalingConfig,
    seed: int,
) -> tuple[float, float]:
    resamples = resample_weights(train.unit, train.n, cfg.num_bootstrap, seed)
    weights = resamples.counts * train.weight[None, :]
    thetas, _ = refit_batched(problem, result.theta, weights, cfg.huber_delta)
    draws = laws.theta_to_params(thetas, problem.log_x0)
    return percentile_interval(
        laws.predict(draws, x[None, :])[:, 0], cfg.confidence_level
    )


def largest_d_mask(points: Points) -> np.ndarray:
    """Each model size's points at its own largest token count."""
    mask = np.zeros(len(points.d), dtype=bool)
    for n in np.unique(points.n):
        at_n = points.n == n
        mask |= at_n & (points.d == points.d[at_n].max())
    return mask


# -- per eval set ------------------------------------------------------------------


def fit_eval_set(points: Points, cfg: ScalingConfig, eval_set: str) -> dict:
    """Every form and self-check of one eval set; failures become `error` keys."""
    seed = zlib.crc32(f"{cfg.seed}/{eval_set}".encode())
    out: dict = {
        "n_points": len(points.loss),
        "n_sizes": len(np.unique(points.n)),
        "N_max": float(points.n.max()),
        "D_max": float(points.d.max()),
    }
    out["per_size"] = per_size_fits(points, cfg, seed, eval_set)

    samples: dict = {}
    out["joint"] = _guarded(
        f"{eval_set} joint L(N, D)",
        lambda: _joint_fit(points, cfg, seed, eval_set, samples),
    )
    if "error" in out["joint"]:
        out["error"] = out["joint"]["error"]
    if cfg.fit_by_size:
        out["by_size"] = _guarded(
            f"{eval_set} L(N)", lambda: _fit_by_size(points, cfg, seed, eval_set)
        )
    if cfg.holdout:
        out["holdout"] = holdout_checks(points, cfg, eval_set, seed)
    if samples:
        out["samples"] = samples
    return out


def per_size_fits(points: Points, cfg: ScalingConfig, seed: int, eval_set: str) -> dict:
    """L(D) per model size, keyed by str(int(N))."""
    fits = {}
    for n in np.unique(points.n):
        sub = points.subset(points.n == n)
        label = f"{eval_set} N={int(n)}"
        fits[str(int(n))] = _guarded(
            f"{label} L(D)",
            lambda sub=sub, label=label: fit_form(
                laws.PER_SIZE,
                sub.d[:, None],
                sub,
                np.zeros(len(sub.d)),
                cfg,
                seed,
                label,
            )[0],
        )
    return fits


def _joint_fit(
    points: Points, cfg: ScalingConfig, seed: int, eval_set: str, samples: dict
) -> dict:
    # Strata are model sizes, so every resample keeps every size.
    fitted, draws = fit_form(
        laws.JOINT, points.x_joint, points, points.n, cfg, seed, eval_set
    )
    if draws is not None:
        samples["joint"] = {
            name: draws[:, i].tolist() for i, name in enumerate(laws.JOINT.param_names)
        }
    return fitted


def holdout_checks(
    points: Points, cfg: ScalingConfig, eval_set: str, seed: int = 0
) -> dict:
    """Predict the largest N, and each size's largest D, from fits without them."""
    return {
        "largest_n": _guarded(
            f"{eval_set} hold-out of the largest N",
            lambda: holdout_check(points, points.n == points.n.max(), cfg, seed),
        ),
        "largest_d": _guarded(
            f"{eval_set} hold-out of the largest D",
            lambda: holdout_check(points, largest_d_mask(points), cfg, seed),
        ),
    }


def _fit_by_size(points: Points, cfg: ScalingConfig, seed: int, eval_set: str) -> dict:
    # L(N) at the largest token count that every model size reached.
    common = set(points.d[points.n == points.n[0]])
    for n in np.unique(points.n):
        common &= set(points.d[points.n == n])
    if not common:
        raise SynthrecError("no token count is shared by every model size")
    d_common = max(common)
    sub = points.subset(points.d == d_common)
    fitted, _ = fit_form(
        laws.BY_SIZE, sub.n[:, None], sub, np.zeros(len(sub.n)), cfg, seed, eval_set
    )
    return {**fitted, "D": float(d_common)}


def compute_relation(curves: pd.DataFrame) -> dict:
    """How training FLOPs relate to N and D for this table: C = k * N * D."""
    if "flops_per_token" in curves.columns:
        ratio = curves["flops_per_token"].to_numpy(np.float64) / curves["N"].to_numpy(
            np.float64
        )
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        if len(ratio):
            return {
                "flops_per_param_token": float(np.median(ratio)),
                "source": "median of flops_per_token / N in the table",
            }
    return {
        "flops_per_param_token": DEFAULT_FLOPS_PER_PARAM_TOKEN,
        "source": "assumed C = 6 N D (no flops_per_token column)",
    }


def fit_curves(curves: pd.DataFrame, cfg: ScalingConfig) -> dict:
    """Per eval set: per-size L(D), joint L(N, D), L(N), self-checks, intervals."""
    with laws.one_blas_thread():  # see there: BLAS threads only slow small solves
        return _fit_curves(curves, cfg)


def _fit_curves(curves: pd.DataFrame, cfg: ScalingConfig) -> dict:
    check_curves(curves)
    table = select_points(curves, cfg)
    relation = compute_relation(table)
    eval_sets = sorted(curves["eval_set"].astype(str).unique())
    log.info(
        "fitting %d eval set(s) from %d points (%d resamples each, method %s)",
        len(eval_sets),
        len(table),
        cfg.num_bootstrap,
        cfg.method,
    )

    main, ablation = split_mixtures(table, cfg)
    fits, by_point = {}, False
    for i, eval_set in enumerate(eval_sets, start=1):
        rows = main[main["eval_set"].astype(str) == eval_set]
        if rows.empty:
            fits[eval_set] = {"error": _no_points_reason(cfg)}
            log.warning("%s not fitted: %s", eval_set, fits[eval_set]["error"])
            continue
        fits[eval_set] = fit_eval_set(points_of(rows, cfg, eval_set), cfg, eval_set)
        fits[eval_set]["compute"] = relation
        if "mixture" in rows.columns:
            fits[eval_set]["mixture"] = str(rows["mixture"].iloc[0])
        if ablation is not None:
            fits[eval_set]["mixtures"] = fit_mixtures(
                ablation, cfg, eval_set, fits[eval_set]
            )
        joint = fits[eval_set]["joint"]
        by_point |= bool((joint.get("bootstrap") or {}).get("by_point_strata"))
        log.info(
            "[%d/%d] %s: alpha=%s beta=%s",
            i,
            len(eval_sets),
            eval_set,
            _fmt(joint.get("alpha")),
            _fmt(joint.get("beta")),
        )
    if by_point:
        log.warning(
            "some model sizes have a single run, so their points were "
            "resampled by point, not by run: intervals understate the "
            "run-to-run spread (add seeds or token budgets per size)"
        )
    return fits


def _no_points_reason(cfg: ScalingConfig) -> str:
    return (
        "no points left after the exclusions (scaling.min_tokens="
        f"{cfg.min_tokens}, annealed_only={cfg.annealed_only}, "
        f"mixture={cfg.mixture!r})"
    )


def split_mixtures(
    table: pd.DataFrame, cfg: ScalingConfig
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The rows of the main mixture, and the whole table when it is an ablation."""
    if "mixture" not in table.columns or table["mixture"].nunique() <= 1:
        if cfg.mixture is not None and "mixture" in table.columns:
            _check_mixture(table, cfg.mixture)
        return table, None
    names = table["mixture"].astype(str)
    if cfg.mixture is not None:
        _check_mixture(table, cfg.mixture)
        main = cfg.mixture
    else:
        counts = names.value_counts()
        main = sorted(counts[counts == counts.max()].index)[0]
        log.info(
            "table holds mixtures %s; main fits use %r (set scaling.mixture)",
            sorted(counts.index),
            main,
        )
    return table[names == main], table


def _check_mixture(table: pd.DataFrame, name: str) -> None:
    names = sorted(table["mixture"].astype(str).unique())
    if name not in names:
        raise SynthrecError(
            f"scaling.mixture={name!r} is not in the table; "
            f"mixtures there: {', '.join(names)}"
        )


def fit_mixtures(
    table: pd.DataFrame, cfg: ScalingConfig, eval_set: str, main_fit: dict
) -> dict:
    """Per mixture: per-size L(D) fits (no intervals) for the ablation plot."""
    quick = replace(cfg, num_bootstrap=0)
    rows = table[table["eval_set"].astype(str) == eval_set]
    out = {}
    for name in sorted(rows["mixture"].astype(str).unique()):
        if name == main_fit.get("mixture"):
            out[name] = {"per_size": main_fit["per_size"]}
            continue
        points = points_of(rows[rows["mixture"].astype(str) == name], quick, eval_set)
        out[name] = {"per_size": per_size_fits(points, quick, 0, f"{eval_set}/{name}")}
    return out


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"
