"""`synthrec fit`, `synthrec report` and `synthrec plan`."""

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from synthrec.configtools import from_dict
from synthrec.errors import SynthrecError
from synthrec.io import read_json, write_json
from synthrec.scaling.config import ScalingConfig

log = logging.getLogger(__name__)

FITS_DIR = "fits"


def register(subparsers: argparse._SubParsersAction) -> None:
    fit = subparsers.add_parser(
        "fit",
        help="fit scaling laws to a curves table or a run's sweep",
        description="Fit L(D) per size, L(N) and the joint L(N, D) per eval set, "
        "with bootstrap intervals and held-out checks; writes OUT/fit.json.",
    )
    source = fit.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--table", type=Path, help="CSV or Parquet with columns N, D, eval_set, loss"
    )
    source.add_argument(
        "--run",
        type=Path,
        metavar="RUN_DIR",
        help="a run folder (reads sweep/curves.parquet or mlflow.db)",
    )
    fit.add_argument("--out", type=Path, help="output folder (default RUN_DIR/fits)")
    fit.add_argument(
        "--config", type=Path, help="a run config YAML whose `scaling:` section to use"
    )
    fit.add_argument(
        "--holdout-largest-n",
        action="store_true",
        help="report the error predicting the largest N (and largest D) "
        "from a fit without it",
    )
    fit.add_argument("--num-bootstrap", type=int, help="bootstrap resamples")
    fit.add_argument("--method", choices=("lbfgs", "varpro"), help="solver")
    fit.add_argument(
        "--report",
        action="store_true",
        help="also write report.md and the plots into OUT",
    )
    fit.set_defaults(func=run_fit)

    report = subparsers.add_parser(
        "report",
        help="write the fit report (plots, report.md) of a run",
        description="Reads RUN_DIR/fits/fit.json (fitting first if missing) and "
        "the run's curves; writes plots and report.md beside fit.json.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.set_defaults(func=run_report)

    plan = subparsers.add_parser(
        "plan", help="compute-optimal model size and tokens for a FLOPs budget"
    )
    plan.add_argument("--budget-flops", type=float, required=True)
    plan.add_argument("--fit", type=Path, required=True, help="a fit.json")
    plan.add_argument("--eval-set", help="only this eval set")
    plan.set_defaults(func=run_plan)


# -- fit -------------------------------------------------------------------------


def run_fit(args: argparse.Namespace) -> int:
    from synthrec.scaling.fit import fit_curves
    from synthrec.scaling.inputs import curves_for_run, read_table

    cfg = scaling_config(args.config, args.run)
    overrides = {"num_bootstrap": args.num_bootstrap, "method": args.method}
    if args.holdout_largest_n:
        overrides["holdout"] = True
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    cfg.validate()
    if args.table is not None:
        if args.out is None:
            raise SynthrecError("--table needs --out DIR for fit.json")
        curves, out_dir = read_table(args.table), args.out
    else:
        curves = curves_for_run(args.run, _experiment(args.run))
        out_dir = args.out or args.run / FITS_DIR

    fit = fit_curves(curves, cfg)
    write_json(out_dir / "fit.json", fit)
    print(format_fit(fit))
    print(f"wrote {out_dir / 'fit.json'}")
    if args.report:
        from synthrec.scaling.report import write_report
        from synthrec.tracking import Tracker

        print(f"wrote {write_report(fit, curves, out_dir, Tracker.disabled())}")
    if not any("alpha" in (entry.get("joint") or {}) for entry in fit.values()):
        print(
            "synthrec: error: no evaluation set could be fitted (reasons above)",
            file=sys.stderr,
        )
        return 1
    return 0


def scaling_config(config: Path | None, run_dir: Path | None) -> ScalingConfig:
    """The `scaling:` section of a YAML config, else of the run's config.json."""
    if config is not None:
        from synthrec.config import load_config

        return load_config(config).scaling
    if run_dir is not None and (run_dir / "config.json").is_file():
        section = read_json(run_dir / "config.json").get("scaling")
        return from_dict(ScalingConfig, section or {}, "scaling")
    return ScalingConfig()


def _experiment(run_dir: Path) -> str:
    config = run_dir / "config.json"
    if config.is_file():
        return (read_json(config).get("tracking") or {}).get(
            "experiment_name", "synthrec"
        )
    return "synthrec"


def format_fit(fit: dict) -> str:
    """Per eval set: exponents with intervals and the held-out errors."""
    lines = [
        f"{'eval set':<18}{'alpha (N)':>24}{'beta (D)':>24}"
        f"{'held-out N':>12}{'held-out D':>12}"
    ]
    for eval_set, entry in sorted(fit.items()):
        joint = entry.get("joint") or {}
        if "alpha" not in joint:
            lines.append(
                f"{eval_set:<18}  not fitted: {joint.get('error', entry.get('error'))}"
            )
            continue
        holdout = entry.get("holdout") or {}
        lines.append(
            f"{eval_set:<18}{_with_ci(joint, 'alpha'):>24}{_with_ci(joint, 'beta'):>24}"
            f"{_error(holdout.get('largest_n')):>12}{_error(holdout.get('largest_d')):>12}"
        )
    lines.append(
        "held-out: mean absolute relative error of the joint law fitted "
        "without the largest N / each size's largest D"
    )
    return "\n".join(lines)


def _with_ci(entry: dict, name: str) -> str:
    ci = (entry.get("ci") or {}).get(name)
    text = f"{entry[name]:.4f}"
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else text


def _error(check: dict | None) -> str:
    if not check or "mean_abs_rel_error" not in check:
        return "-"
    return f"{check['mean_abs_rel_error']:.2%}"


# -- report, plan -------------------------------------------------------------------


def run_report(args: argparse.Namespace) -> int:
    from synthrec.scaling.fit import fit_curves
    from synthrec.scaling.inputs import curves_for_run
    from synthrec.scaling.report import write_report
    from synthrec.tracking import Tracker

    run_dir = args.run_dir
    if not run_dir.is_dir():
        raise SynthrecError(f"run folder not found: {run_dir}")
    experiment = _experiment(run_dir)
    curves = curves_for_run(run_dir, experiment)
    fit_path = run_dir / FITS_DIR / "fit.json"
    if fit_path.is_file():
        fit = read_json(fit_path)
    else:
        log.info("%s not found; fitting first", fit_path)
        fit = fit_curves(curves, scaling_config(None, run_dir))
        write_json(fit_path, fit)

    tracker = Tracker.disabled()
    if (run_dir / "mlflow.db").is_file():
        root = Tracker(f"sqlite:///{(run_dir / 'mlflow.db').resolve()}", experiment)
        tracker = root.start_run("fit", tags={"synthrec.stage": "fit"})
    report = write_report(fit, curves, run_dir / FITS_DIR, tracker)
    tracker.end_run()
    print(f"wrote {report}")
    return 0


def run_plan(args: argparse.Namespace) -> int:
    from synthrec.scaling.plan import compute_optimal

    if not args.budget_flops > 0:
        raise SynthrecError(f"--budget-flops must be positive, got {args.budget_flops}")
    if not args.fit.is_file():
        raise SynthrecError(f"fit file not found: {args.fit}")
    fit = read_json(args.fit)
    names = [args.eval_set] if args.eval_set else sorted(fit)
    unknown = [n for n in names if n not in fit]
    if unknown:
        raise SynthrecError(
            f"eval set {unknown[0]!r} not in {args.fit}; "
            f"it has {', '.join(sorted(fit))}"
        )
    print(f"compute-optimal allocation at C = {args.budget_flops:.3g} FLOPs")
    print(f"{'eval set':<18}{'N_opt':>30}{'D_opt':>30}{'loss':>26}")
    planned = 0
    for name in names:
        try:
            plan = compute_optimal(fit[name], args.budget_flops)
        except SynthrecError as exc:  # one eval set without a joint fit
            print(f"{name:<18}  not planned: {exc}")
            continue
        planned += 1
        ci = plan.get("ci", {})
        cells = [_plan_cell(plan[k], ci.get(k)) for k in ("N", "D", "loss")]
        reach = _reach(plan, fit[name])
        print(f"{name:<18}{cells[0]:>30}{cells[1]:>30}{cells[2]:>26}{reach}")
    source = next((fit[n].get("compute", {}).get("source") for n in names), None)
    print(f"FLOPs relation: {source or 'assumed C = 6 N D'}")
    if not planned:
        print(
            "synthrec: error: no evaluation set has a joint fit to plan from",
            file=sys.stderr,
        )
        return 1
    return 0


def _reach(plan: dict, entry: dict) -> str:
    # How far past the fitted data the plan extrapolates.
    if not entry.get("N_max") or not entry.get("D_max"):
        return ""
    n_x, d_x = plan["N"] / entry["N_max"], plan["D"] / entry["D_max"]
    return f"  ({n_x:.3g}x largest N, {d_x:.3g}x largest D fitted)"


def _plan_cell(value: float, ci: list[float] | None) -> str:
    return f"{value:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else f"{value:.3g}"
