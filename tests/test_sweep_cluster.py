"""Clusters: the `ray up` YAML checked by Ray's own validation, and `ray job submit`.

The job-submit test starts a real Ray head with `ray start --head` on
127.0.0.1 (token file and session folder inside a temporary folder, free
ports), submits a tiny sweep with `ray job submit --working-dir`, and stops
that head by the process ids of its own processes, never with `ray stop`.
"""

import contextlib
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from synthrec.raylocal import loopback_env

REPO = Path(__file__).resolve().parents[1]
GPU_YAML = REPO / "cluster" / "gpu.yaml"
RAY = Path(sys.executable).with_name("ray")
# What `--working-dir .` must leave behind (uploads are capped at 100 MiB).
UPLOAD_EXCLUDES = [
    ".git",
    ".venv",
    "runs",
    "data",
    ".cache",
    "mlruns",
    "*.db",
    ".pytest_cache",
    ".ruff_cache",
    "**/__pycache__",
]


def _validated(config: dict) -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


# -- cluster YAML ------------------------------------------------------------------


def test_gpu_cluster_yaml_passes_rays_own_validation():
    prepared = _validated(yaml.safe_load(GPU_YAML.read_text()))
    assert prepared["docker"]["image"] == "rayproject/ray:2.60.0-py311-gpu"
    workers = prepared["available_node_types"]
    assert workers["h100"]["node_config"]["InstanceType"] == "p5.48xlarge"


def test_rays_validation_rejects_a_broken_cluster_yaml():
    import jsonschema

    broken = yaml.safe_load(GPU_YAML.read_text())
    broken["available_node_types"]["h100"]["min_workers"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        _validated(broken)


def test_cluster_setup_installs_synthrec_and_serves_mlflow_on_the_head():
    config = yaml.safe_load(GPU_YAML.read_text())
    setup = " ".join(config["setup_commands"])
    assert "-c /home/ray/synthrec/constraints.txt -e /home/ray/synthrec" in setup
    head = " ".join(config["head_start_ray_commands"])
    assert "mlflow server" in head and "--port 5000" in head
    assert {".git", ".venv", "data"} <= set(config["rsync_exclude"])


# -- ray job submit -----------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start_head(temp_dir: Path, env: dict[str, str]) -> int:
    """`ray start --head` on 127.0.0.1 with free ports; returns the dashboard port."""
    gcs, dash, client, agent, agent_grpc, metrics, runtime_env, nm, om = _free_ports(9)
    subprocess.run(
        [
            str(RAY),
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={gcs}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
            f"--ray-client-server-port={client}",
            f"--dashboard-agent-listen-port={agent}",
            f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--metrics-export-port={metrics}",
            f"--runtime-env-agent-port={runtime_env}",
            f"--node-manager-port={nm}",
            f"--object-manager-port={om}",
            "--num-cpus=2",
            "--num-gpus=0",
            "--object-store-memory=200000000",
            f"--temp-dir={temp_dir}",
            "--disable-usage-stats",
        ],
        env=env,
        check=True,
        timeout=180,
        capture_output=True,
    )
    return dash


def _stop_head(temp_dir: Path) -> None:
    """Stop the processes of our head only: those whose command line names our
    private session folder, and their children, by process id."""
    import psutil

    ours = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(temp_dir) in cmdline and proc.pid != os.getpid():
            ours.append(proc)
            ours.extend(proc.children(recursive=True))
    unique = {p.pid: p for p in ours}.values()
    for proc in unique:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(list(unique), timeout=15)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


@pytest.mark.slow
@pytest.mark.integration
def test_a_sweep_submitted_with_ray_job_submit_runs_on_a_local_head(tmp_path):
    from synthrec.sweep.tinycorpus import write_tiny_corpus

    corpus, tokenizer = write_tiny_corpus(tmp_path / "inputs")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "job-sweep",
                "lm": {
                    "max_seq_len": 16,
                    "batch_size": 4,
                    "warmup_tokens": 64,
                    "first_eval_tokens": 128,
                    "max_eval_tokens_per_set": 64,
                },
                "sweep": {
                    "model_sizes": [
                        {
                            "name": "a",
                            "hidden_size": 8,
                            "num_layers": 1,
                            "num_heads": 2,
                            "num_kv_heads": 1,
                            "head_dim": 4,
                            "intermediate_size": 16,
                        }
                    ],
                    "token_budgets": [256, 512],
                },
                "tracking": {"enabled": False},
                "ray": {"address": "auto"},
            }
        )
    )
    out = tmp_path / "out"

    # A short private folder: Ray's socket paths must stay under 108 characters.
    temp_dir = Path(tempfile.mkdtemp(prefix="srj", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(loopback_env(temp_dir))
    try:
        dash = _start_head(temp_dir, env)
        job = subprocess.run(
            [
                str(RAY),
                "job",
                "submit",
                f"--address=http://127.0.0.1:{dash}",
                "--working-dir",
                str(REPO),
                "--runtime-env-json",
                json.dumps({"excludes": UPLOAD_EXCLUDES}),
                "--",
                sys.executable,
                "-m",
                "synthrec",
                "sweep",
                "run",
                str(spec),
                "--out",
                str(out),
                "--corpus",
                str(corpus),
                "--tokenizer",
                str(tokenizer),
            ],
            env=env,
            timeout=420,
            capture_output=True,
            text=True,
        )
    finally:
        _stop_head(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)

    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "succeeded" in job.stdout
    curves = pd.read_parquet(out / "sweep" / "curves.parquet")
    assert curves["trial_id"].nunique() == 2
