"""Walker speed against PecanPy, Ray Data scaling, and peak memory at 1M items.

    python -m synthrec.bench synth [--nodes 50000] [--degree 20] [--walk-length 20]
        [--walks-per-node 1] [--p 1.0] [--q 0.5] [--memory-nodes 1000000]
        [--skip-ray] [--skip-memory]

Three parts, each printed as a table:

1. Walks per second on one core, synthrec's node2vec walker against PecanPy's
   (SparseOTF, its default mode, and PreComp), on the same weighted graph with
   the same p, q, walk length and number of walks. The graph has power-law
   degrees, the shape of an item co-occurrence graph. PecanPy runs with one
   numba thread; both are timed after a warm-up call that compiles them. The
   PecanPy "core" time calls its compiled walk loop directly (no id-to-string
   mapping), so it compares like for like with our core.
2. Ray Data scaling: the same walk blocks (walk, render, count tokens) through
   `run_walk_blocks` with 1 and 2 workers; efficiency = T1 / (2 T2); tokens/s.
3. Peak memory (RSS, in a fresh process) to build a 1M-node item graph from
   synthetic histories and run a round of walks over it.

PecanPy 2.0.9 imports nptyping, which reads numpy 1 aliases removed in numpy 2
(`np.bool8`, `np.object0`, `np.int0`, ...); the benchmark sets them, e.g.
`np.bool8 = np.bool_`, before importing it (benchmark only).
"""

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from synthrec.synth.config import GraphConfig, WalkConfig
from synthrec.synth.graph import ItemGraph, build_item_graph, csr_from_edges
from synthrec.synth.walks import alias_tables, node2vec_walks, random_walks

# Zipf exponents of node popularity in the synthetic graphs and histories.
POPULARITY_EXPONENT = 1.1
HISTORY_POPULARITY_EXPONENT = 0.7


# ---------------------------------------------------------------------------
# Inputs


def power_law_graph(n_nodes: int, mean_degree: int, seed: int) -> ItemGraph:
    """An undirected weighted graph on nodes 0..n-1 with power-law degrees."""
    rng = np.random.default_rng(seed)
    n_pairs = n_nodes * mean_degree // 2
    popularity = 1.0 / np.arange(1, n_nodes + 1) ** POPULARITY_EXPONENT
    popularity /= popularity.sum()
    a = rng.integers(0, n_nodes, n_pairs)  # every node gets edges
    b = rng.choice(n_nodes, size=n_pairs, p=popularity)
    keep = a != b
    keys = np.unique(
        np.concatenate([a[keep] * n_nodes + b[keep], b[keep] * n_nodes + a[keep]])
    )
    src, dst = keys // n_nodes, keys % n_nodes
    # Symmetric weights in [1, 11): a hash of the unordered pair.
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    weights = 1.0 + ((lo * 2654435761 + hi * 40503) % 1000) / 100.0
    return csr_from_edges(src, dst, weights, n_nodes)


def item_graph(n_items: int, seed: int) -> ItemGraph:
    """The graph generate_corpus walks: co-occurrence of synthetic histories, top-50."""
    histories = synthetic_histories(
        n_items, n_users=n_items // 3, mean_length=15, seed=seed
    )
    graph = build_item_graph(histories, n_items, GraphConfig(window=3, top_k=50))
    return symmetrised(graph)


def symmetrised(graph: ItemGraph) -> ItemGraph:
    """Add the reverse of every edge (PecanPy PreComp needs undirected graphs).

    Count weights are symmetric, so a reverse edge takes its forward weight.
    """
    src = np.repeat(np.arange(graph.n_nodes), graph.degrees())
    both_src = np.concatenate([src, graph.indices])
    both_dst = np.concatenate([graph.indices, src])
    keys, first = np.unique(both_src * graph.n_nodes + both_dst, return_index=True)
    weights = np.concatenate([graph.weights, graph.weights])[first]
    return csr_from_edges(
        keys // graph.n_nodes, keys % graph.n_nodes, weights, graph.n_nodes
    )


def bench_graph(args: argparse.Namespace) -> ItemGraph:
    if args.graph == "item":
        return item_graph(args.nodes, seed=0)
    return power_law_graph(args.nodes, args.degree, seed=0)


def synthetic_histories(n_items: int, n_users: int, mean_length: int, seed: int):
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** HISTORY_POPULARITY_EXPONENT
    popularity /= popularity.sum()
    lengths = rng.integers(2, 2 * mean_length, n_users)
    items = rng.choice(np.arange(1, n_items + 1), size=int(lengths.sum()), p=popularity)
    # Half the events stay near the previous item, so co-occurrence has structure.
    local = rng.random(items.size) < 0.5
    items[local] = np.clip(
        np.roll(items, 1)[local] + rng.integers(-50, 51, local.sum()), 1, n_items
    )
    return np.split(items.astype(np.int64), np.cumsum(lengths)[:-1])


# ---------------------------------------------------------------------------
# 1. Walker against PecanPy


# numpy 1 scalar aliases that nptyping (a PecanPy dependency) still reads.
_NUMPY1_ALIASES = {
    "bool8": np.bool_,
    "object0": np.object_,
    "int0": np.intp,
    "uint0": np.uintp,
    "void0": np.void,
    "bytes0": np.bytes_,
    "str0": np.str_,
    "string_": np.bytes_,
    "unicode_": np.str_,
    "float_": np.float64,
    "longfloat": np.longdouble,
    "complex_": np.complex128,
    "cfloat": np.complex128,
    "singlecomplex": np.complex64,
    "longcomplex": np.clongdouble,
    "clongfloat": np.clongdouble,
}


def _numpy1_aliases() -> None:
    """Let PecanPy 2.0.9 import under numpy 2 (benchmark only)."""
    for name, value in _NUMPY1_ALIASES.items():
        if not hasattr(np, name):
            setattr(np, name, value)


def _pecanpy_graph(graph: ItemGraph, mode: str, p: float, q: float):
    _numpy1_aliases()
    from pecanpy import pecanpy

    g = getattr(pecanpy, mode)(p=p, q=q, workers=1, verbose=False, random_state=0)
    g.set_node_ids(None, implicit_ids=True, num_nodes=graph.n_nodes)
    g.indptr = graph.indptr.astype(np.uint32)
    g.indices = graph.indices.astype(np.uint32)
    g.data = graph.weights.astype(np.float32)
    return g


def _pecanpy_core(g, starts: np.ndarray, walk_length: int) -> float:
    """Seconds for PecanPy's compiled walk loop alone (as simulate_walks calls it)."""
    from numba_progress import ProgressBar

    started = time.perf_counter()
    g._preprocess_transition_probs()
    preprocess_s = time.perf_counter() - started
    move_forward, has_nbrs = g.get_move_forward(), g.get_has_nbrs()
    with ProgressBar(total=starts.size, disable=True) as progress:
        g._random_walks(
            8, walk_length - 1, 0, starts[:8], has_nbrs, move_forward, progress
        )
        started = time.perf_counter()
        g._random_walks(
            starts.size, walk_length - 1, 0, starts, has_nbrs, move_forward, progress
        )
    return time.perf_counter() - started, preprocess_s


def bench_walkers(args: argparse.Namespace) -> list[tuple[str, float, float]]:
    import numba

    numba.set_num_threads(1)
    graph = bench_graph(args)
    starts = np.tile(np.flatnonzero(graph.degrees() > 0), args.walks_per_node)
    np.random.default_rng(0).shuffle(starts)
    lengths = np.full(starts.size, args.walk_length, dtype=np.int64)
    print(
        f"graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges, max degree "
        f"{graph.degrees().max():,}; {starts.size:,} walks of {args.walk_length}, "
        f"p={args.p}, q={args.q}"
    )

    rows = []
    node2vec_walks(graph, starts[:8], lengths[:8], args.p, args.q, seed=0)  # compile
    started = time.perf_counter()
    tables = alias_tables(graph)
    prep = time.perf_counter() - started
    node2vec_walks(graph, starts, lengths, args.p, args.q, seed=1, tables=tables)
    ours = time.perf_counter() - started - prep
    rows.append(("synthrec (alias + rejection) core", ours, starts.size / ours))
    rows.append(
        ("synthrec incl. alias tables", ours + prep, starts.size / (ours + prep))
    )

    # PecanPy's walk length counts steps after the start: walk_length - 1.
    for mode in ("SparseOTF", "PreComp"):
        g = _pecanpy_graph(graph, mode, args.p, args.q)
        seconds, prep = _pecanpy_core(g, starts.astype(np.uint32), args.walk_length)
        rows.append((f"PecanPy {mode} core", seconds, starts.size / seconds))
        if prep > 0.01:
            rows.append(
                (
                    f"PecanPy {mode} + tables + JIT",
                    seconds + prep,
                    starts.size / (seconds + prep),
                )
            )
    g = _pecanpy_graph(graph, "SparseOTF", args.p, args.q)
    started = time.perf_counter()
    g.simulate_walks(args.walks_per_node, args.walk_length - 1)
    seconds = time.perf_counter() - started
    rows.append(
        ("PecanPy SparseOTF simulate_walks + JIT", seconds, starts.size / seconds)
    )
    return rows


# ---------------------------------------------------------------------------
# 2. Ray Data scaling


def bench_ray(
    args: argparse.Namespace, run_dir: Path
) -> list[tuple[int, float, float, int]]:
    from synthrec.config import RayConfig
    from synthrec.raylocal import init_ray, shutdown_ray
    from synthrec.sids.tokens import render_sid
    from synthrec.synth.parallel import WalkBlock, run_walk_blocks

    graph = bench_graph(args)
    sid_text = np.array(
        [
            render_sid([i % 256, 256 + i // 256 % 256, 512 + i % 97])
            for i in range(graph.n_nodes)
        ],
        dtype=object,
    )
    cfg = WalkConfig(p=args.p, q=args.q, walk_length=args.walk_length)
    per_block = args.ray_walks // args.ray_blocks
    blocks = [
        WalkBlock(b, b * per_block, (b + 1) * per_block) for b in range(args.ray_blocks)
    ]

    init_ray(RayConfig(num_cpus=2), run_dir)  # sets Ray's env before importing it
    import ray

    try:
        refs = {
            "graph": ray.put(graph),
            "tables": ray.put(alias_tables(graph)),
            "sid_text": ray.put(sid_text),
            "real_lengths": ray.put(np.zeros(0, np.int64)),
        }
        for _ in run_walk_blocks(refs, cfg, 0, blocks[:2], 2):  # start workers, compile
            pass
        rows = []
        for workers in (1, 2):
            started = time.perf_counter()
            tokens = sum(
                int(t.column("num_tokens").to_numpy().sum())
                for _, t in run_walk_blocks(refs, cfg, 0, blocks, workers)
            )
            seconds = time.perf_counter() - started
            rows.append((workers, seconds, tokens / seconds, tokens))
    finally:
        shutdown_ray()
    return rows


# ---------------------------------------------------------------------------
# 3. Peak memory at 1M items (own process)


def _memory_child(n_items: int, queue: mp.Queue) -> None:
    histories = synthetic_histories(
        n_items, n_users=n_items // 3, mean_length=15, seed=0
    )
    after_input = _peak_rss_mib()
    started = time.perf_counter()
    graph = build_item_graph(histories, n_items, GraphConfig(window=3, top_k=50))
    build_s = time.perf_counter() - started
    after_graph = _peak_rss_mib()
    started = time.perf_counter()
    walks = random_walks(graph, WalkConfig(walk_length=20, walks_per_node=1), seed=0)
    walk_s = time.perf_counter() - started
    queue.put(
        {
            "nodes": graph.n_nodes,
            "edges": graph.n_edges,
            "interactions": int(sum(len(h) for h in histories)),
            "walks": len(walks),
            "build_s": build_s,
            "walk_s": walk_s,
            "peak_input_mib": after_input,
            "peak_graph_mib": after_graph,
            "peak_total_mib": _peak_rss_mib(),
        }
    )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_memory(n_items: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_child, args=(n_items, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthrec.bench synth")
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--degree", type=int, default=20, help="powerlaw graph only")
    parser.add_argument(
        "--graph",
        choices=["item", "powerlaw"],
        default="item",
        help="item: a top-50 co-occurrence graph of synthetic histories (what "
        "generate_corpus walks), made symmetric; powerlaw: unpruned, with hubs of very high degree",
    )
    parser.add_argument("--walk-length", type=int, default=20)
    parser.add_argument("--walks-per-node", type=int, default=1)
    parser.add_argument("--p", type=float, default=1.0)
    parser.add_argument("--q", type=float, default=0.5)
    parser.add_argument("--ray-walks", type=int, default=160_000)
    parser.add_argument("--ray-blocks", type=int, default=8)
    parser.add_argument("--memory-nodes", type=int, default=1_000_000)
    parser.add_argument("--skip-walkers", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    if not args.skip_walkers:
        rows = bench_walkers(args)
        ours = rows[0][2]
        print(
            f"\n{'walker (1 core)':<36} {'seconds':>8} {'walks/s':>10} {'ours/them':>10}"
        )
        for name, seconds, rate in rows:
            print(f"{name:<36} {seconds:>8.2f} {rate:>10,.0f} {ours / rate:>9.1f}x")

    if not args.skip_ray:
        with tempfile.TemporaryDirectory(prefix="synthrec-bench-") as tmp:
            rows = bench_ray(args, Path(tmp))
        t1 = rows[0][1]
        print(
            f"\n{'Ray Data workers':<18} {'seconds':>8} {'tokens/s':>12} {'efficiency':>11}"
        )
        for workers, seconds, rate, _ in rows:
            print(
                f"{workers:<18} {seconds:>8.2f} {rate:>12,.0f} "
                f"{t1 / (workers * seconds):>10.0%}"
            )
        print(
            f"({args.ray_walks:,} walks in {args.ray_blocks} blocks, {rows[0][3]:,} tokens)"
        )

    if not args.skip_memory:
        m = bench_memory(args.memory_nodes)
        print(
            f"\npeak memory, {m['nodes'] - 1:,} items, {m['interactions']:,} interactions, "
            f"{m['edges']:,} edges after top-50:"
        )
        print(
            f"  input histories {m['peak_input_mib']:,.0f} MiB; + graph build "
            f"{m['peak_graph_mib']:,.0f} MiB ({m['build_s']:.1f} s); + {m['walks']:,} "
            f"walks {m['peak_total_mib']:,.0f} MiB ({m['walk_s']:.1f} s)"
        )
    return 0
