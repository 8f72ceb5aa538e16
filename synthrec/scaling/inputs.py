"""Curves tables from files, from a run folder, or back from MLflow.

Each child run of a sweep logs `eval/<eval_set>/loss` (and, for cooldown
branches, `cooldown/<eval_set>/loss`) with step = tokens seen, and params
naming its model size (`N` or `N_non_embedding`). One row per (run, eval set,
step) comes out, in the same columns as curves.parquet; MLflow cannot tell a
mid-run read from the annealed end of a run, so `eval/` points get kind
`trunk` and `cooldown/` points kind `cooldown`.
"""

import logging
from pathlib import Path

import pandas as pd

from synthrec.errors import SynthrecError
from synthrec.io import read_json

log = logging.getLogger(__name__)

_LOSS_PREFIXES = {"eval/": "trunk", "cooldown/": "cooldown"}
_LOSS_SUFFIX = "/loss"
SWEEP_CURVES = Path("sweep") / "curves.parquet"
SWEEP_STATE = Path("sweep") / "state.json"
_N_PARAMS = ("N_non_embedding", "N", "non_embedding_params")
_COPIED_PARAMS = ("model", "mixture", "seed", "N_total", "flops_per_token")


def read_table(path: str | Path) -> pd.DataFrame:
    """A curves table from CSV or Parquet (chosen by the file suffix)."""
    path = Path(path)
    if not path.is_file():
        raise SynthrecError(f"curves table not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise SynthrecError(
            f"{path}: unknown table format {suffix!r}; use .csv or .parquet"
        )
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:  # empty, binary, corrupt
        raise SynthrecError(f"{path}: cannot read the curves table ({exc})") from None


def curves_for_run(run_dir: str | Path, experiment: str = "synthrec") -> pd.DataFrame:
    """A run's curves: RUN/sweep/curves.parquet, else its MLflow database."""
    run_dir = Path(run_dir)
    table = run_dir / SWEEP_CURVES
    if table.is_file():
        return read_table(table)
    db = run_dir / "mlflow.db"
    if db.is_file():
        # The sweep records its MLflow parent run; its trials are the children.
        state = run_dir / SWEEP_STATE
        parent = read_json(state).get("parent_run_id") if state.is_file() else None
        log.info(
            "%s not found; reading curves from %s (sweep run %s)",
            table,
            db,
            parent or "any",
        )
        return load_curves_from_mlflow(f"sqlite:///{db.resolve()}", experiment, parent)
    raise SynthrecError(
        f"{run_dir} has neither {SWEEP_CURVES} nor mlflow.db; "
        "run the sweep first (synthrec sweep run) or pass --table"
    )


def load_curves_from_mlflow(
    tracking_uri: str, experiment: str, parent_run_id: str | None = None
) -> pd.DataFrame:
    """Curves of every run in `experiment` (only children of `parent_run_id`)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SynthrecError(
            f"MLflow experiment {experiment!r} not found at {tracking_uri}"
        )
    query = f"tags.mlflow.parentRunId = '{parent_run_id}'" if parent_run_id else ""
    runs = client.search_runs(
        [exp.experiment_id], filter_string=query, max_results=50000
    )

    rows = []
    for run in runs:
        rows += _run_rows(client, run)
    if not rows:
        where = f" under parent run {parent_run_id}" if parent_run_id else ""
        raise SynthrecError(
            f"no run in experiment {experiment!r}{where} logged "
            "eval/<eval_set>/loss with a model size param N"
        )
    curves = pd.DataFrame(rows)
    log.info(
        "read %d curve points from %d MLflow run(s)",
        len(curves),
        curves["run_id"].nunique(),
    )
    order = ["run_id", "eval_set", "kind", "D"]
    return curves.sort_values(order, kind="stable").reset_index(drop=True)


def _run_rows(client, run) -> list[dict]:
    params = run.data.params
    n_key = next((k for k in _N_PARAMS if k in params), None)
    keys = [
        (k, prefix)
        for k in run.data.metrics
        for prefix in _LOSS_PREFIXES
        if k.startswith(prefix) and k.endswith(_LOSS_SUFFIX)
    ]
    if n_key is None or not keys:
        return []
    trial_id = params.get("trial_id") or run.info.run_name or run.info.run_id
    base = {"run_id": run.info.run_id, "trial_id": trial_id, "N": float(params[n_key])}
    for name in _COPIED_PARAMS:
        if name in params:
            base[name] = _number_or_text(params[name])

    rows = []
    for key, prefix in sorted(keys):
        eval_set = key[len(prefix) : -len(_LOSS_SUFFIX)]
        for metric in client.get_metric_history(run.info.run_id, key):
            if metric.step > 0:  # step 0 is "before training", not a data size
                rows.append(
                    {
                        **base,
                        "eval_set": eval_set,
                        "D": float(metric.step),
                        "kind": _LOSS_PREFIXES[prefix],
                        "loss": float(metric.value),
                    }
                )
    return rows


def _number_or_text(value: str) -> float | int | str:
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number
