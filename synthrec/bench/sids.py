"""Semantic-ID tokenisers: fit + encode time and peak memory, 10k and 1M items.

Each case runs in a fresh subprocess so its peak RSS is its own. Embeddings are
seeded, clustered unit vectors (1,000 directions plus noise), the shape TF-IDF
or a sentence model would hand over. Cases:

- rq_kmeans: 3 levels x 256 codes, Lloyd k-means (scikit-learn KMeans, one
  init), forced even where the default "auto" would pick MiniBatch;
- baseline rq_kmeans_minibatch: the same residual scheme on scikit-learn
  MiniBatchKMeans, the usual "fast" choice;
- rq_vae and sae at 10k items only (their cost is per epoch, linear in items).

Usage: python -m synthrec.bench sids [--sizes 10000,1000000] [--dim 64]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

_CLUSTERS = 1000
_NOISE = 0.1
_LEARNED_MAX_ITEMS = 100_000
CASES = ["rq_kmeans", "rq_kmeans_minibatch", "rq_vae", "sae"]


def clustered_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(_CLUSTERS, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, _CLUSTERS, size=n)]
    x += _NOISE * rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(case: str, n: int, dim: int, seed: int) -> dict:
    """Fit on 90% of n items, encode all n; times, peak RSS, quality."""
    from synthrec.sids.config import SidConfig
    from synthrec.sids.fit import TOKENISERS
    from synthrec.sids.quality import reconstruction_error
    from synthrec.sids.unique import collision_rate

    x = clustered_unit_vectors(n, dim, seed)
    train_rows = np.arange(int(0.9 * n))
    rss_before = _peak_rss_mb()
    method = "rq_kmeans" if case.startswith("rq_kmeans") else case
    algorithm = "minibatch" if case == "rq_kmeans_minibatch" else "lloyd"
    cfg = SidConfig(method=method, kmeans_algorithm=algorithm)

    wall, cpu = time.perf_counter(), time.process_time()
    encoded = TOKENISERS[method](x, train_rows, cfg, seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "case": case,
        "n_items": n,
        "dim": dim,
        "fit_encode_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "items_per_s": round(n / wall),
        "rss_after_data_mb": round(rss_before),
        "peak_rss_mb": round(_peak_rss_mb()),
        "collision_rate": round(collision_rate(encoded.global_codes), 4),
        "recon_error": round(reconstruction_error(x, encoded.reconstruction), 4),
    }


def _subprocess(case: str, n: int, dim: int, seed: int) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "synthrec.bench",
        "sids",
        "--one",
        case,
        "--sizes",
        str(n),
        "--dim",
        str(dim),
        "--seed",
        str(seed),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench case {case} n={n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(rows: list[dict]) -> None:
    keys = [
        "case",
        "n_items",
        "fit_encode_s",
        "cpu_s",
        "items_per_s",
        "rss_after_data_mb",
        "peak_rss_mb",
        "collision_rate",
        "recon_error",
    ]
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)))


def _print_ratios(rows: list[dict]) -> None:
    by = {(r["case"], r["n_items"]): r for r in rows}
    for n in sorted({r["n_items"] for r in rows}):
        ours, base = by.get(("rq_kmeans", n)), by.get(("rq_kmeans_minibatch", n))
        if ours and base:
            print(
                f"n={n}: rq_kmeans (Lloyd) vs baseline MiniBatchKMeans: time x"
                f"{ours['fit_encode_s'] / base['fit_encode_s']:.2f}, peak RSS x"
                f"{ours['peak_rss_mb'] / base['peak_rss_mb']:.2f}, recon error "
                f"{ours['recon_error']} vs {base['recon_error']}"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthrec.bench sids")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    if args.one:  # child process: one case, one JSON line
        print(json.dumps(run_case(args.one, sizes[0], args.dim, args.seed)))
        return 0

    rows = []
    for n in sizes:
        for case in args.cases.split(","):
            if case in ("rq_vae", "sae") and n > _LEARNED_MAX_ITEMS:
                continue
            rows.append(_subprocess(case, n, args.dim, args.seed))
            print(json.dumps(rows[-1]), flush=True)
    _print_table(rows)
    _print_ratios(rows)
    return 0
