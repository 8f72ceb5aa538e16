"""The main job end to end on real MovieLens data (the smoke preset)."""

import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, data_home

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, movielens_small_dir):
    out = tmp_path_factory.mktemp("smoke")
    env = {**os.environ, "SYNTHREC_DATA_HOME": str(data_home())}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "synthrec",
            "run",
            "sweeps/smoke.yaml",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out, result.stdout


def _get(summary: dict, path: str):
    node = summary
    for part in path.split("."):
        node = node[part]
    return node


def test_the_summary_holds_sasrec_metrics_for_real_and_synthetic_training(smoke_run):
    out, _ = smoke_run
    summary = json.loads((out / "summary.json").read_text())
    for path in (
        "sasrec.real.recall@100",
        "sasrec.synthetic.recall@100",
        "sasrec.real.ndcg@10",
        "sasrec.synthetic.ndcg@10",
    ):
        value = _get(summary, path)
        assert 0.0 <= value <= 1.0, path


def test_the_summary_holds_joint_and_per_size_fits_for_every_eval_set(smoke_run):
    out, _ = smoke_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fits"], "no evaluation set was fitted"
    fitted = 0
    for eval_set, fit in summary["fits"].items():
        if "joint" not in fit:
            continue
        fitted += 1
        for name in ("E", "A", "alpha", "B", "beta"):
            assert math.isfinite(fit["joint"][name]), f"{eval_set}.joint.{name}"
        assert len(fit["per_size"]) >= 3, eval_set
        assert all(math.isfinite(v["alpha"]) for v in fit["per_size"].values())
    assert fitted >= 1


def test_the_summary_times_every_stage_and_the_table_is_printed(smoke_run):
    out, stdout = smoke_run
    summary = json.loads((out / "summary.json").read_text())
    for stage in ("data", "sids", "synth", "sasrec", "sweep", "fit"):
        assert summary["timings"][f"{stage}_s"] >= 0
    assert "recall@100" in stdout and "Scaling fits" in stdout


def test_every_trial_curve_is_in_mlflow_under_one_sweep(smoke_run):
    from mlflow.tracking import MlflowClient

    out, _ = smoke_run
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=1000
    )
    trial_runs = [r for r in runs if any(k.startswith("eval/") for k in r.data.metrics)]
    assert len(trial_runs) >= 3
    assert all("mlflow.parentRunId" in r.data.tags for r in trial_runs)
    history = client.get_metric_history(
        trial_runs[0].info.run_id,
        next(k for k in trial_runs[0].data.metrics if k.startswith("eval/")),
    )
    steps = [m.step for m in history]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    assert (out / "fits" / "report.md").is_file()
    assert list((out / "fits").glob("*.png"))
