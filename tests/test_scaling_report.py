"""Scaling outputs: the report, MLflow input and logging, and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from synthrec.cli import main
from synthrec.scaling import ScalingConfig, fit_curves, laws, load_curves_from_mlflow
from synthrec.scaling.inputs import curves_for_run
from synthrec.scaling.report import write_report
from synthrec.tracking import Tracker

TRUTH = np.array([[0.5, 40.0, 0.3, 300.0, 0.35]])
SIZES = (1e5, 1e6, 1e7, 1e8)
TOKENS = tuple(float(2**k) for k in range(17, 27))


def sweep_table(
    mixtures=("all",), noise: float = 0.005, sizes=SIZES, eval_sets=("uih_ood",)
) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for mixture in mixtures:
        shift = 1.0 if mixture == "all" else 1.08
        for n in sizes:
            for seed in (0, 1):
                for d in TOKENS:
                    loss = laws.predict(TRUTH, np.array([[n, d]]))[0, 0] * shift
                    for eval_set in eval_sets:
                        rows.append(
                            {
                                "trial_id": f"{mixture}-{n:.0f}-{seed}",
                                "model": f"m{n:.0e}",
                                "N": n,
                                "D": d,
                                "eval_set": eval_set,
                                "seed": seed,
                                "loss": loss * (1 + noise * rng.standard_normal()),
                                "kind": "trunk",
                                "mixture": mixture,
                                "flops_per_token": 6.0 * n,
                            }
                        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fitted():
    table = sweep_table(mixtures=("all", "uih_only"))
    return table, fit_curves(table, ScalingConfig(num_bootstrap=30, num_starts=2))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder whose MLflow database the tests below share."""
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def mlflow_uri(run_dir):
    return f"sqlite:///{run_dir / 'mlflow.db'}"


@pytest.fixture(scope="module")
def reported(fitted, mlflow_uri, tmp_path_factory):
    """One report, written once, logged to a real MLflow run."""
    table, fit = fitted
    out = tmp_path_factory.mktemp("report")
    tracker = Tracker(mlflow_uri, "report-test").start_run("fit")
    report = write_report(fit, table, out, tracker)
    tracker.end_run()
    return report, tracker.run_id


def test_report_writes_fit_json_plots_and_markdown_that_embeds_them(fitted, reported):
    _, fit = fitted
    report, _ = reported
    text = report.read_text()
    for png in (
        "loss_vs_tokens.png",
        "joint_fit.png",
        "extrapolation.png",
        "mixtures.png",
    ):
        assert (report.parent / png).stat().st_size > 10_000
        assert f"]({png})" in text
    saved = json.loads((report.parent / "fit.json").read_text())
    assert saved["uih_ood"]["joint"]["alpha"] == fit["uih_ood"]["joint"]["alpha"]
    assert "Held-out extrapolation" in text and "Compute-optimal" in text


def test_report_logs_its_files_to_the_given_mlflow_run(reported, mlflow_uri):
    from mlflow.tracking import MlflowClient

    _, run_id = reported
    names = {a.path for a in MlflowClient(mlflow_uri).list_artifacts(run_id)}
    assert {"fit.json", "report.md", "joint_fit.png"} <= names


def test_a_mixture_ablation_gets_per_mixture_fits_and_the_main_fit_uses_one(fitted):
    _, fit = fitted
    entry = fit["uih_ood"]
    assert entry["mixture"] == "all"
    assert set(entry["mixtures"]) == {"all", "uih_only"}
    # The main fit saw only the "all" mixture, so it recovers the true E.
    assert entry["joint"]["E"] == pytest.approx(0.5, rel=0.1)
    assert "flops_per_token" in entry["compute"]["source"]


def test_curves_logged_to_mlflow_come_back_as_the_same_table(mlflow_uri, run_dir):
    table = sweep_table()
    root = Tracker(mlflow_uri, "sweep-test")
    parent = root.start_run("sweep")
    for trial_id, runs in table.groupby("trial_id"):
        child = root.start_run(trial_id, parent_run_id=parent.run_id)
        child.log_params(
            {
                "N": int(runs["N"].iloc[0]),
                "seed": int(runs["seed"].iloc[0]),
                "model": runs["model"].iloc[0],
            }
        )
        for d, at_d in runs.groupby("D"):
            child.log_metrics(
                {
                    f"eval/{e}/loss": v
                    for e, v in zip(at_d["eval_set"], at_d["loss"], strict=True)
                },
                step=int(d),
            )
        child.end_run()
    root.start_run("unrelated").end_run()

    loaded = load_curves_from_mlflow(mlflow_uri, "sweep-test", parent.run_id)
    key = ["trial_id", "eval_set", "D"]
    expected = table.sort_values(key).reset_index(drop=True)
    loaded = loaded.sort_values(key).reset_index(drop=True)
    assert list(loaded["trial_id"]) == list(expected["trial_id"])
    np.testing.assert_allclose(loaded["loss"], expected["loss"])
    np.testing.assert_array_equal(loaded["N"], expected["N"])
    assert set(loaded["kind"]) == {"trunk"} and loaded["seed"].dtype.kind == "i"

    # A run folder without curves.parquet falls back to its sweep's MLflow runs.
    (run_dir / "sweep").mkdir()
    (run_dir / "sweep" / "state.json").write_text(
        json.dumps({"parent_run_id": parent.run_id})
    )
    from_run = curves_for_run(run_dir, "sweep-test").sort_values(key)
    np.testing.assert_allclose(from_run["loss"], expected["loss"])


def test_cli_fit_on_a_csv_table_writes_fit_json_and_prints_exponents(tmp_path, capsys):
    csv = tmp_path / "curves.csv"
    table = sweep_table(sizes=SIZES[1:])
    table[["N", "D", "eval_set", "loss", "trial_id"]].to_csv(csv, index=False)
    out = tmp_path / "fits"
    rc = main(
        [
            "fit",
            "--table",
            str(csv),
            "--out",
            str(out),
            "--holdout-largest-n",
            "--num-bootstrap",
            "20",
        ]
    )
    assert rc == 0
    fit = json.loads((out / "fit.json").read_text())
    assert set(fit["uih_ood"]["joint"]["ci"]) == {"E", "A", "alpha", "B", "beta"}
    printed = capsys.readouterr().out
    assert "uih_ood" in printed and "held-out" in printed and "%" in printed

    rc = main(["plan", "--budget-flops", "1e21", "--fit", str(out / "fit.json")])
    assert rc == 0
    assert "N_opt" in capsys.readouterr().out


def test_cli_fit_of_a_missing_table_ends_with_a_one_line_error(tmp_path, capsys):
    rc = main(["fit", "--table", str(tmp_path / "nope.csv"), "--out", str(tmp_path)])
    assert rc == 2
    assert "curves table not found" in capsys.readouterr().err


def test_cli_report_fits_and_reports_a_run_folder(tmp_path, capsys):
    (tmp_path / "sweep").mkdir()
    sweep_table().to_parquet(tmp_path / "sweep" / "curves.parquet")
    (tmp_path / "config.json").write_text(
        json.dumps({"scaling": {"num_bootstrap": 10}})
    )
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "fits" / "fit.json").is_file()
    assert (tmp_path / "fits" / "report.md").is_file()
