import importlib
import pkgutil
import sys

import synthrec.bench
from synthrec.logs import setup_logging


def _names() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(synthrec.bench.__path__)
        if not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    setup_logging()
    names = _names()
    if not argv or argv[0] not in [*names, "all"]:
        print(f"usage: python -m synthrec.bench {{{'|'.join([*names, 'all'])}}} [args]")
        return 2
    chosen = names if argv[0] == "all" else [argv[0]]
    rc = 0
    for name in chosen:
        print(f"== benchmark: {name}")
        rc |= importlib.import_module(f"synthrec.bench.{name}").main(argv[1:])
    return rc


sys.exit(main(sys.argv[1:]))
