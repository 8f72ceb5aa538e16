"""The command line: user mistakes give one clear line and a non-zero exit."""

import subprocess
import sys

from tests.conftest import REPO


def _synthrec(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthrec", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path):
    result = _synthrec("run", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"synthrec: error: config file not found: {tmp_path / 'missing.yaml'}"
    ]


def test_an_unknown_config_key_names_it(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sasrec:\n  hiden_size: 8\n")
    result = _synthrec("run", str(cfg), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "unknown config key 'sasrec.hiden_size'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_data_folder_is_reported_without_a_traceback(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  path: {tmp_path / 'no-such-folder'}\n")
    result = _synthrec("run", str(cfg), "--out", str(tmp_path / "o"))
    assert result.returncode != 0
    assert "synthrec: error:" in result.stderr
    assert "Traceback" not in result.stderr
