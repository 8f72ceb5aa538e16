"""Walk blocks and rule blocks with Ray Data `map_batches`.

The graph, the rendered SIDs and the user-item matrix go to the object store
once; Ray Data tasks read them by reference and turn blocks of start nodes (or
antecedents) into rendered, token-counted rows. Every block carries its
own seed, so the rows of a block do not depend on which worker ran it or when.
Ray is imported lazily: the caller initialises it (synthrec.raylocal).
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synthrec.synth.config import RulesConfig, WalkConfig
from synthrec.synth.graph import ItemGraph
from synthrec.synth.rules import mine_rules_block
from synthrec.synth.shards import rows_table
from synthrec.synth.templates import uih_sentence
from synthrec.synth.walks import AliasTables, random_walks

log = logging.getLogger(__name__)

BLOCK_COLUMN = "block"


@dataclass
class WalkBlock:
    block: int
    first: int  # index of the block's first walk in the seeded walk stream
    stop: int


def render_walks(
    flat: np.ndarray, offsets: np.ndarray, sid_text: np.ndarray
) -> list[str]:
    """The UIH sentence of every walk."""
    sids = sid_text[flat]
    return [
        uih_sentence(sids[offsets[i] : offsets[i + 1]]) for i in range(len(offsets) - 1)
    ]


def walk_block_table(
    graph: ItemGraph,
    tables: AliasTables,
    sid_text: np.ndarray,
    cfg: WalkConfig,
    seed: int,
    block: WalkBlock,
    real_lengths: np.ndarray | None,
) -> pa.Table:
    """Rows (text, num_tokens, item_ids) of one block of walks."""
    walks = random_walks(
        graph, cfg, seed, block.first, block.stop, real_lengths, tables
    )
    texts = render_walks(walks.flat, walks.offsets, sid_text)
    return rows_table(texts, walks.flat, walks.offsets)


def _walk_blocks_fn(batch: dict[str, np.ndarray], shared: dict[str, Any]) -> pa.Table:
    """Ray Data task: rows of each block in the batch (shared arrays by reference).

    ray.get of the shared refs maps the object store's numpy buffers without a
    copy, so every task reads the one stored graph.
    """
    import ray

    graph, alias, sid_text, real_lengths = ray.get(
        [shared["graph"], shared["tables"], shared["sid_text"], shared["real_lengths"]]
    )
    parts = []
    for block, first, stop in zip(
        batch["block"], batch["first"], batch["stop"], strict=True
    ):
        spec = WalkBlock(int(block), int(first), int(stop))
        table = walk_block_table(
            graph, alias, sid_text, shared["cfg"], shared["seed"], spec, real_lengths
        )
        column = pa.array(np.full(table.num_rows, spec.block, dtype=np.int64))
        parts.append(table.append_column(BLOCK_COLUMN, column))
    return pa.concat_tables(parts)


def _rule_blocks_fn(
    batch: dict[str, np.ndarray], shared: dict[str, Any]
) -> pd.DataFrame:
    """Ray Data task: the rules of each block of antecedents in the batch."""
    import ray

    matrix, candidates = ray.get([shared["matrix"], shared["candidates"]])
    frames = []
    for block, lo, hi in zip(batch["block"], batch["lo"], batch["hi"], strict=True):
        frame = mine_rules_block(matrix, candidates[int(lo) : int(hi)], shared["cfg"])
        frames.append(frame.assign(**{BLOCK_COLUMN: int(block)}))
    return pd.concat(frames, ignore_index=True)


def _ordered_dataset(rows: list[dict[str, Any]]):
    import ray

    ray.data.DataContext.get_current().execution_options.preserve_order = True
    return ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))


def _task_pool(requested: int, n_blocks: int):
    """At most `requested` concurrent tasks (0: one per Ray CPU), at most n_blocks.

    Tasks rather than actors: Ray reuses its worker processes across datasets,
    so a run pays process start-up once instead of once per actor pool.
    """
    import ray

    available = int(ray.cluster_resources().get("CPU", 1)) or 1
    return ray.data.TaskPoolStrategy(size=max(1, min(requested or available, n_blocks)))


def run_walk_blocks(
    refs: dict[str, Any],
    cfg: WalkConfig,
    seed: int,
    blocks: list[WalkBlock],
    num_workers: int,
) -> Iterator[tuple[int, pa.Table]]:
    """Yield (block, rows) for every block, in block order, as they finish.

    refs holds object refs of graph, tables (alias), sid_text and real_lengths.
    """
    if not blocks:
        return
    shared = {**refs, "cfg": cfg, "seed": seed}
    dataset = _ordered_dataset(
        [{"block": b.block, "first": b.first, "stop": b.stop} for b in blocks]
    ).map_batches(
        _walk_blocks_fn,
        fn_kwargs={"shared": shared},
        batch_size=1,
        batch_format="numpy",
        compute=_task_pool(num_workers, len(blocks)),
        num_cpus=1,
    )
    yield from _group_by_block(
        dataset.iter_batches(batch_size=None, batch_format="pyarrow")
    )


def _group_by_block(batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
    """Re-assemble per-block tables from Ray's output batches (order kept)."""
    pending: list[pa.Table] = []
    current = None
    for batch in batches:
        ids = batch.column(BLOCK_COLUMN).to_numpy()
        cuts = np.flatnonzero(np.diff(ids)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, ids.size], strict=True):
            part = batch.slice(int(lo), int(hi - lo))
            if current is not None and ids[lo] != current:
                yield current, pa.concat_tables(pending).drop_columns([BLOCK_COLUMN])
                pending = []
            current = int(ids[lo])
            pending.append(part)
    if current is not None:
        yield current, pa.concat_tables(pending).drop_columns([BLOCK_COLUMN])


def run_rule_blocks(
    matrix_ref: Any, candidates: np.ndarray, cfg: RulesConfig, num_workers: int
) -> pd.DataFrame:
    """Rules for every antecedent in `candidates`, mined block by block."""
    import ray

    bounds = [
        (lo, min(lo + cfg.block_items, candidates.size))
        for lo in range(0, candidates.size, cfg.block_items)
    ]
    started = time.perf_counter()
    shared = {"matrix": matrix_ref, "candidates": ray.put(candidates), "cfg": cfg}
    dataset = _ordered_dataset(
        [{"block": i, "lo": lo, "hi": hi} for i, (lo, hi) in enumerate(bounds)]
    ).map_batches(
        _rule_blocks_fn,
        fn_kwargs={"shared": shared},
        batch_size=1,
        batch_format="numpy",
        compute=_task_pool(num_workers, len(bounds)),
        num_cpus=1,
    )
    frame = dataset.to_pandas()
    log.info(
        "mined %d rules in %d blocks in %.1f s",
        len(frame),
        len(bounds),
        time.perf_counter() - started,
    )
    return frame.drop(columns=[BLOCK_COLUMN]).reset_index(drop=True)


__all__ = [
    "WalkBlock",
    "render_walks",
    "run_rule_blocks",
    "run_walk_blocks",
    "walk_block_table",
]
