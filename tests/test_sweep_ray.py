"""Sweeps on a real local Ray: real `lm.run_trial` trials on a tiny corpus."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from synthrec.config import load_config
from synthrec.sweep.records import CURVE_COLUMNS
from synthrec.sweep.tinycorpus import TINY_LM, TINY_MODEL_SIZES

TINY_SPEC = {
    "name": "tiny-sweep",
    "lm": TINY_LM,
    "sweep": {
        "model_sizes": TINY_MODEL_SIZES,
        "token_budgets": [256, 512],
        "max_concurrent_trials": 1,
    },
}

# Runs one sweep in its own process with its own private Ray (argv: spec, out).
SWEEP_SCRIPT = """
import sys
from pathlib import Path
from synthrec.config import load_config
from synthrec.logs import setup_logging
from synthrec.raylocal import init_ray, shutdown_ray
from synthrec.sweep import run_sweep
from synthrec.tracking import Tracker

setup_logging()
cfg = load_config(sys.argv[1])
out = Path(sys.argv[2])
init_ray(cfg.ray, out)
try:
    run_sweep(cfg, out / "corpus", out / "tokenizer", out, Tracker.disabled())
finally:
    shutdown_ray()
"""


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory):
    from synthrec.sweep.tinycorpus import write_tiny_corpus

    return write_tiny_corpus(tmp_path_factory.mktemp("tiny"))


def _write_spec(path: Path, **sweep) -> Path:
    spec = json.loads(json.dumps(TINY_SPEC))
    spec["sweep"].update(sweep)
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
@pytest.mark.integration
def test_sweep_runs_every_trial_and_logs_a_child_run_per_trial(
    ray_local, tiny_inputs, tmp_path
):
    from mlflow.tracking import MlflowClient

    from synthrec.sweep import run_sweep
    from synthrec.tracking import Tracker

    cfg = load_config(_write_spec(tmp_path / "spec.yaml"))
    corpus, tokenizer = tiny_inputs
    tracker = Tracker.from_config(cfg.tracking, tmp_path)
    curves = run_sweep(cfg, corpus, tokenizer, tmp_path, tracker)

    # The contract table, on disk and returned, with every trial and eval set.
    assert list(curves.columns) == CURVE_COLUMNS
    assert curves["trial_id"].nunique() == 4
    assert set(curves["eval_set"]) == {"item_text", "cf_seen_pair", "uih_ood"}
    on_disk = pd.read_parquet(tmp_path / "sweep" / "curves.parquet")
    pd.testing.assert_frame_equal(on_disk, curves)
    assert (tmp_path / "sweep" / "curves.csv").is_file()
    assert (tmp_path / "sweep" / "curves.png").stat().st_size > 0
    # Bigger models have more non-embedding parameters, and every D is in budget.
    n = curves.groupby("model")["N"].first()
    assert n["b"] > n["a"]
    assert (curves["D"] <= curves["num_tokens"]).all()

    # MLflow: one parent "sweep" run, one child per trial, tagged by the sweep.
    client = MlflowClient(tracker.uri)
    exp = client.get_experiment_by_name(cfg.tracking.experiment_name)
    runs = client.search_runs([exp.experiment_id])
    parent = [r for r in runs if r.info.run_name == "sweep"]
    assert len(parent) == 1 and parent[0].info.status == "FINISHED"
    children = [
        r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id
    ]
    assert len(children) == 4
    assert {c.data.tags["synthrec.trial_id"] for c in children} == set(
        curves["trial_id"]
    )


@pytest.mark.slow
@pytest.mark.integration
def test_interrupted_sweep_resumes_without_running_a_finished_trial_twice(
    tiny_inputs, tmp_path
):
    corpus, tokenizer = tiny_inputs
    out = tmp_path / "run"
    out.mkdir()
    (out / "corpus").symlink_to(corpus)
    (out / "tokenizer").symlink_to(tokenizer)
    spec = _write_spec(tmp_path / "spec.yaml", token_budgets=[512, 1024, 2048])
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP_SCRIPT)
    records = out / "sweep" / "trials"

    # First run: interrupt it (Ctrl-C) as soon as one trial has finished.
    proc = subprocess.Popen([sys.executable, str(script), str(spec), str(out)])
    try:
        _wait_for(lambda: len(list(records.glob("*/record.json"))) >= 1, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first = {p.parent.name: p.read_bytes() for p in records.glob("*/record.json")}
    assert 1 <= len(first) < 6, "the interruption must land mid-sweep"

    # Resume: Tune schedules exactly the unfinished trials; finished records stay.
    subprocess.run(
        [sys.executable, str(script), str(spec), str(out)], check=True, timeout=300
    )
    all_ids = {
        p["trial_id"] for p in json.loads((out / "sweep" / "plan.json").read_text())
    }
    second = out / "sweep" / "tune" / "attempt-2"
    rescheduled = {p.name for p in second.iterdir() if p.is_dir() and p.name in all_ids}
    assert rescheduled == all_ids - set(first)
    for tid, data in first.items():
        assert (records / tid / "record.json").read_bytes() == data
    curves = pd.read_parquet(out / "sweep" / "curves.parquet")
    assert set(curves["trial_id"]) == all_ids


def _wait_for(condition, proc: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the sweep exited early with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("no trial finished in time")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.integration
def test_ui_serves_a_runs_mlflow_database_on_loopback_only(tmp_path):
    import socket
    import urllib.request

    from synthrec.sweep.ui import start_ui, stop_ui
    from synthrec.tracking import Tracker, TrackingConfig

    tracker = Tracker.from_config(TrackingConfig(experiment_name="ui"), tmp_path)
    tracker.start_run("sweep").end_run()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    proc = start_ui(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
        with urllib.request.urlopen(f"{url}?experiment_name=ui", timeout=10) as resp:
            assert json.loads(resp.read())["experiment"]["name"] == "ui"
        listening = [c for c in _connections(proc.pid) if c.laddr.port == port]
        assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)
    finally:
        stop_ui(proc)
    assert proc.poll() is not None


def _connections(pid: int) -> list:
    import psutil

    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    return [
        c
        for p in procs
        for c in p.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    ]
