"""The fit report: fit.json, PNG plots like the paper's, and report.md.

Everything is written atomically into one folder and logged as artifacts
through the caller's tracker (the pipeline makes it the "fit" child run).
Plots use matplotlib's Agg backend, imported lazily.
"""

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from synthrec.errors import SynthrecError
from synthrec.io import atomic_path, write_json, write_text
from synthrec.scaling import laws
from synthrec.scaling.fit import check_curves
from synthrec.scaling.plan import compute_optimal
from synthrec.tracking import Tracker

log = logging.getLogger(__name__)

FIT_FILE = "fit.json"
REPORT_FILE = "report.md"
# How far past the data the extrapolation plot reaches (in N and in D).
EXTRAPOLATION_FACTOR = 10.0
# The example budget of the report's compute-optimal line: 100x the largest run.
PLAN_BUDGET_MULTIPLE = 100.0
_CURVE_POINTS = 64
# Values the paper reports (docs/paper.md), for the report's comparison table.
PAPER_JOINT = {
    "General": (0.79, 0.511, 0.048),
    "Item-text": (0.473, 0.511, 0.070),
    "CF": (0.193, 0.277, 0.148),
    "UIH": (0.514, 0.138, 0.272),
}


def write_report(
    fit: dict, curves: pd.DataFrame, out_dir: Path, tracker: Tracker
) -> Path:
    """Write fit.json, plots and report.md under `out_dir`; log them; return report.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / FIT_FILE, fit)

    table, ablation = _tables(fit, curves)
    plots = {
        "loss_vs_tokens.png": lambda p: plot_loss_vs_tokens(fit, table, p),
        "joint_fit.png": lambda p: plot_joint(fit, table, p),
        "extrapolation.png": lambda p: plot_extrapolation(fit, table, p),
    }
    if ablation is not None:
        plots["mixtures.png"] = lambda p: plot_mixtures(fit, ablation, p)
    written = [name for name, draw in plots.items() if _save(draw, out_dir / name)]

    report = out_dir / REPORT_FILE
    write_text(report, render_markdown(fit, table, written))
    for name in [FIT_FILE, REPORT_FILE, *written]:
        tracker.log_artifact(out_dir / name)
    tracker.log_metrics(headline_metrics(fit))
    log.info("fit report: %s (%d plot(s))", report, len(written))
    return report


def _tables(
    fit: dict, curves: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    # The points the fits used (main mixture), and the whole table for ablations.
    check_curves(curves)
    main = next((e["mixture"] for e in fit.values() if e.get("mixture")), None)
    if main is None or curves["mixture"].nunique() <= 1:
        return curves, None
    return curves[curves["mixture"].astype(str) == main], curves


def headline_metrics(fit: dict) -> dict[str, float]:
    """Flat `fit/<eval_set>/<param>` metrics of the joint fits and self-checks."""
    metrics = {}
    for eval_set, entry in fit.items():
        joint = entry.get("joint") or {}
        for name in laws.JOINT.param_names:
            if isinstance(joint.get(name), float):
                metrics[f"fit/{eval_set}/{name}"] = joint[name]
        for which, check in (entry.get("holdout") or {}).items():
            if "mean_abs_rel_error" in check:
                metrics[f"fit/{eval_set}/holdout_{which}_mean_abs_rel_error"] = check[
                    "mean_abs_rel_error"
                ]
    return metrics


# -- plots -------------------------------------------------------------------------


def _save(draw, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw(plt)
    if fig is None:
        return False
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return True


def _grid(plt, count: int):
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(5.2 * cols, 3.9 * rows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _sizes(rows: pd.DataFrame) -> list[float]:
    return sorted(rows["N"].astype(float).unique())


def _colors(plt, count: int):
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(1, count - 1) * 0.9) for i in range(count)]


def _d_range(d: np.ndarray, factor: float = 1.0) -> np.ndarray:
    return np.geomspace(d.min(), d.max() * factor, _CURVE_POINTS)


def plot_loss_vs_tokens(fit: dict, table: pd.DataFrame, plt):
    """Loss vs tokens per eval set: points, per-size L(D) fits, L_inf/alpha legend."""
    eval_sets = sorted(fit)
    fig, axes = _grid(plt, len(eval_sets))
    for ax, eval_set in zip(axes, eval_sets, strict=False):
        rows = table[table["eval_set"].astype(str) == eval_set]
        per_size = fit[eval_set].get("per_size") or {}
        sizes = _sizes(rows)
        for n, color in zip(sizes, _colors(plt, len(sizes)), strict=True):
            at_n = rows[rows["N"] == n]
            label = f"N={_short(n)}"
            params = per_size.get(str(int(n))) or {}
            if "alpha" in params:
                label += f": L_inf={params['L_inf']:.3g}, alpha={params['alpha']:.3g}"
                d = _d_range(at_n["D"].to_numpy(float))
                p = np.array([[params["L_inf"], params["A"], params["alpha"]]])
                ax.plot(d, laws.predict(p, d[:, None])[0], color=color, lw=1.5)
            ax.scatter(at_n["D"], at_n["loss"], color=color, s=14, label=label)
        _style(ax, eval_set, "tokens seen D")
    fig.suptitle("Loss vs tokens with per-size fits L(D) = L_inf + A D^-alpha")
    return fig


def plot_joint(fit: dict, table: pd.DataFrame, plt):
    """The joint L(N, D) fit against every point, one panel per eval set."""
    eval_sets = sorted(fit)
    fig, axes = _grid(plt, len(eval_sets))
    for ax, eval_set in zip(axes, eval_sets, strict=False):
        rows = table[table["eval_set"].astype(str) == eval_set]
        joint = fit[eval_set].get("joint") or {}
        sizes = _sizes(rows)
        for n, color in zip(sizes, _colors(plt, len(sizes)), strict=True):
            at_n = rows[rows["N"] == n]
            ax.scatter(
                at_n["D"], at_n["loss"], color=color, s=14, label=f"N={_short(n)}"
            )
            if "alpha" in joint:
                d = _d_range(at_n["D"].to_numpy(float))
                ax.plot(d, _joint_curve(joint, n, d), color=color, ls="--", lw=1.2)
        title = eval_set
        if "alpha" in joint:
            title += (
                f"\nE={joint['E']:.3g}, alpha={joint['alpha']:.3g}, "
                f"beta={joint['beta']:.3g}"
            )
        else:
            title += "\n(joint fit failed)"
        _style(ax, title, "tokens seen D")
    fig.suptitle("Joint fit L(N, D) = E + A N^-alpha + B D^-beta (dashed)")
    return fig


def plot_extrapolation(fit: dict, table: pd.DataFrame, plt):
    """The joint law extended 10x in N and D, with its bootstrap band."""
    eval_sets = [e for e in sorted(fit) if "alpha" in (fit[e].get("joint") or {})]
    if not eval_sets:
        return None
    fig, axes = _grid(plt, len(eval_sets))
    for ax, eval_set in zip(axes, eval_sets, strict=False):
        rows = table[table["eval_set"].astype(str) == eval_set]
        joint = fit[eval_set]["joint"]
        n_big = max(_sizes(rows)) * EXTRAPOLATION_FACTOR
        d = _d_range(rows["D"].to_numpy(float), EXTRAPOLATION_FACTOR)
        ax.scatter(rows["D"], rows["loss"], color="0.6", s=10, label="observed")
        ax.plot(
            d,
            _joint_curve(joint, n_big, d),
            color="C3",
            label=f"prediction at N={_short(n_big)}",
        )
        band = _band(fit[eval_set], n_big, d)
        if band is not None:
            level = (joint.get("bootstrap") or {}).get("level", 0.9)
            ax.fill_between(
                d,
                band[0],
                band[1],
                color="C3",
                alpha=0.2,
                label=f"{level:.0%} bootstrap band",
            )
        _style(ax, eval_set, "tokens seen D")
    fig.suptitle(f"Extrapolation {EXTRAPOLATION_FACTOR:g}x past the largest N and D")
    return fig


def plot_mixtures(fit: dict, ablation: pd.DataFrame, plt):
    """Mixture ablation: per-mixture L(D) at the largest model size."""
    eval_sets = sorted(fit)
    fig, axes = _grid(plt, len(eval_sets))
    for ax, eval_set in zip(axes, eval_sets, strict=False):
        rows = ablation[ablation["eval_set"].astype(str) == eval_set]
        mixtures = fit[eval_set].get("mixtures") or {}
        names = sorted(rows["mixture"].astype(str).unique())
        for name, color in zip(names, _colors(plt, len(names)), strict=True):
            sub = rows[rows["mixture"].astype(str) == name]
            n = max(_sizes(sub))
            at_n = sub[sub["N"] == n]
            params = ((mixtures.get(name) or {}).get("per_size") or {}).get(
                str(int(n)), {}
            )
            label = f"{name} (N={_short(n)})"
            if "alpha" in params:
                label += f": L_inf={params['L_inf']:.3g}, alpha={params['alpha']:.3g}"
                d = _d_range(at_n["D"].to_numpy(float))
                p = np.array([[params["L_inf"], params["A"], params["alpha"]]])
                ax.plot(d, laws.predict(p, d[:, None])[0], color=color)
            ax.scatter(at_n["D"], at_n["loss"], color=color, s=14, label=label)
        _style(ax, eval_set, "tokens seen D")
    fig.suptitle("Training mixtures compared (largest model size)")
    return fig


def _joint_curve(joint: dict, n: float, d: np.ndarray) -> np.ndarray:
    params = np.array([[joint[k] for k in laws.JOINT.param_names]])
    x = np.column_stack([np.full_like(d, n), d])
    return laws.predict(params, x)[0]


def _band(entry: dict, n: float, d: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    samples = (entry.get("samples") or {}).get("joint")
    if not samples:
        return None
    draws = np.column_stack([samples[k] for k in laws.JOINT.param_names])
    pred = laws.predict(draws, np.column_stack([np.full_like(d, n), d]))  # (B, points)
    level = (entry["joint"].get("bootstrap") or {}).get("level", 0.9)
    tail = 50.0 * (1.0 - level)
    lo, hi = np.nanpercentile(pred, [tail, 100.0 - tail], axis=0)
    return lo, hi


def _style(ax, title: str, xlabel: str) -> None:
    from matplotlib.ticker import ScalarFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    # Losses span less than a decade: plain numbers read better than 10^x.
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("eval loss")
    ax.legend(fontsize=6.5, loc="upper right")
    ax.grid(True, which="both", alpha=0.25)


def _short(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


# -- markdown ------------------------------------------------------------------------


def render_markdown(fit: dict, table: pd.DataFrame, plots: list[str]) -> str:
    lines = [
        "# Scaling-law fits",
        "",
        "Fits minimise the summed Huber loss (on log-loss) over parameters in "
        "log space; intervals are bootstrap percentiles, resampling runs "
        "within each model size.",
        "",
    ]
    lines += _joint_table(fit) + [""] + _per_size_table(fit) + [""]
    lines += _holdout_table(fit) + [""] + _plan_lines(fit, table) + [""]
    lines += _paper_lines()
    for name in plots:
        lines += ["", f"![{name[:-4]}]({name})"]
    return "\n".join(lines) + "\n"


def _ci(entry: dict, name: str, digits: int = 3) -> str:
    value = entry.get(name)
    if not isinstance(value, float):
        return "-"
    text = f"{value:.{digits}g}"
    ci = (entry.get("ci") or {}).get(name)
    if ci:
        text += f" [{ci[0]:.{digits}g}, {ci[1]:.{digits}g}]"
    return text


def _joint_table(fit: dict) -> list[str]:
    lines = [
        "## Joint fit L(N, D) = E + A N^-alpha + B D^-beta",
        "",
        "| eval set | E | A | alpha | B | beta | points |",
        "|---|---|---|---|---|---|---|",
    ]
    for eval_set, entry in sorted(fit.items()):
        joint = entry.get("joint") or {}
        if "error" in joint or not joint:
            lines.append(
                f"| {eval_set} | not fitted: {joint.get('error', entry.get('error'))}"
                " | | | | | |"
            )
            continue
        cells = " | ".join(_ci(joint, k) for k in laws.JOINT.param_names)
        lines.append(f"| {eval_set} | {cells} | {joint.get('n_points', '-')} |")
    return lines


def _per_size_table(fit: dict) -> list[str]:
    lines = [
        "## Per-size fits L(D) = L_inf + A D^-alpha",
        "",
        "| eval set | N | L_inf | alpha |",
        "|---|---|---|---|",
    ]
    for eval_set, entry in sorted(fit.items()):
        for n, params in sorted(
            (entry.get("per_size") or {}).items(), key=lambda kv: float(kv[0])
        ):
            if "error" in params:
                lines.append(
                    f"| {eval_set} | {_short(float(n))} | not fitted: "
                    f"{params['error']} | |"
                )
            else:
                lines.append(
                    f"| {eval_set} | {_short(float(n))} | "
                    f"{_ci(params, 'L_inf')} | {_ci(params, 'alpha')} |"
                )
    return lines


def _holdout_table(fit: dict) -> list[str]:
    lines = [
        "## Held-out extrapolation (joint law fitted without the held-out points)",
        "",
        "The furthest held-out point (largest N, then largest D) is shown with "
        "its prediction and the bootstrap interval of that prediction.",
        "",
        "| eval set | held out | points | mean abs rel error | furthest point: "
        "loss vs prediction [interval] | its error |",
        "|---|---|---|---|---|---|",
    ]
    for eval_set, entry in sorted(fit.items()):
        for which, check in sorted((entry.get("holdout") or {}).items()):
            label = "largest N" if which == "largest_n" else "largest D per size"
            if "error" in check:
                lines.append(f"| {eval_set} | {label} | not run: {check['error']} |||")
                continue
            furthest = f"{check['final_loss']:.4g} vs {check['final_pred']:.4g}"
            if "final_pred_ci" in check:
                lo, hi = check["final_pred_ci"]
                furthest += f" [{lo:.4g}, {hi:.4g}]"
            lines.append(
                f"| {eval_set} | {label} | {check['n_points']} | "
                f"{check['mean_abs_rel_error']:.2%} | {furthest} | "
                f"{check['final_abs_rel_error']:.2%} |"
            )
    return lines


def _plan_lines(fit: dict, table: pd.DataFrame) -> list[str]:
    if table.empty:
        return []
    relation = next((e.get("compute") for e in fit.values() if e.get("compute")), {})
    k = float(relation.get("flops_per_param_token", 6.0))
    budget = PLAN_BUDGET_MULTIPLE * k * float((table["N"] * table["D"]).max())
    lines = [
        f"## Compute-optimal allocation at C = {budget:.3g} FLOPs "
        f"({PLAN_BUDGET_MULTIPLE:g}x the largest run; {relation.get('source', '')})",
        "",
        "| eval set | N_opt | D_opt | loss |",
        "|---|---|---|---|",
    ]
    for eval_set, entry in sorted(fit.items()):
        try:
            plan = compute_optimal(entry, budget)
        except SynthrecError as exc:  # a failed joint fit: say so in its row
            lines.append(f"| {eval_set} | not planned: {exc} | | |")
            continue
        lines.append(
            f"| {eval_set} | {_ci(plan, 'N')} | {_ci(plan, 'D')} | "
            f"{_ci(plan, 'loss')} |"
        )
    return lines


def _paper_lines() -> list[str]:
    lines = [
        "## The paper's joint fits, for comparison (docs/paper.md)",
        "",
        "| eval set | E | N exponent | D exponent |",
        "|---|---|---|---|",
    ]
    for name, (e, a, b) in PAPER_JOINT.items():
        lines.append(f"| {name} | {e} | {a} | {b} |")
    return lines
