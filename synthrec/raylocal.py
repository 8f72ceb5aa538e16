"""Starting Ray politely: loopback only, no writes into the user's home.

On Linux, Ray 2.60 binds the machine's external address even when asked for
127.0.0.1 unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set, and with token auth
it writes ~/.ray/auth_token. `init_ray` starts a private single-node Ray bound to
127.0.0.1 with its token file inside the run directory. Nothing here ever calls
`ray stop`, which kills every Ray process on the machine by name.
"""

import logging
import os
import secrets
import sys
from pathlib import Path

from synthrec.config import RayConfig

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def loopback_env(run_dir: str | Path) -> dict[str, str]:
    """Environment variables that keep a local Ray on loopback with a private token."""
    token_path = Path(run_dir).resolve() / ".ray" / "auth_token"
    if not token_path.exists():
        token_path.parent.mkdir(parents=True, exist_ok=True)
        token_path.write_text(secrets.token_hex(32))
        token_path.chmod(0o600)
    return {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_DEDUP_LOGS": "1",
        # Train V2 and Tune: keep their result folders inside the run directory.
        "RAY_TRAIN_V2_ENABLED": "1",
    }


def init_ray(cfg: RayConfig, run_dir: str | Path) -> None:
    """Connect to `cfg.address`, or start a private local Ray on 127.0.0.1."""
    if "ray" not in sys.modules and not cfg.address:
        # Ray reads its auth settings when first imported: set them before that.
        # Connecting to a running cluster (e.g. inside `ray job submit`) keeps the
        # auth settings that cluster gave this process.
        os.environ.update(loopback_env(run_dir))
    import ray

    if ray.is_initialized():
        return
    if cfg.address:
        log.info("connecting to Ray at %s", cfg.address)
        ray.init(address=cfg.address, log_to_driver=False)
        return

    os.environ.update(loopback_env(run_dir))
    num_cpus = cfg.num_cpus or os.cpu_count() or 1
    log.info("starting a local Ray on %s with %d CPUs", LOOPBACK, num_cpus)
    ray.init(
        address="local",
        num_cpus=num_cpus,
        num_gpus=0,
        include_dashboard=False,
        object_store_memory=cfg.object_store_memory_bytes,
        log_to_driver=False,
        configure_logging=False,
    )


def shutdown_ray() -> None:
    """Shut down the Ray this process started (never `ray stop`)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
