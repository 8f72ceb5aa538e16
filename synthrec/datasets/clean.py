"""Cleaning a RawLog into the canonical form: pure functions over arrays.

The steps, in order: the implicit-feedback rule, a seeded user subset, event
order (user, timestamp, the source's own sub-second order, and for events that
still tie a seeded random rank given to every source row, so ties are never
resolved by file or item-id order), de-duplication, iterative k-core,
re-indexing (users 0.. in source-id order, items 1.. in order of first
appearance in time, 0 = padding) and the split. Each step is logged with
counts, and the counts are returned for the manifest.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthrec.datasets.config import DataConfig
from synthrec.datasets.prepared import SPLITS
from synthrec.datasets.readers import RawLog
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

TRAIN, VALID, TEST = 0, 1, 2
_INT64_LIMIT = 2**62  # headroom below 2**63 when packing two keys into one


@dataclass
class CleanLog:
    interactions: pd.DataFrame
    items: pd.DataFrame
    n_users: int
    n_items: int
    report: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- pure steps


def packed_key(major: np.ndarray, minor: np.ndarray) -> np.ndarray | None:
    """One int64 key ordering like (major, minor), or None if it would overflow."""
    if len(major) == 0:
        return np.zeros(0, dtype=np.int64)
    major = major - major.min()
    minor = minor - minor.min()
    span = int(minor.max()) + 1
    if (int(major.max()) + 1) * span >= _INT64_LIMIT:
        return None
    return major * span + minor


def stable_order(*keys: np.ndarray) -> np.ndarray:
    """Row order by keys[0], then keys[1], ...; equal rows keep their order."""
    keys = tuple(k for k in keys if len(k) and k.min() != k.max()) or keys[:1]
    packed = keys[-1]
    for major in reversed(keys[:-1]):
        packed = packed_key(major, packed) if packed is not None else None
    if packed is not None:
        return np.argsort(packed, kind="stable")
    return np.lexsort(tuple(reversed(keys)))  # lexsort is stable too


def event_order(
    users: np.ndarray,
    timestamps: np.ndarray,
    sub_second: np.ndarray,
    tiebreak: np.ndarray,
) -> np.ndarray:
    """Row order by (user, time, sub-second); rows that tie on all three are
    ordered by `tiebreak` (a random rank), never by their position or item."""
    order = stable_order(users, timestamps, sub_second)
    starts = group_starts(users[order], timestamps[order], sub_second[order])
    group = np.cumsum(starts) - 1
    tied = np.flatnonzero(np.bincount(group)[group] > 1)
    if len(tied):
        # Tie groups sit in contiguous runs: reorder each run by its random rank.
        within = stable_order(group[tied], tiebreak[order[tied]])
        order[tied] = order[tied][within]
    return order


def group_starts(*keys: np.ndarray) -> np.ndarray:
    """For rows sorted by keys: True where a new (key, ...) group begins."""
    starts = np.ones(len(keys[0]), dtype=bool)
    if len(starts) > 1:
        same = np.ones(len(starts) - 1, dtype=bool)
        for key in keys:
            same &= key[1:] == key[:-1]
        starts[1:] = ~same
    return starts


def tied_rows(users: np.ndarray, timestamps: np.ndarray, sub_second: np.ndarray) -> int:
    """Rows (in event order) that share their (user, time) with another row."""
    starts = group_starts(users, timestamps, sub_second)
    group = np.cumsum(starts) - 1
    sizes = np.bincount(group)
    return int((sizes[group] > 1).sum())


def sample_users(user_codes: np.ndarray, max_users: int, seed: int) -> np.ndarray:
    """Mask of rows whose user is in a seeded random subset of `max_users`."""
    n_users = int(user_codes.max()) + 1
    if max_users >= n_users:
        return np.ones(len(user_codes), dtype=bool)
    rng = np.random.default_rng([seed, 1])  # a stream apart from the tie ranks
    wanted = np.zeros(n_users, dtype=bool)
    wanted[rng.choice(n_users, max_users, replace=False)] = True
    return wanted[user_codes]


def duplicate_mask(
    users: np.ndarray, items: np.ndarray, timestamps: np.ndarray, policy: str
) -> tuple[np.ndarray, int, int]:
    """Keep-mask for rows in event order. Exact duplicate events (same user,
    item and second) always collapse; repeated (user, item) pairs follow
    `policy`. Returns (keep, exact duplicates dropped, repeats dropped)."""
    pairs = pd.factorize(users * (int(items.max()) + 1) + items)[0]
    first = first_occurrence(pairs)

    # Exact duplicates can only be among pairs that occur more than once.
    exact = np.zeros(len(users), dtype=bool)
    if not first.all():
        moment = np.cumsum(group_starts(users, timestamps)) - 1
        rows = np.flatnonzero(np.bincount(pairs)[pairs] > 1)
        key = pairs[rows] * (int(moment[-1]) + 1) + moment[rows]
        exact[rows] = pd.Series(key).duplicated().to_numpy()

    keep = ~exact
    if policy == "keep_first":
        keep &= first
    elif policy == "keep_last":
        kept = np.flatnonzero(keep)
        reversed_pairs = pd.factorize(pairs[kept][::-1])[0]
        keep[kept[~first_occurrence(reversed_pairs)[::-1]]] = False
    return keep, int(exact.sum()), int((~keep).sum() - exact.sum())


def first_occurrence(codes: np.ndarray) -> np.ndarray:
    """For codes numbered in order of first appearance (pd.factorize): True
    where a code appears for the first time."""
    running_max = np.maximum.accumulate(codes)
    first = np.ones(len(codes), dtype=bool)
    first[1:] = running_max[1:] > running_max[:-1]
    return first


def kcore(
    users: np.ndarray, items: np.ndarray, min_user: int, min_item: int
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Keep-mask after repeatedly dropping users with < min_user interactions
    and items with < min_item, until nothing changes.

    Returns the mask and (rows, users, items) left after each round.
    """
    keep = np.ones(len(users), dtype=bool)
    rounds = []
    while True:
        u, i = users[keep], items[keep]
        user_count = np.bincount(u)
        item_count = np.bincount(i)
        ok = (user_count[u] >= min_user) & (item_count[i] >= min_item)
        if ok.all():
            return keep, rounds
        keep[np.flatnonzero(keep)[~ok]] = False
        rounds.append(
            (
                int(keep.sum()),
                int(np.count_nonzero(np.bincount(users[keep]))),
                int(np.count_nonzero(np.bincount(items[keep]))),
            )
        )


def leave_one_out(users: np.ndarray) -> np.ndarray:
    """Split codes for rows in (user, event) order: last = test, one before =
    valid, the rest train."""
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    from_end = counts[users] - 1 - (np.arange(len(users)) - starts[users])
    return np.where(from_end == 0, TEST, np.where(from_end == 1, VALID, TRAIN))


def temporal_split(
    timestamps: np.ndarray, valid_q: float, test_q: float
) -> tuple[np.ndarray, int, int]:
    """Global cut by time: up to the valid_q quantile train, up to test_q valid,
    after it test. Returns codes and the two cut timestamps."""
    valid_from = int(np.quantile(timestamps, valid_q, method="lower"))
    test_from = int(np.quantile(timestamps, test_q, method="lower"))
    codes = np.where(
        timestamps > test_from, TEST, np.where(timestamps > valid_from, VALID, TRAIN)
    )
    return codes, valid_from, test_from


def first_appearance_ids(items: np.ndarray, global_order: np.ndarray) -> np.ndarray:
    """New ids 1..n for item codes, numbered by first appearance in time."""
    # factorize numbers values in order of first appearance.
    _, ranked = pd.factorize(items[global_order])
    new_id = np.zeros(int(items.max()) + 1, dtype=np.int64)
    new_id[np.asarray(ranked)] = np.arange(1, len(ranked) + 1)
    return new_id[items]


# ---------------------------------------------------------------- the pipeline


@dataclass
class _Rows:
    """The log as parallel arrays; ids are dense codes into `*_ids`."""

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    sub_second: np.ndarray
    rating: np.ndarray
    event: np.ndarray | None
    tiebreak: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    event_names: np.ndarray | None

    def take(self, index: np.ndarray) -> "_Rows":
        """The rows at `index` (an order or a boolean mask)."""
        return _Rows(
            self.user[index],
            self.item[index],
            self.timestamp[index],
            self.sub_second[index],
            self.rating[index],
            None if self.event is None else self.event[index],
            self.tiebreak[index],
            self.user_ids,
            self.item_ids,
            self.event_names,
        )

    def __len__(self) -> int:
        return len(self.user)


def clean_log(raw: RawLog, cfg: DataConfig, seed: int) -> CleanLog:
    """Run every cleaning step on `raw` and build the canonical tables."""
    report: dict[str, Any] = {
        "raw_rows": len(raw.interactions),
        "skipped_rows": raw.skipped,
        "source_items_with_metadata": len(raw.items),
    }
    rows = _rows(raw, seed)
    log.info(
        "raw log: %d interactions, %d users, %d items",
        len(rows),
        len(rows.user_ids),
        len(rows.item_ids),
    )
    rows = _implicit(rows, cfg, report)
    rows = _subset(rows, cfg, seed, report)
    rows = _ordered_and_deduped(rows, cfg, report)
    rows = _kcore(rows, cfg, report)
    return _reindexed_and_split(rows, raw, cfg, report)


def _rows(raw: RawLog, seed: int) -> _Rows:
    """The log as arrays, each row with a seeded random rank for breaking ties.

    The rank belongs to the source row, so it does not change with filtering
    or with how items are numbered.
    """
    frame = raw.interactions
    users, user_ids = pd.factorize(frame["user_id"], sort=True)
    items, item_ids = pd.factorize(frame["item_id"])
    event = event_names = None
    if "event" in frame.columns:
        event, event_names = pd.factorize(frame["event"])
    sub_second = (
        frame["event_order"].to_numpy(np.int64)
        if "event_order" in frame.columns
        else np.zeros(len(frame), dtype=np.int64)
    )
    return _Rows(
        users.astype(np.int64),
        items.astype(np.int64),
        frame["timestamp"].to_numpy(np.int64),
        sub_second,
        frame["rating"].to_numpy(np.float32),
        event,
        np.random.default_rng(seed).permutation(len(frame)),
        np.asarray(user_ids),
        np.asarray(item_ids),
        None if event_names is None else np.asarray(event_names, dtype=object),
    )


def _implicit(rows: _Rows, cfg: DataConfig, report: dict) -> _Rows:
    keep = np.ones(len(rows), dtype=bool)
    if cfg.min_rating is not None:
        if np.isnan(rows.rating).all():
            raise SynthrecError(
                f"data.min_rating={cfg.min_rating} is set but "
                f"{cfg.dataset} has no ratings; use null"
            )
        keep &= rows.rating >= cfg.min_rating
    if cfg.event_types is not None:
        keep &= _event_mask(rows, cfg)
    report["after_implicit_rule"] = int(keep.sum())
    log.info(
        "implicit rule (min_rating=%s, event_types=%s): kept %d of %d",
        cfg.min_rating,
        cfg.event_types,
        keep.sum(),
        len(rows),
    )
    if not keep.any():
        raise SynthrecError("no interactions pass the implicit-feedback rule")
    return rows.take(keep)


def _event_mask(rows: _Rows, cfg: DataConfig) -> np.ndarray:
    if rows.event is None or rows.event_names is None:
        raise SynthrecError(
            f"data.event_types is set but {cfg.dataset} has no event column; use null"
        )
    known = [str(e) for e in rows.event_names]
    unknown = sorted(set(cfg.event_types or []) - set(known))
    if unknown:
        raise SynthrecError(
            f"data.event_types: {unknown} never occur; the log has {sorted(known)}"
        )
    wanted = np.isin(np.array(known, dtype=object), cfg.event_types)
    return wanted[rows.event]


def _subset(rows: _Rows, cfg: DataConfig, seed: int, report: dict) -> _Rows:
    if cfg.max_users is None:
        return rows
    present = np.unique(rows.user)
    dense = np.searchsorted(present, rows.user)
    keep = sample_users(dense, cfg.max_users, seed)
    report["after_max_users"] = int(keep.sum())
    log.info(
        "max_users=%d: kept %d of %d users (%d interactions)",
        cfg.max_users,
        min(cfg.max_users, len(present)),
        len(present),
        keep.sum(),
    )
    return rows.take(keep)


def _ordered_and_deduped(rows: _Rows, cfg: DataConfig, report: dict) -> _Rows:
    rows = rows.take(
        event_order(rows.user, rows.timestamp, rows.sub_second, rows.tiebreak)
    )
    keep, exact, repeats = duplicate_mask(
        rows.user, rows.item, rows.timestamp, cfg.dedupe
    )
    report["duplicates_exact"] = exact
    report["duplicates_repeated_pairs"] = repeats
    log.info(
        "de-duplication (%s): dropped %d exact duplicate events and %d "
        "repeated (user, item) pairs",
        cfg.dedupe,
        exact,
        repeats,
    )
    return rows.take(keep)


def _kcore(rows: _Rows, cfg: DataConfig, report: dict) -> _Rows:
    keep, rounds = kcore(
        rows.user, rows.item, cfg.min_user_interactions, cfg.min_item_interactions
    )
    for number, (n_rows, n_users, n_items) in enumerate(rounds, start=1):
        log.info(
            "k-core round %d (users >= %d, items >= %d): %d interactions, "
            "%d users, %d items",
            number,
            cfg.min_user_interactions,
            cfg.min_item_interactions,
            n_rows,
            n_users,
            n_items,
        )
    report["kcore_rounds"] = [list(r) for r in rounds]
    if not keep.any():
        raise SynthrecError(
            f"no interactions survive the k-core filter (users >= "
            f"{cfg.min_user_interactions}, items >= {cfg.min_item_interactions}); "
            "lower data.min_user_interactions / data.min_item_interactions"
        )
    return rows.take(keep)


def _reindexed_and_split(
    rows: _Rows, raw: RawLog, cfg: DataConfig, report: dict
) -> CleanLog:
    # Users keep their source-id order (rows are sorted by user code).
    user_idx = np.cumsum(group_starts(rows.user)) - 1
    item_idx = first_appearance_ids(
        rows.item, stable_order(rows.timestamp, rows.sub_second)
    )
    n_users, n_items = int(user_idx[-1]) + 1, int(item_idx.max())

    if cfg.split == "leave_one_out":
        codes = leave_one_out(user_idx)
    else:
        codes, valid_from, test_from = temporal_split(
            rows.timestamp, cfg.temporal_valid_quantile, cfg.temporal_test_quantile
        )
        report["temporal_cuts"] = {"valid_after": valid_from, "test_after": test_from}
    ties = tied_rows(user_idx, rows.timestamp, rows.sub_second)
    report.update(
        _split_counts(codes, cfg.split),
        tied_rows=ties,
        tie_break="source order" if raw.has_event_order else "seeded shuffle",
    )
    log.info(
        "%d interactions, %d users, %d items; %d rows (%.1f%%) share (user, "
        "timestamp) with another, ordered by %s",
        len(rows),
        n_users,
        n_items,
        ties,
        100 * ties / len(rows),
        report["tie_break"],
    )

    interactions = pd.DataFrame(
        {
            "user_idx": user_idx.astype(np.int64),
            "item_idx": item_idx,
            "timestamp": rows.timestamp,
            "rating": rows.rating,
            "split": pd.Series(np.array(SPLITS, dtype=object)[codes], dtype=str),
        }
    )
    if rows.event is not None and rows.event_names is not None:
        interactions["event"] = pd.Series(rows.event_names[rows.event], dtype=str)
    items = _item_table(rows, item_idx, raw.items, n_items)
    report["items_with_text"] = int((items["text"] != "").sum())
    return CleanLog(interactions, items, n_users, n_items, report)


def _split_counts(codes: np.ndarray, split: str) -> dict[str, Any]:
    counts = np.bincount(codes, minlength=3)
    log.info("split %s: train %d, valid %d, test %d", split, *counts)
    return {
        "split": split,
        **{f"{name}_rows": int(c) for name, c in zip(SPLITS, counts, strict=True)},
    }


def _item_table(
    rows: _Rows, item_idx: np.ndarray, raw_items: pd.DataFrame, n_items: int
) -> pd.DataFrame:
    """items.parquet rows 1..n_items joined with the source's metadata."""
    source_of = np.zeros(n_items + 1, dtype=np.int64)
    source_of[item_idx] = rows.item
    keys = pd.DataFrame(
        {"item_idx": np.arange(1, n_items + 1), "item_id": rows.item_ids[source_of[1:]]}
    )
    # Join on the ids' text form: a metadata file may type them differently.
    keys["item_id"] = keys["item_id"].astype(str)
    meta = raw_items.assign(item_id=raw_items["item_id"].astype(str))
    table = keys.merge(meta, on="item_id", how="left", validate="one_to_one")
    missing = int(table["text"].isna().sum()) if "text" in table else n_items
    if missing:
        log.info(
            "%d of %d items have no metadata row (empty title and text)",
            missing,
            n_items,
        )
    for column in ("title", "text"):
        table[column] = table[column].fillna("").astype(str) if column in table else ""
    table.insert(1, "source_item_id", table.pop("item_id"))
    return table
