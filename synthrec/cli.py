"""The `synthrec` command line: parse, set up logging, call one function.

Each stage registers its own sub-commands from `synthrec/<stage>/cli.py`
(a `register(subparsers)` function), so this file stays a thin dispatcher.
User mistakes (`SynthrecError`) print one line and exit 2.
"""

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from synthrec import __version__
from synthrec.errors import SynthrecError
from synthrec.logs import setup_logging

log = logging.getLogger(__name__)

# Modules with a `register(subparsers)` function, in help order.
_COMMAND_MODULES = [
    "synthrec.pipeline_cli",
    "synthrec.datasets.cli",
    "synthrec.sids.cli",
    "synthrec.synth.cli",
    "synthrec.sasrec.cli",
    "synthrec.lm.cli",
    "synthrec.sweep.cli",
    "synthrec.scaling.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthrec",
        description="Layered synthetic data and scaling laws for LLM recommenders.",
    )
    parser.add_argument(
        "--version", action="version", version=f"synthrec {__version__}"
    )
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO (default), WARNING"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a stage without commands yet
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except SynthrecError as exc:
        print(f"synthrec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "synthrec: interrupted; finished outputs are kept, rerun to resume",
            file=sys.stderr,
        )
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
