"""Cleaning a RawLog into the canonical form: pure functions over arrays.

The steps, in order: implicit-feedback rule, seeded user subset, event order
(timestamp, then the source's own sub-second order, then a seeded random key
that never looks at item ids), de-duplication, iterative k-core, re-indexing
(users 0.. in source-id order, items 1.. in order of first appearance in time,
0 = padding) and the split. Each step is logged with counts, and the counts
are returned for the manifest.
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


@dataclass
class CleanLog:
    interactions: pd.DataFrame
    items: pd.DataFrame
    n_users: int
    n_items: int
    report: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- pure steps


def tiebreak_keys(n_rows: int, seed: int) -> np.ndarray:
    """A seeded random rank per row (in file order) that orders tied events."""
    return np.random.default_rng(seed).permutation(n_rows).astype(np.int64)


def event_order(
    users: np.ndarray,
    timestamps: np.ndarray,
    sub_second: np.ndarray,
    tiebreak: np.ndarray,
) -> np.ndarray:
    """Row order by user, then time, then sub-second order, then the random key."""
    return np.lexsort((tiebreak, sub_second, timestamps, users))


def tied_rows(users: np.ndarray, timestamps: np.ndarray, sub_second: np.ndarray) -> int:
    """Rows (already in event order) that share their (user, time) with another."""
    if len(users) < 2:
        return 0
    same = (
        (users[1:] == users[:-1])
        & (timestamps[1:] == timestamps[:-1])
        & (sub_second[1:] == sub_second[:-1])
    )
    tied = np.zeros(len(users), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    return int(tied.sum())


def sample_users(user_codes: np.ndarray, max_users: int, seed: int) -> np.ndarray:
    """Mask of rows whose user is in a seeded random subset of `max_users`."""
    n_users = int(user_codes.max()) + 1
    if max_users >= n_users:
        return np.ones(len(user_codes), dtype=bool)
    chosen = np.random.default_rng(seed).choice(n_users, max_users, replace=False)
    wanted = np.zeros(n_users, dtype=bool)
    wanted[chosen] = True
    return wanted[user_codes]


def duplicate_mask(
    users: np.ndarray, items: np.ndarray, timestamps: np.ndarray, policy: str
) -> tuple[np.ndarray, int, int]:
    """Keep-mask for rows in event order; exact duplicate events (same user,
    item, time) always collapse, repeated pairs follow `policy`.

    Returns (keep, exact duplicates dropped, repeats dropped).
    """
    frame = pd.DataFrame({"u": users, "i": items, "t": timestamps})
    exact = frame.duplicated(["u", "i", "t"], keep="first").to_numpy()
    keep = ~exact
    repeats = np.zeros(len(users), dtype=bool)
    if policy != "keep_all":
        which = "first" if policy == "keep_first" else "last"
        repeats = frame[keep].duplicated(["u", "i"], keep=which).to_numpy()
        keep[np.flatnonzero(keep)[repeats]] = False
    return keep, int(exact.sum()), int(repeats.sum())


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
            (int(keep.sum()), len(np.unique(users[keep])), len(np.unique(items[keep])))
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
    in_time = items[global_order]
    codes, first_pos = np.unique(in_time, return_index=True)
    ranked = codes[np.argsort(first_pos, kind="stable")]
    new_id = np.zeros(int(items.max()) + 1, dtype=np.int64)
    new_id[ranked] = np.arange(1, len(ranked) + 1)
    return new_id[items]


# ---------------------------------------------------------------- the pipeline


def clean_log(raw: RawLog, cfg: DataConfig, seed: int) -> CleanLog:
    """Run every cleaning step on `raw` and build the canonical tables."""
    frame = raw.interactions
    report: dict[str, Any] = {"raw_rows": len(frame), "skipped_rows": raw.skipped}
    log.info(
        "raw log: %d interactions, %d users, %d items",
        len(frame),
        frame["user_id"].nunique(),
        frame["item_id"].nunique(),
    )

    # The random tie-break key belongs to each row from the start, so filtering
    # never changes how the surviving rows are ordered.
    frame = frame.assign(_tiebreak=tiebreak_keys(len(frame), seed))
    frame = _implicit(frame, cfg, report)
    frame = _subset(frame, cfg, seed, report)
    users, items, frame = _codes(frame)
    frame, users, items = _ordered_and_deduped(frame, users, items, cfg, report)
    frame, users, items = _kcore(frame, users, items, cfg, report)
    return _reindexed_and_split(frame, users, items, raw.items, cfg, report)


def _implicit(frame: pd.DataFrame, cfg: DataConfig, report: dict) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    if cfg.min_rating is not None:
        ratings = frame["rating"].to_numpy()
        if np.isnan(ratings).all():
            raise SynthrecError(
                f"data.min_rating={cfg.min_rating} is set but "
                f"{cfg.dataset} has no ratings; use null"
            )
        keep &= ratings >= cfg.min_rating
    if cfg.event_types is not None:
        if "event" not in frame.columns:
            raise SynthrecError(
                f"data.event_types is set but {cfg.dataset} has no "
                "event column; use null"
            )
        known = set(frame["event"].unique())
        unknown = sorted(set(cfg.event_types) - known)
        if unknown:
            raise SynthrecError(
                f"data.event_types: {unknown} never occur; the log has {sorted(known)}"
            )
        keep &= frame["event"].isin(cfg.event_types).to_numpy()
    report["after_implicit_rule"] = int(keep.sum())
    log.info(
        "implicit rule (min_rating=%s, event_types=%s): kept %d of %d",
        cfg.min_rating,
        cfg.event_types,
        keep.sum(),
        len(frame),
    )
    if not keep.any():
        raise SynthrecError("no interactions pass the implicit-feedback rule")
    return frame.loc[keep].reset_index(drop=True)


def _subset(
    frame: pd.DataFrame, cfg: DataConfig, seed: int, report: dict
) -> pd.DataFrame:
    if cfg.max_users is None:
        return frame
    codes, uniques = pd.factorize(frame["user_id"], sort=True)
    keep = sample_users(codes, cfg.max_users, seed)
    report["after_max_users"] = int(keep.sum())
    log.info(
        "max_users=%d: kept %d of %d users (%d interactions)",
        cfg.max_users,
        min(cfg.max_users, len(uniques)),
        len(uniques),
        keep.sum(),
    )
    return frame.loc[keep].reset_index(drop=True)


def _codes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Dense user codes in source-id order, and dense item codes."""
    users, _ = pd.factorize(frame["user_id"], sort=True)
    items, _ = pd.factorize(frame["item_id"])
    return users.astype(np.int64), items.astype(np.int64), frame


def _sub_second(frame: pd.DataFrame) -> np.ndarray:
    if "event_order" in frame.columns:
        return frame["event_order"].to_numpy(np.int64)
    return np.zeros(len(frame), dtype=np.int64)


def _ordered_and_deduped(
    frame: pd.DataFrame,
    users: np.ndarray,
    items: np.ndarray,
    cfg: DataConfig,
    report: dict,
):
    order = event_order(
        users,
        frame["timestamp"].to_numpy(),
        _sub_second(frame),
        frame["_tiebreak"].to_numpy(),
    )
    frame = frame.take(order).reset_index(drop=True)
    users, items = users[order], items[order]

    keep, exact, repeats = duplicate_mask(
        users, items, frame["timestamp"].to_numpy(), cfg.dedupe
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
    return frame.loc[keep].reset_index(drop=True), users[keep], items[keep]


def _kcore(
    frame: pd.DataFrame,
    users: np.ndarray,
    items: np.ndarray,
    cfg: DataConfig,
    report: dict,
):
    keep, rounds = kcore(
        users, items, cfg.min_user_interactions, cfg.min_item_interactions
    )
    for number, (rows, n_users, n_items) in enumerate(rounds, start=1):
        log.info(
            "k-core round %d (users >= %d, items >= %d): %d interactions, "
            "%d users, %d items",
            number,
            cfg.min_user_interactions,
            cfg.min_item_interactions,
            rows,
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
    return frame.loc[keep].reset_index(drop=True), users[keep], items[keep]


def _reindexed_and_split(
    frame: pd.DataFrame,
    users: np.ndarray,
    items: np.ndarray,
    raw_items: pd.DataFrame,
    cfg: DataConfig,
    report: dict,
) -> CleanLog:
    timestamps = frame["timestamp"].to_numpy(np.int64)
    sub_second = _sub_second(frame)
    user_idx = np.unique(users, return_inverse=True)[1].astype(np.int64)
    global_order = np.lexsort((frame["_tiebreak"].to_numpy(), sub_second, timestamps))
    item_idx = first_appearance_ids(items, global_order)
    n_users, n_items = int(user_idx.max()) + 1, int(item_idx.max())

    # Split, and record what was used.
    if cfg.split == "leave_one_out":
        codes = leave_one_out(user_idx)
    else:
        codes, valid_from, test_from = temporal_split(
            timestamps, cfg.temporal_valid_quantile, cfg.temporal_test_quantile
        )
        report["temporal_cuts"] = {"valid_after": valid_from, "test_after": test_from}
    ties = tied_rows(user_idx, timestamps, sub_second)
    report.update(
        _split_counts(codes, cfg.split),
        tied_rows=ties,
        tie_break="source order"
        if "event_order" in frame.columns
        else "seeded shuffle",
    )
    log.info(
        "%d interactions, %d users, %d items; %d rows (%.1f%%) share (user, "
        "timestamp) with another, ordered by %s",
        len(frame),
        n_users,
        n_items,
        ties,
        100 * ties / len(frame),
        report["tie_break"],
    )

    interactions = pd.DataFrame(
        {
            "user_idx": user_idx,
            "item_idx": item_idx,
            "timestamp": timestamps,
            "rating": frame["rating"].to_numpy(np.float32),
            "split": pd.Series(np.array(SPLITS, dtype=object)[codes], dtype=str),
        }
    )
    if "event" in frame.columns:
        interactions["event"] = frame["event"].astype(str).to_numpy()
    items_out = _item_table(frame["item_id"].to_numpy(), item_idx, raw_items, n_items)
    report["items_with_text"] = int((items_out["text"] != "").sum())
    return CleanLog(interactions, items_out, n_users, n_items, report)


def _split_counts(codes: np.ndarray, split: str) -> dict[str, Any]:
    counts = np.bincount(codes, minlength=3)
    log.info("split %s: train %d, valid %d, test %d", split, *counts)
    return {
        "split": split,
        **{f"{name}_rows": int(c) for name, c in zip(SPLITS, counts, strict=True)},
    }


def _item_table(
    source_ids: np.ndarray, item_idx: np.ndarray, raw_items: pd.DataFrame, n_items: int
) -> pd.DataFrame:
    """items.parquet rows 1..n_items joined with the source's metadata."""
    first = np.unique(item_idx, return_index=True)[1]
    keys = pd.DataFrame({"item_idx": item_idx[first], "item_id": source_ids[first]})
    assert len(keys) == n_items and keys["item_idx"].iloc[-1] == n_items
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
    return table.sort_values("item_idx", kind="stable").reset_index(drop=True)
