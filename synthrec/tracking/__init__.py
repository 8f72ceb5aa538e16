"""Experiment tracking: MLflow behind one failure-tolerant wrapper."""

from synthrec.tracking.config import TrackingConfig
from synthrec.tracking.mlflow_tracker import Tracker, resolve_tracking_uri

__all__ = ["Tracker", "TrackingConfig", "resolve_tracking_uri"]
