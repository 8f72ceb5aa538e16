"""generate_corpus: prepared data + semantic IDs -> a layered synthetic corpus.

Layout under out_dir:
  train/<modality>/part-*.parquet   item_text, cf, uih (+ general with a source)
  eval/<eval_set>/part-*.parquet    item_text, cf_seen_pair, cf_one_unseen,
                                    cf_both_unseen, uih_ood, uih_full_graph,
                                    uih_real (+ general)
  manifest.json                     every shard (rows, tokens, sha256), totals,
                                    graph and rule statistics, disjointness checks
  corpus_config.json                the config hash the shards belong to

Evaluation rows are built first; training rows are then built from what is
left and checked against them. Walks run on Ray Data (the caller initialises
Ray); everything else is cheap and runs in the driver. A finished shard is never
rewritten, so an interrupted run resumes where it stopped.
"""

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthrec.configtools import config_hash, to_dict
from synthrec.datasets.prepared import PreparedData
from synthrec.errors import SynthrecError
from synthrec.io import read_json, write_json
from synthrec.lm.tokenizer import count_tokens
from synthrec.sids.semantic_ids import SemanticIds
from synthrec.synth import holdout as ho
from synthrec.synth.config import SynthConfig
from synthrec.synth.graph import ItemGraph, build_item_graph
from synthrec.synth.parallel import (
    WalkBlock,
    render_walks,
    run_rule_blocks,
    run_walk_blocks,
)
from synthrec.synth.rules import empty_rules, mine_rules_block, user_item_matrix
from synthrec.synth.shards import (
    empty_table,
    rows_table,
    shard_entry,
    shard_name,
    table_from_lists,
    truncate_to_budget,
    write_shard,
)
from synthrec.synth.templates import (
    ITEM_TEMPLATES,
    cf_rule_sentence,
    pick_item_template,
    uih_sentence,
)
from synthrec.synth.walks import alias_tables, random_walks

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
CONFIG_FILE = "corpus_config.json"
# Seed streams of walk sets (train walks, full-graph eval walks).
STREAM_TRAIN_WALKS, STREAM_FULL_WALKS = 1, 2
# Walk budgets ask for this many extra walks per round of blocks, since the
# token count per walk is only estimated until the walks exist.
BUDGET_MARGIN = 1.05


@dataclass
class Structures:
    """Everything built from the interactions before any row is rendered."""

    holdout: ho.Holdout
    graph: ItemGraph  # train split, held-out users removed
    full_graph: ItemGraph  # train + valid + test, held-out users removed
    rules: pd.DataFrame
    sid_text: np.ndarray  # (n_items + 1,) rendered SIDs, "" for padding
    real_lengths: np.ndarray  # train history lengths of training users
    full_sequences: list[np.ndarray]
    test_items: np.ndarray  # (n_users,) each user's test item, 0 if none


@dataclass
class _Writer:
    """Writes shards under one root and collects their manifest entries."""

    root: Path
    jsonl: bool
    entries: list[dict[str, Any]]

    def shard(self, split: str, name: str, index: int, table: pa.Table | None) -> dict:
        """Write (or, if already finished, keep) one shard; return its entry."""
        path = self.root / split / name / shard_name(index)
        if not path.exists():
            if table is None:
                raise SynthrecError(f"internal: no rows for missing shard {path}")
            write_shard(path, table, self.jsonl)
        entry = shard_entry(self.root, path, split, name)
        self.entries.append(entry)
        return entry

    def exists(self, split: str, name: str, index: int) -> bool:
        return (self.root / split / name / shard_name(index)).exists()


# ---------------------------------------------------------------------------
# Inputs: identity, structures


def _input_fingerprint(prepared: PreparedData, sids: SemanticIds) -> str:
    """A hash of what the corpus is built from: interactions, items and SIDs."""
    digest = hashlib.sha256()
    frame = prepared.interactions[["user_idx", "item_idx", "split"]]
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    items = prepared.items.astype(str)  # list-valued fields hash by their text
    digest.update(pd.util.hash_pandas_object(items, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(sids.codes, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def _check_inputs(prepared: PreparedData, sids: SemanticIds) -> None:
    if sids.n_items != prepared.n_items:
        raise SynthrecError(
            f"semantic IDs cover {sids.n_items} items but the data has "
            f"{prepared.n_items}; refit the SIDs on this data"
        )
    if not (prepared.interactions["split"] == "train").any():
        raise SynthrecError("the prepared data has no train interactions")


def training_sequences(
    prepared: PreparedData, cfg: SynthConfig, seed: int
) -> list[np.ndarray]:
    """Train sequences with the held-out users' emptied (indices kept).

    Any other stage that learns from interactions (e.g. SIDs fit on
    co-occurrence) should use these, so uih_real users stay unseen.
    """
    holdout = ho.choose_holdout(
        prepared.n_items,
        prepared.n_users,
        cfg.cf_holdout_item_fraction,
        cfg.holdout_user_fraction,
        seed,
    )
    return ho.without_users(prepared.sequences(("train",)), holdout.users)


def build_structures(
    prepared: PreparedData,
    sids: SemanticIds,
    cfg: SynthConfig,
    seed: int,
    num_workers: int,
) -> Structures:
    """Hold out items and users, then build the graphs and mine the rules."""
    import ray

    holdout = ho.choose_holdout(
        prepared.n_items,
        prepared.n_users,
        cfg.cf_holdout_item_fraction,
        cfg.holdout_user_fraction,
        seed,
    )
    train = ho.without_users(prepared.sequences(("train",)), holdout.users)
    full = prepared.sequences(("train", "valid", "test"))
    graph = build_item_graph(train, prepared.n_items, cfg.graph)
    full_graph = build_item_graph(
        ho.without_users(full, holdout.users), prepared.n_items, cfg.graph
    )

    # Rules: block by block on Ray, over antecedents with enough users.
    matrix = user_item_matrix(train, prepared.n_items)
    item_users = np.asarray(matrix.sum(axis=0)).ravel()
    candidates = np.flatnonzero(item_users >= cfg.rules.min_support_users)
    rules = empty_rules()
    if candidates.size > cfg.rules.block_items:
        mined = run_rule_blocks(ray.put(matrix), candidates, cfg.rules, num_workers)
        rules = mined if len(mined) else rules
    elif candidates.size:  # one block: not worth starting actors
        rules = mine_rules_block(matrix, candidates, cfg.rules)

    sid_text = np.array(
        [""] + [sids.render(i) for i in range(1, prepared.n_items + 1)], dtype=object
    )
    lengths = np.array([len(s) for s in train if len(s)], dtype=np.int64)
    return Structures(
        holdout=holdout,
        graph=graph,
        full_graph=full_graph,
        rules=rules,
        sid_text=sid_text,
        real_lengths=lengths,
        full_sequences=full,
        test_items=_test_items(prepared),
    )


def _test_items(prepared: PreparedData) -> np.ndarray:
    frame = prepared.interactions
    test = frame[frame["split"] == "test"]
    out = np.zeros(prepared.n_users, dtype=np.int64)
    # The last test row per user (leave-one-out has exactly one).
    last = test.groupby("user_idx", sort=True)["item_idx"].last()
    out[last.index.to_numpy()] = last.to_numpy()
    return out


# ---------------------------------------------------------------------------
# Rows of each kind, as shard tables


def item_text_table(
    items: pd.DataFrame, sid_text: np.ndarray, item_ids: np.ndarray, template: str
) -> pa.Table:
    render = ITEM_TEMPLATES[template]
    records = items.to_dict("records")
    row_of = dict(zip(items["item_idx"].tolist(), range(len(records)), strict=True))
    texts = [
        render(sid_text[i], records[row_of[i]] if i in row_of else {}) for i in item_ids
    ]
    return table_from_lists(texts, [[int(i)] for i in item_ids])


def cf_table(rules: pd.DataFrame, sid_text: np.ndarray) -> pa.Table:
    a = rules["antecedent"].to_numpy()
    b = rules["consequent"].to_numpy()
    texts = [
        cf_rule_sentence(sid_text[x], sid_text[y], c, lift)
        for x, y, c, lift in zip(
            a, b, rules["confidence"].to_numpy(), rules["lift"].to_numpy(), strict=True
        )
    ]
    flat = np.stack([a, b], axis=1).ravel() if len(a) else np.zeros(0, np.int64)
    return rows_table(texts, flat, np.arange(0, 2 * len(a) + 1, 2))


def history_table(histories: list[np.ndarray], sid_text: np.ndarray) -> pa.Table:
    if not histories:
        return empty_table()
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.concatenate(histories).astype(np.int64)
    return rows_table(render_walks(flat, offsets, sid_text), flat, offsets)


def _permuted(table: pa.Table, seed: int, stream: int) -> pa.Table:
    order = np.random.default_rng([seed, ho.STREAM_ORDER, stream]).permutation(
        table.num_rows
    )
    return table.take(pa.array(order))


def _capped(table: pa.Table, limit: int, seed: int, stream: int) -> pa.Table:
    return table.take(pa.array(ho.cap_rows(table.num_rows, limit, seed, stream)))


# ---------------------------------------------------------------------------
# Evaluation sets


def eval_tables(
    prepared: PreparedData,
    st: Structures,
    cfg: SynthConfig,
    seed: int,
    template: str,
    general: pa.Table | None,
) -> dict[str, pa.Table]:
    limit = cfg.max_eval_rows_per_set
    cf_split = ho.split_rules(
        st.rules, st.holdout.items, cfg.cf_holdout_pair_fraction, seed
    )
    tables = {
        "item_text": item_text_table(
            prepared.items, st.sid_text, st.holdout.items, template
        ),
        **{
            name: cf_table(cf_split[name], st.sid_text)
            for name in ("cf_seen_pair", "cf_one_unseen", "cf_both_unseen")
        },
    }

    # UIH: real test-ending histories, full-graph walks, held-out users' histories.
    training_users = np.setdiff1d(np.arange(prepared.n_users), st.holdout.users)
    chosen = training_users[ho.cap_rows(training_users.size, limit, seed, 1)]
    length = cfg.walks.walk_length
    tables["uih_ood"] = history_table(
        ho.ood_histories(st.full_sequences, st.test_items, chosen, length), st.sid_text
    )
    full_walks = random_walks(
        st.full_graph,
        cfg.walks,
        seed * 1000 + STREAM_FULL_WALKS,
        0,
        min(limit, int(np.count_nonzero(st.full_graph.degrees()))),
        st.real_lengths,
    )
    tables["uih_full_graph"] = history_table(full_walks.to_list(), st.sid_text)
    tables["uih_real"] = history_table(
        ho.real_history_chunks(st.full_sequences, st.holdout.users, length), st.sid_text
    )
    if general is not None:
        tables["general"] = general
    return {
        name: _capped(table, limit, seed, i)
        for i, (name, table) in enumerate(sorted(tables.items()))
    }


# ---------------------------------------------------------------------------
# Training modalities


def _budget_rows(table: pa.Table, budget: int | None, name: str) -> pa.Table:
    kept = truncate_to_budget(table, budget)
    tokens = int(np.sum(kept.column("num_tokens").to_numpy()))
    if budget is not None and tokens < 0.99 * budget:
        log.warning(
            "%s: only %d tokens exist, below its budget of %d (no repeats are made)",
            name,
            tokens,
            budget,
        )
    return kept


def _write_table(
    writer: _Writer, split: str, name: str, table: pa.Table, rows_per_shard: int
) -> None:
    starts = range(0, max(table.num_rows, 1), rows_per_shard)
    for index, lo in enumerate(starts):
        writer.shard(split, name, index, table.slice(lo, rows_per_shard))


def train_walk_blocks(
    writer: _Writer,
    refs: dict[str, Any],
    st: Structures,
    cfg: SynthConfig,
    seed: int,
    forbidden: set[str],
    num_workers: int,
) -> None:
    """Write uih training shards block by block until the walks or budget end."""
    budget = cfg.budget.for_modality("uih")
    natural = cfg.walks.walks_per_node * int(np.count_nonzero(st.graph.degrees()))
    first_round = natural if budget is None else budget / _tokens_per_walk(cfg, st)
    per_block = max(
        1, min(cfg.rows_per_shard, int(np.ceil(first_round / cfg.num_blocks)))
    )
    max_walk_tokens = _max_walk_tokens(st, cfg)
    tokens, next_block, started = 0, 0, time.perf_counter()

    while True:
        # Plan the next round of blocks: all natural walks, or enough for the budget.
        if budget is None:
            n_walks = natural
        else:
            est = _tokens_per_walk(cfg, st)
            n_walks = int(np.ceil((budget - tokens) / est * BUDGET_MARGIN)) + per_block
            n_walks += next_block * per_block
        n_blocks = int(np.ceil(n_walks / per_block))
        blocks = [
            WalkBlock(b, b * per_block, min((b + 1) * per_block, n_walks))
            for b in range(next_block, n_blocks)
        ]
        todo = [b for b in blocks if not writer.exists("train", "uih", b.block)]
        results = run_walk_blocks(refs, cfg.walks, _walk_seed(seed), todo, num_workers)
        done = False
        for block in blocks:
            table = None
            if not writer.exists("train", "uih", block.block):
                got, table = next(results)
                assert got == block.block, "Ray Data returned blocks out of order"
                table = _drop_eval_duplicates(table, forbidden)
                left = None if budget is None else budget - tokens
                table = truncate_to_budget(table, left)
            entry = writer.shard("train", "uih", block.block, table)
            tokens += entry["tokens"]
            _log_progress("uih", block, n_blocks, tokens, budget, started)
            if budget is not None and budget - tokens < max_walk_tokens:
                done = True  # the next walk could not fit
                break
        results.close()
        next_block = n_blocks
        if budget is None or done:
            return


def _walk_seed(seed: int) -> int:
    return seed * 1000 + STREAM_TRAIN_WALKS


def _tokens_per_walk(cfg: SynthConfig, st: Structures) -> float:
    """Mean LM tokens of a walk of mean target length (a planning estimate)."""
    sid_tokens = count_tokens(st.sid_text[1:]) - 1  # without the end-of-text token
    if cfg.walks.length == "real":
        length = float(np.mean(np.clip(st.real_lengths, 2, cfg.walks.walk_length)))
    else:
        length = float(cfg.walks.walk_length)
    return _prefix_tokens() + length * (float(np.mean(sid_tokens)) + 1)


def _max_walk_tokens(st: Structures, cfg: SynthConfig) -> int:
    sid_tokens = count_tokens(st.sid_text[1:]) - 1
    return _prefix_tokens() + cfg.walks.walk_length * (int(sid_tokens.max()) + 1)


def _prefix_tokens() -> int:
    """Tokens of the UIH template with no items, end-of-text included."""
    return int(count_tokens([uih_sentence([])])[0])


def _drop_eval_duplicates(table: pa.Table, forbidden: set[str]) -> pa.Table:
    """Drop walks whose text equals an eval history (rare; logged)."""
    import pyarrow.compute as pc

    if not forbidden or table.num_rows == 0:
        return table
    clash = pc.is_in(table.column("text"), value_set=pa.array(sorted(forbidden)))
    dropped = int(pc.sum(clash).as_py() or 0)
    if dropped:
        log.info("uih: dropped %d walks equal to an eval history", dropped)
    return table.filter(pc.invert(clash))


def steps_off_graph(table: pa.Table, graph: ItemGraph) -> int:
    """Walk steps (consecutive item pairs) that are not edges of `graph`."""
    ids = table.column("item_ids").combine_chunks()
    flat = ids.values.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = ids.offsets.to_numpy()
    if flat.size < 2:
        return 0
    inside = np.ones(flat.size, dtype=bool)
    inside[offsets[:-1]] = False  # no step into a walk's first item
    keys = flat[:-1] * graph.n_nodes + flat[1:]
    return int((~np.isin(keys[inside[1:]], graph.edge_keys())).sum())


def _log_progress(
    name: str,
    block: WalkBlock,
    n_blocks: int,
    tokens: int,
    budget: int | None,
    started: float,
) -> None:
    elapsed = time.perf_counter() - started
    target = f"/{budget:,}" if budget is not None else ""
    log.info(
        "%s: block %d/%d, %s%s tokens, %.1f s",
        name,
        block.block + 1,
        n_blocks,
        f"{tokens:,}",
        target,
        elapsed,
    )


# ---------------------------------------------------------------------------
# General text


def read_general_text(path: str, text_field: str) -> list[str]:
    source = Path(path)
    if not source.is_file():
        raise SynthrecError(f"synth.general.path: file not found: {source}")
    if source.suffix == ".parquet":
        frame = pd.read_parquet(source)
    elif source.suffix in (".jsonl", ".json"):
        frame = pd.read_json(source, lines=True)
    else:
        raise SynthrecError(f"synth.general.path: use .jsonl or .parquet, got {source}")
    if text_field not in frame.columns:
        raise SynthrecError(
            f"synth.general.text_field={text_field!r} not in {source} "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    return [t for t in frame[text_field].astype(str) if t.strip()]


def general_tables(cfg: SynthConfig, seed: int) -> tuple[pa.Table, pa.Table] | None:
    """(eval, train) general-text tables in a seeded order, or None."""
    if cfg.general.path is None:
        return None
    texts = read_general_text(cfg.general.path, cfg.general.text_field)
    table = _permuted(table_from_lists(texts, [[] for _ in texts]), seed, 99)
    n_eval = min(cfg.max_eval_rows_per_set, table.num_rows // 2)
    return table.slice(0, n_eval), table.slice(n_eval)


# ---------------------------------------------------------------------------
# The stage


def generate_corpus(
    prepared: PreparedData,
    sids: SemanticIds,
    cfg: SynthConfig,
    out_dir: Path,
    seed: int,
) -> dict[str, Any]:
    """Write the layered corpus under out_dir and return its manifest."""
    import ray

    started = time.perf_counter()
    out = Path(out_dir)
    _check_inputs(prepared, sids)
    key = _claim_out_dir(out, cfg, seed, _input_fingerprint(prepared, sids))
    num_workers = cfg.num_workers
    template = pick_item_template(cfg.item_template, list(prepared.items.columns))
    log.info("synth: config %s, seed %d, template %s -> %s", key, seed, template, out)

    st = build_structures(prepared, sids, cfg, seed, num_workers)
    general = general_tables(cfg, seed)
    evals = eval_tables(prepared, st, cfg, seed, template, general and general[0])
    writer = _Writer(out, cfg.write_jsonl, [])
    for name, table in evals.items():
        writer.shard("eval", name, 0, table)

    # Layer 1: item text for items not held out; CF rules not held out.
    seen = np.setdiff1d(np.arange(1, prepared.n_items + 1), st.holdout.items)
    items = _permuted(
        item_text_table(prepared.items, st.sid_text, seen, template), seed, 1
    )
    items = _budget_rows(items, cfg.budget.for_modality("item_text"), "item_text")
    _write_table(writer, "train", "item_text", items, cfg.rows_per_shard)
    split = ho.split_rules(
        st.rules, st.holdout.items, cfg.cf_holdout_pair_fraction, seed
    )
    cf = _permuted(cf_table(split["train"], st.sid_text), seed, 2)
    cf = _budget_rows(cf, cfg.budget.for_modality("cf"), "cf")
    _write_table(writer, "train", "cf", cf, cfg.rows_per_shard)

    # Layer 2: walks on Ray Data; the shared arrays go to the object store once.
    refs = {
        "graph": ray.put(st.graph),
        "tables": ray.put(alias_tables(st.graph)),
        "sid_text": ray.put(st.sid_text),
        "real_lengths": ray.put(st.real_lengths),
    }
    forbidden = {
        t
        for n in ("uih_ood", "uih_full_graph", "uih_real")
        for t in evals[n].column("text").to_pylist()
    }
    train_walk_blocks(writer, refs, st, cfg, seed, forbidden, num_workers)

    if general is not None:
        _write_general(writer, general[1], cfg)

    manifest = _manifest(writer.entries, key, cfg, seed, st, split, template)
    manifest["checks"] = check_disjoint(out, manifest, st.graph)
    write_json(out / MANIFEST_FILE, manifest)
    log.info(
        "synth: wrote %d shards, %s training tokens in %.1f s",
        len(writer.entries),
        f"{manifest['totals']['train_tokens']:,}",
        time.perf_counter() - started,
    )
    return manifest


def _write_general(writer: _Writer, table: pa.Table, cfg: SynthConfig) -> None:
    budget = cfg.budget.for_modality("general")
    if budget is None:
        others = sum(e["tokens"] for e in writer.entries if e["split"] == "train")
        budget = int(others * cfg.general.share / (1.0 - cfg.general.share))
    table = _budget_rows(table, budget, "general")
    _write_table(writer, "train", "general", table, cfg.rows_per_shard)


def _claim_out_dir(out: Path, cfg: SynthConfig, seed: int, inputs: str) -> str:
    """Record which config owns out_dir; shards of another config are removed."""
    key = config_hash({"synth": to_dict(cfg), "seed": seed, "inputs": inputs})
    marker = out / CONFIG_FILE
    if marker.exists() and read_json(marker).get("config_hash") == key:
        log.info("synth: resuming in %s (finished shards are kept)", out)
        return key
    stale = [*out.glob("*/*/part-*.parquet"), *out.glob("*/*/part-*.jsonl")]
    if marker.exists() or stale:
        log.warning(
            "synth: %s holds a corpus of another config or input; replacing its "
            "%d shards",
            out,
            len(stale),
        )
        for path in [*stale, out / MANIFEST_FILE]:
            path.unlink(missing_ok=True)
    write_json(marker, {"config_hash": key, "seed": seed, "synth": to_dict(cfg)})
    return key


def _manifest(
    entries: list[dict[str, Any]],
    key: str,
    cfg: SynthConfig,
    seed: int,
    st: Structures,
    split: dict[str, pd.DataFrame],
    template: str,
) -> dict[str, Any]:
    totals: dict[str, dict[str, dict[str, int]]] = {"train": {}, "eval": {}}
    for e in entries:
        t = totals[e["split"]].setdefault(
            e["name"], {"rows": 0, "tokens": 0, "shards": 0}
        )
        t["rows"] += e["rows"]
        t["tokens"] += e["tokens"]
        t["shards"] += 1
    return {
        "config_hash": key,
        "seed": seed,
        "config": to_dict(cfg),
        "item_template": template,
        "shards": entries,
        "totals": {
            **totals,
            "train_tokens": sum(t["tokens"] for t in totals["train"].values()),
        },
        "graph": st.graph.stats(),
        "full_graph": st.full_graph.stats(),
        "rules": {name: len(frame) for name, frame in split.items()},
        "holdout": {
            "items": int(st.holdout.items.size),
            "users": int(st.holdout.users.size),
        },
    }


# ---------------------------------------------------------------------------
# Checks and readers


def _read_split(
    root: Path, manifest: dict[str, Any], split: str, name: str
) -> pa.Table:
    paths = [
        root / e["path"]
        for e in manifest["shards"]
        if e["split"] == split and e["name"] == name
    ]
    if not paths:
        return empty_table()
    return pa.concat_tables([pq.read_table(p) for p in paths])


def _item_keys(table: pa.Table) -> set[tuple[int, ...]]:
    return {tuple(x) for x in table.column("item_ids").to_pylist()}


def check_disjoint(
    root: Path, manifest: dict[str, Any], graph: ItemGraph | None = None
) -> dict[str, Any]:
    """Re-read the shards; count eval rows (texts, items, pairs) found in training.

    Raises SynthrecError when any count is not zero.
    """
    evals = {
        n: _read_split(root, manifest, "eval", n) for n in manifest["totals"]["eval"]
    }
    eval_texts = {n: set(t.column("text").to_pylist()) for n, t in evals.items()}
    eval_keys = {n: _item_keys(t) for n, t in evals.items() if n.startswith("cf_")}
    eval_keys["item_text"] = _item_keys(evals["item_text"])
    checks = {f"{n}.text_in_train": 0 for n in evals}
    checks.update({f"{n}.items_in_train": 0 for n in eval_keys})
    checks["uih.steps_off_train_graph"] = 0

    # Stream the training shards once; eval sets are small enough to hold.
    for entry in manifest["shards"]:
        if entry["split"] != "train":
            continue
        table = pq.read_table(root / entry["path"])
        texts = table.column("text").to_pylist()
        for name, held in eval_texts.items():
            checks[f"{name}.text_in_train"] += sum(t in held for t in texts)
        if entry["name"] in ("cf", "item_text"):
            keys = _item_keys(table)
            for name, held in eval_keys.items():
                if name.startswith("cf_") == (entry["name"] == "cf"):
                    checks[f"{name}.items_in_train"] += len(keys & held)
        if graph is not None and entry["name"] == "uih":
            checks["uih.steps_off_train_graph"] += steps_off_graph(table, graph)
    checks["passed"] = all(v == 0 for v in checks.values())
    if not checks["passed"]:
        raise SynthrecError(f"evaluation rows leak into training: {checks}")
    return checks


def read_walk_sequences(corpus_dir: str | Path) -> list[np.ndarray]:
    """Item-id walks of the uih training shards, in manifest order (for SASRec)."""
    root = Path(corpus_dir)
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise SynthrecError(
            f"no corpus manifest at {manifest_path}; run synthrec generate"
        )
    manifest = read_json(manifest_path)
    table = _read_split(root, manifest, "train", "uih")
    ids = table.column("item_ids").combine_chunks()
    flat = ids.values.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = ids.offsets.to_numpy()
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def iter_corpus_texts(corpus_dir: str | Path, split: str, name: str) -> Iterator[str]:
    """The texts of one modality or eval set (handy for inspection)."""
    root = Path(corpus_dir)
    manifest = read_json(root / MANIFEST_FILE)
    yield from _read_split(root, manifest, split, name).column("text").to_pylist()


__all__ = [
    "check_disjoint",
    "generate_corpus",
    "iter_corpus_texts",
    "read_walk_sequences",
]
