"""User-facing errors.

A `SynthrecError` is a mistake the user can fix (a bad config value, a missing
file, empty data). The CLI prints its message on one line and exits non-zero;
anything else is a bug and keeps its traceback.
"""


class SynthrecError(Exception):
    """A problem with the user's input, config or environment."""


class ConfigError(SynthrecError, ValueError):
    """A config value is missing, unknown or out of range."""
