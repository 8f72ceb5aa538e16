"""The one module that talks to MLflow.

Tracking never kills work: every call is wrapped, and a failure becomes one
warning per run (the numbers are still written to local files by the caller).
"""

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthrec.tracking.config import TrackingConfig

log = logging.getLogger(__name__)

_MAX_PARAM_CHARS = 6000


def resolve_tracking_uri(cfg: TrackingConfig, run_dir: str | Path) -> str:
    """The configured URI, or a SQLite database inside the run directory."""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    db = Path(run_dir).resolve() / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def artifact_root(uri: str | None) -> str | None:
    """Artifacts beside a SQLite database (RUN/mlartifacts), not in ./mlruns.

    MLflow's default puts a new experiment's artifacts under the current
    working directory; a run folder should hold its own. Servers keep theirs.
    """
    prefix = "sqlite:///"
    if not uri or not uri.startswith(prefix):
        return None
    return (Path(uri[len(prefix) :]).parent / "mlartifacts").resolve().as_uri()


class Tracker:
    """A thin, failure-tolerant handle on one MLflow run.

    `Tracker.disabled()` gives a tracker that records nothing, for code paths
    that run without tracking (unit tests, tracking.enabled=false).
    """

    def __init__(self, uri: str | None, experiment: str, run_id: str | None = None):
        self.uri = uri
        self.experiment = experiment
        self.run_id = run_id
        self._warned = False
        self._client: Any = None
        if uri is not None:
            self._client = self._guard("connect", self._connect)

    @classmethod
    def disabled(cls) -> "Tracker":
        return cls(None, "")

    @classmethod
    def from_config(cls, cfg: TrackingConfig, run_dir: str | Path) -> "Tracker":
        if not cfg.enabled:
            return cls.disabled()
        return cls(resolve_tracking_uri(cfg, run_dir), cfg.experiment_name)

    @property
    def active(self) -> bool:
        return self._client is not None and self.run_id is not None

    # -- runs ---------------------------------------------------------------

    def start_run(
        self,
        name: str,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> "Tracker":
        """Create a run (a child when `parent_run_id` is given); return its tracker."""
        child = Tracker.__new__(Tracker)
        child.uri, child.experiment, child._warned = self.uri, self.experiment, False
        child._client, child.run_id = self._client, None
        if self._client is None:
            return child

        def create() -> str:
            exp_id = self._experiment_id()
            all_tags = {"mlflow.runName": name, **(tags or {})}
            if parent_run_id:
                all_tags["mlflow.parentRunId"] = parent_run_id
            run = self._client.create_run(exp_id, tags=all_tags, run_name=name)
            return run.info.run_id

        child.run_id = self._guard("start run", create)
        return child

    def end_run(self, status: str = "FINISHED") -> None:
        if self.active:
            self._guard(
                "end run", lambda: self._client.set_terminated(self.run_id, status)
            )

    @contextmanager
    def run(
        self,
        name: str,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Iterator["Tracker"]:
        child = self.start_run(name, parent_run_id, tags)
        try:
            yield child
        except BaseException:
            child.end_run("FAILED")
            raise
        child.end_run("FINISHED")

    # -- logging ------------------------------------------------------------

    def log_params(self, params: Mapping[str, Any]) -> None:
        if not self.active or not params:
            return
        from mlflow.entities import Param

        items = [Param(k, str(v)[:_MAX_PARAM_CHARS]) for k, v in params.items()]
        self._guard(
            "log params", lambda: self._client.log_batch(self.run_id, params=items)
        )

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not self.active or not tags:
            return
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        self._guard("set tags", lambda: self._client.log_batch(self.run_id, tags=items))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        """Log several metrics at one step (for losses, step = tokens seen)."""
        if not self.active or not metrics:
            return
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, int(step or 0)) for k, v in metrics.items()]
        self._guard(
            "log metrics", lambda: self._client.log_batch(self.run_id, metrics=items)
        )

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.log_metrics({key: value}, step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if not self.active or not os.path.exists(path):
            return
        self._guard(
            "log artifact",
            lambda: self._client.log_artifact(self.run_id, str(path), artifact_path),
        )

    # -- internals ----------------------------------------------------------

    def _connect(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def _experiment_id(self) -> str:
        exp = self._client.get_experiment_by_name(self.experiment)
        if exp is not None:
            return exp.experiment_id
        try:
            return self._client.create_experiment(
                self.experiment, artifact_location=artifact_root(self.uri)
            )
        except Exception:  # another process created it first
            exp = self._client.get_experiment_by_name(self.experiment)
            if exp is None:
                raise
            return exp.experiment_id

    def _guard(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # tracking must never kill work
            if not self._warned:
                log.warning(
                    "MLflow %s failed (%s); continuing without it for this run;"
                    " numbers are still written locally",
                    what,
                    exc,
                )
                self._warned = True
            return None
