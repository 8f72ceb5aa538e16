"""Summary statistics of a prepared dataset: a dict for JSON, a table for people."""

import time
from typing import Any

import numpy as np

from synthrec.datasets.prepared import SPLITS, PreparedData

PERCENTILES = (5, 25, 50, 75, 95, 99)
_TEXT_FIELDS = ("title", "text", "genres", "tags", "brand", "store", "categories")


def dataset_stats(data: PreparedData) -> dict[str, Any]:
    """Counts, density, sequence lengths, ties and item-text coverage."""
    frame = data.interactions
    users = frame["user_idx"].to_numpy()
    times = frame["timestamp"].to_numpy()
    lengths = np.bincount(users, minlength=data.n_users)
    n = len(frame)
    cleaning = data.manifest.get("cleaning", {})
    stats: dict[str, Any] = {
        "dataset": data.manifest.get("dataset", "?"),
        "users": data.n_users,
        "items": data.n_items,
        "interactions": n,
        "density": n / (data.n_users * data.n_items),
        "seq_len": {
            "mean": float(lengths.mean()),
            "min": int(lengths.min()),
            "max": int(lengths.max()),
            **{f"p{q}": float(np.percentile(lengths, q)) for q in PERCENTILES},
        },
        "tied_rows": _tied_rows(users, times),
        "time_first": int(times.min()),
        "time_last": int(times.max()),
        "split": cleaning.get("split", "?"),
        "split_rows": {s: int((frame["split"] == s).sum()) for s in SPLITS},
        "text_coverage": _text_coverage(data),
    }
    stats["tied_fraction"] = stats["tied_rows"] / n
    stats["raw_rows"] = cleaning.get("raw_rows")
    stats["source_items_with_metadata"] = cleaning.get("source_items_with_metadata")
    return stats


def _tied_rows(users: np.ndarray, times: np.ndarray) -> int:
    same = (users[1:] == users[:-1]) & (times[1:] == times[:-1])
    tied = np.zeros(len(users), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    return int(tied.sum())


def _text_coverage(data: PreparedData) -> dict[str, float]:
    """Share of items with a non-empty value in each text field they have."""
    items = data.items
    out = {}
    for column in _TEXT_FIELDS:
        if column in items.columns:
            values = items[column].fillna("").astype(str).str.strip()
            out[column] = float((values != "").mean())
    if "year" in items.columns:
        out["year"] = float(items["year"].notna().mean())
    return out


def format_stats(stats: dict[str, Any]) -> str:
    """A two-column table of the headline numbers."""
    seq = stats["seq_len"]
    first, last = (
        time.strftime("%Y-%m-%d", time.gmtime(stats[k]))
        for k in ("time_first", "time_last")
    )
    source = (stats.get("raw_rows") or 0, stats.get("source_items_with_metadata") or 0)
    rows = [
        ("dataset", stats["dataset"]),
        ("source rows / items listed", f"{source[0]:,} / {source[1]:,}"),
        ("users", f"{stats['users']:,}"),
        ("items", f"{stats['items']:,}"),
        ("interactions", f"{stats['interactions']:,}"),
        ("density", f"{stats['density']:.4%}"),
        (
            "seq len mean / min / max",
            f"{seq['mean']:.1f} / {seq['min']} / {seq['max']}",
        ),
        (
            "seq len p5 / p25 / p50",
            f"{seq['p5']:.0f} / {seq['p25']:.0f} / {seq['p50']:.0f}",
        ),
        (
            "seq len p75 / p95 / p99",
            f"{seq['p75']:.0f} / {seq['p95']:.0f} / {seq['p99']:.0f}",
        ),
        (
            "rows tied on (user, time)",
            f"{stats['tied_rows']:,} ({stats['tied_fraction']:.1%})",
        ),
        ("time span (UTC)", f"{first} .. {last}"),
        (
            f"split ({stats['split']})",
            " / ".join(f"{k} {v:,}" for k, v in stats["split_rows"].items()),
        ),
    ]
    rows += [
        (f"text coverage: {k}", f"{v:.1%}") for k, v in stats["text_coverage"].items()
    ]
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k:<{width}}  {v}\n" for k, v in rows)
