"""One place that configures logging for the CLI, scripts and Ray workers."""

import logging
import os
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | None = None) -> None:
    """Send synthrec's log lines to stderr at `level` (env SYNTHREC_LOG_LEVEL)."""
    level = (level or os.environ.get("SYNTHREC_LOG_LEVEL", "INFO")).upper()
    root = logging.getLogger()
    if not any(getattr(h, "_synthrec", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._synthrec = True  # type: ignore[attr-defined]  # marks our handler
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("synthrec").setLevel(level)
