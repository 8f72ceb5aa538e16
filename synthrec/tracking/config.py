"""Config of experiment tracking (MLflow)."""

from dataclasses import dataclass


@dataclass
class TrackingConfig:
    # None: a SQLite database inside the run directory (sqlite:///RUN_DIR/mlflow.db).
    tracking_uri: str | None = None
    experiment_name: str = "synthrec"
    enabled: bool = True
