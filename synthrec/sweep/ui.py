"""`synthrec ui RUN_DIR`: the MLflow UI over a run's SQLite store, on 127.0.0.1 only.

The server is the stock `mlflow ui`, started as a child process bound to
loopback. Where the scaling curves are: the sweep's parent run (named
"sweep") holds `curves.png` (loss against tokens per evaluation set, one
colour per model size) and `curves.csv` as artifacts; its child runs, one per
trial, hold `eval/<set>/loss` with step = tokens seen, which the experiment's
chart view plots against each other (see docs/sweeps.md).
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_READY_TIMEOUT_S = 120.0
_POLL_S = 0.5


def ui_command(run_dir: Path, port: int) -> list[str]:
    """The `mlflow ui` command line for RUN_DIR/mlflow.db on 127.0.0.1:port."""
    db = run_dir.resolve() / "mlflow.db"
    if not db.is_file():
        raise SynthrecError(
            f"no MLflow database at {db}; run a sweep into {run_dir} "
            "first, or point at the run folder that holds mlflow.db"
        )
    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def start_ui(run_dir: Path, port: int) -> subprocess.Popen:
    """Start the UI server as a child process and wait until it answers."""
    # Its own process group, so stopping it also stops the server's workers.
    proc = subprocess.Popen(ui_command(run_dir, port), start_new_session=True)
    url = f"http://{LOOPBACK}:{port}/"
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SynthrecError(
                f"the MLflow UI exited with code {proc.returncode}; "
                f"is port {port} already in use? try --port"
            )
        try:
            with urllib.request.urlopen(url + "health", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            time.sleep(_POLL_S)
    stop_ui(proc)
    raise SynthrecError(
        f"the MLflow UI did not answer on {url} within {_READY_TIMEOUT_S:.0f} s"
    )


def stop_ui(proc: subprocess.Popen) -> None:
    """Stop the server this process started (by its own process id)."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the server's process group (its id is the server's own pid)."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_ui(run_dir: Path, port: int) -> int:
    """Serve until Ctrl-C, printing where the scaling curves are."""
    proc = start_ui(run_dir, port)
    # `kill PID` stops the server too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    url = f"http://{LOOPBACK}:{port}"
    print(f"MLflow UI for {run_dir}: {url}")
    print(
        f"  scaling curves: {url}/#/experiments -> run 'sweep' -> Artifacts -> "
        "curves.png"
    )
    print(
        "  per-trial losses: select the trial runs -> Chart view -> "
        "eval/<set>/loss (x axis: step = tokens seen), group by tag "
        "synthrec.model"
    )
    print("press Ctrl-C to stop")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_ui(proc)
