"""Shared fixtures: where the real data lives, and a private loopback Ray."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_HOME = REPO.parent / "shared" / "data"


def data_home() -> Path:
    return Path(os.environ.get("SYNTHREC_DATA_HOME", DEFAULT_DATA_HOME))


@pytest.fixture(scope="session")
def movielens_small_dir() -> Path:
    """The real ml-latest-small folder (skips when it is not on this machine)."""
    path = data_home() / "ml-latest-small"
    if not (path / "ratings.csv").is_file():
        message = f"real MovieLens data not found at {path}; set SYNTHREC_DATA_HOME"
        if os.environ.get("CI"):  # CI must exercise the real data, never skip it
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory):
    """One private Ray for the test session, on 127.0.0.1, token file in tmp."""
    from synthrec.config import RayConfig
    from synthrec.raylocal import init_ray, shutdown_ray

    run_dir = tmp_path_factory.mktemp("ray")
    init_ray(
        RayConfig(num_cpus=2, object_store_memory_bytes=256 * 1024 * 1024), run_dir
    )
    yield run_dir
    shutdown_ray()


@pytest.fixture(autouse=True, scope="session")
def _caches_outside_home(tmp_path_factory):
    """Keep every cache the tests fill (embeddings, ...) out of the user's home."""
    cache = tmp_path_factory.mktemp("synthrec-cache")
    previous = os.environ.get("SYNTHREC_CACHE_HOME")
    os.environ["SYNTHREC_CACHE_HOME"] = str(cache)
    yield
    if previous is None:
        os.environ.pop("SYNTHREC_CACHE_HOME", None)
    else:
        os.environ["SYNTHREC_CACHE_HOME"] = previous
