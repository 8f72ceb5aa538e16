"""Loading + cleaning speed and peak memory on a generated MovieLens-style log.

    python -m synthrec.bench datasets [--rows 10000000] [--users N] [--items N]

Writes a ratings.csv / movies.csv pair in the ml-latest layout (each user's
rows sorted by movie id, many events sharing a second), then times, each in a
fresh process so peak RSS is its own:

- baseline `pandas.read_csv`: plain pandas reading the same ratings.csv (no
  cleaning at all), the usual first line of a hand-written loader;
- synthrec load: the MovieLens loader (pyarrow read, type and timestamp checks);
- synthrec load + clean: the loader plus implicit rule, dedupe, 5-core, seeded
  tie-break ordering, re-indexing and leave-one-out (what prepare_dataset does
  before writing Parquet).
"""

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np

_SECONDS_PER_DAY = 86_400


def write_log(folder: Path, rows: int, users: int, items: int, seed: int) -> None:
    """A ratings.csv of `rows` events in MovieLens file order, and movies.csv."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    user = np.sort(rng.integers(1, users + 1, rows))
    # Popularity-skewed items; sessions of events that share a timestamp.
    item = (rng.zipf(1.3, rows) % items) + 1
    start = rng.integers(1_000_000_000, 1_600_000_000, users + 1)[user]
    session = rng.integers(0, 200, rows) * _SECONDS_PER_DAY
    stamp = start + session + rng.integers(0, 3, rows)
    rating = rng.integers(1, 11, rows) / 2
    order = np.lexsort((item, user))
    table = pa.table(
        {
            "userId": user[order],
            "movieId": item[order],
            "rating": rating[order],
            "timestamp": stamp[order],
        }
    )
    pcsv.write_csv(table, folder / "ratings.csv")
    movies = pa.table(
        {
            "movieId": np.arange(1, items + 1),
            "title": [f"Film {i} ({1950 + i % 70})" for i in range(1, items + 1)],
            "genres": ["Drama|Comedy"] * items,
        }
    )
    pcsv.write_csv(movies, folder / "movies.csv")


def _baseline(folder: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(folder / "ratings.csv"))


def _load(folder: Path) -> int:
    from synthrec.datasets import DataConfig, movielens

    return len(movielens.load(folder, DataConfig(max_tags_per_item=0)).interactions)


def _load_clean(folder: Path) -> int:
    from synthrec.datasets import DataConfig, movielens
    from synthrec.datasets.clean import clean_log

    cfg = DataConfig(max_tags_per_item=0)
    return len(clean_log(movielens.load(folder, cfg), cfg, seed=0).interactions)


_TASKS = {
    "baseline pandas.read_csv": _baseline,
    "synthrec load": _load,
    "synthrec load + clean": _load_clean,
}


def _peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM: its own, not a parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _child(name: str, folder: str, queue: "mp.Queue") -> None:
    import pandas  # noqa: F401  # imported before timing, like any real caller
    import pyarrow  # noqa: F401

    import synthrec.datasets  # noqa: F401

    rss_after_import = _peak_rss_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    out_rows = _TASKS[name](Path(folder))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    queue.put((wall, cpu, out_rows, _peak_rss_bytes(), rss_after_import))


def measure(name: str, folder: Path) -> tuple[float, float, int, int, int]:
    """(wall s, CPU s, output rows, peak RSS bytes, RSS after imports bytes),
    measured in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, str(folder), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthrec.bench datasets")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="synthrec-bench-data-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        write_log(folder, args.rows, args.users, args.items, args.seed)
        size_mb = (folder / "ratings.csv").stat().st_size / 2**20
        print(
            f"generated {args.rows:,} rows ({size_mb:.0f} MiB ratings.csv) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        print(
            f"{'task':<26} {'wall s':>7} {'CPU s':>7} {'rows/s (wall)':>14} "
            f"{'peak RSS':>9} {'imports':>8} {'out rows':>11}  vs baseline"
        )
        base = None
        for name in _TASKS:
            wall, cpu, out_rows, peak, imports = measure(name, folder)
            base = base or (wall, cpu)
            print(
                f"{name:<26} {wall:7.2f} {cpu:7.2f} {args.rows / wall:14,.0f} "
                f"{peak / 2**30:7.2f}GB {imports / 2**30:6.2f}GB {out_rows:11,}  "
                f"x{wall / base[0]:.2f} wall, x{cpu / base[1]:.2f} CPU"
            )
    print(
        f"(2 CPU cores here; load average {os.getloadavg()[0]:.1f} at the end: "
        "wall times grow with other work on the machine, CPU times less so)"
    )
    return 0
