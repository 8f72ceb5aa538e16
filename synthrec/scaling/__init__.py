"""Scaling-law fits of loss curves, self-checks, compute-optimal plans, reports."""

from synthrec.scaling.config import ScalingConfig
from synthrec.scaling.fit import fit_curves
from synthrec.scaling.inputs import load_curves_from_mlflow
from synthrec.scaling.laws import JOINT, PER_SIZE, fit_lbfgs, fit_varpro, make_problem
from synthrec.scaling.plan import compute_optimal
from synthrec.scaling.report import write_report

__all__ = [
    "JOINT",
    "PER_SIZE",
    "ScalingConfig",
    "compute_optimal",
    "fit_curves",
    "fit_lbfgs",
    "fit_varpro",
    "load_curves_from_mlflow",
    "make_problem",
    "write_report",
]
