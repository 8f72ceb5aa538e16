"""`synthrec sasrec` on real MovieLens, its MLflow metrics, and the benchmark."""

import json

import pytest

from tests.conftest import data_home

TINY_RUN = """\
name: sasrec-cli
seed: 0
data: {dataset: ml-latest-small, max_users: 40}
synth:
  walks: {walk_length: 8, walks_per_node: 1}
sasrec:
  hidden_size: 16
  num_blocks: 1
  max_seq_len: 20
  num_negatives: 32
  batch_size: 32
  max_train_steps: 6
  eval_every_steps: 3
"""


def _synthrec(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (a fresh interpreter costs tens of seconds
    of imports on a loaded 2-core machine)."""
    from synthrec.cli import main

    monkeypatch.setenv("SYNTHREC_DATA_HOME", str(data_home()))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.integration
@pytest.mark.slow  # real data + MLflow: ~70 s on the loaded 2-core machine
def test_the_sasrec_command_prints_the_table_and_logs_namespaced_metrics(
    movielens_small_dir, tmp_path, monkeypatch, capsys
):
    config = tmp_path / "run.yaml"
    config.write_text(TINY_RUN)
    code, out, err = _synthrec(
        monkeypatch,
        capsys,
        "sasrec",
        str(config),
        "--out",
        str(tmp_path / "run"),
        "--num-seeds",
        "2",
    )
    assert code == 0, err[-2000:]
    assert "synthetic/real" in out
    assert "seeds [0, 1]" in out

    summary = json.loads((tmp_path / "run" / "sasrec" / "summary.json").read_text())
    assert summary["num_test_users"] == 40
    assert {"recall@100", "recall@100_std", "ndcg@10"} <= set(summary["synthetic"])

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'run' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("synthrec")
    (run,) = client.search_runs([experiment.experiment_id])
    metrics = run.data.metrics
    assert metrics["sasrec/real/recall_at_100"] == pytest.approx(
        summary["real"]["recall@100"]
    )
    assert "sasrec/synthetic/ndcg_at_10_std" in metrics


def test_a_bad_sasrec_config_value_is_one_line_and_exit_2(
    tmp_path, monkeypatch, capsys
):
    config = tmp_path / "run.yaml"
    config.write_text("sasrec:\n  loss: softmax\n")
    code, _, err = _synthrec(
        monkeypatch, capsys, "sasrec", str(config), "--out", str(tmp_path / "run")
    )
    assert code == 2
    assert "sasrec.loss='softmax' is invalid" in err
    assert "Traceback" not in err


def test_the_benchmark_reports_both_baselines(capsys):
    from synthrec.bench.sasrec import main

    code = main(
        [
            "--device",
            "cpu",
            "--threads",
            "1",
            "--num-items",
            "300",
            "--num-users",
            "16",
            "--seq-len",
            "8",
            "--batch-size",
            "8",
            "--steps",
            "2",
            "--eval-users",
            "8",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "vs full_ce" in out and "vs unbatched" in out
    assert "sampled_softmax" in out and "batched (8 users)" in out
