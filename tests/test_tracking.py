"""MLflow tracking: runs nest, losses keep their token step, outages never kill work."""

import logging

from synthrec.tracking import Tracker, TrackingConfig


def test_child_runs_hold_params_and_metrics_at_their_token_steps(tmp_path):
    from mlflow.tracking import MlflowClient

    root = Tracker.from_config(TrackingConfig(experiment_name="t"), tmp_path)
    parent = root.start_run("sweep")
    child = parent.start_run("trial-1", parent_run_id=parent.run_id)
    child.log_params({"N": 1234, "seed": 0})
    for tokens, loss in [(1024, 3.0), (2048, 2.5)]:
        child.log_metrics({"eval/uih_ood/loss": loss}, step=tokens)
    child.end_run()
    parent.end_run()

    client = MlflowClient(tracking_uri=root.uri)
    history = client.get_metric_history(child.run_id, "eval/uih_ood/loss")
    assert [(m.step, m.value) for m in history] == [(1024, 3.0), (2048, 2.5)]
    run = client.get_run(child.run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.run_id
    assert run.data.params["N"] == "1234"
    assert (tmp_path / "mlflow.db").is_file()


def test_an_unreachable_tracking_server_warns_once_and_work_goes_on(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cfg = TrackingConfig(tracking_uri=f"sqlite:///{blocker}/mlflow.db")
    with caplog.at_level(logging.WARNING, logger="synthrec.tracking"):
        tracker = Tracker.from_config(cfg, tmp_path).start_run("r")
        tracker.log_metrics({"train/loss": 1.0}, step=1)
        tracker.end_run()
    assert not tracker.active
    assert sum("MLflow" in r.message for r in caplog.records) >= 1


def test_a_disabled_tracker_records_nothing_and_raises_nothing():
    tracker = Tracker.disabled().start_run("r")
    tracker.log_params({"a": 1})
    tracker.log_metric("x", 1.0, step=3)
    tracker.end_run()
    assert not tracker.active


def test_artifacts_land_beside_the_database_not_in_the_working_directory(
    tmp_path, monkeypatch
):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run_dir = tmp_path / "run"
    note = tmp_path / "note.txt"
    note.write_text("hello")

    tracker = Tracker.from_config(TrackingConfig(), run_dir).start_run("r")
    tracker.log_artifact(note)
    tracker.end_run()

    assert (run_dir / "mlartifacts").is_dir()
    assert list((run_dir / "mlartifacts").rglob("note.txt"))
    assert not (elsewhere / "mlruns").exists()
