"""The data stage: resolve a source, load, clean, split, cache.

`prepare_dataset` writes interactions.parquet, items.parquet and manifest.json
into `out_dir`. The manifest records the source files' checksums, the cleaning
settings and the seed; a later call with the same source bytes and settings
reuses the cached tables instead of rebuilding them.
"""

import logging
from pathlib import Path
from typing import Any

import numpy as np

from synthrec import __version__
from synthrec.configtools import config_hash, to_dict
from synthrec.datasets.clean import clean_log
from synthrec.datasets.config import DataConfig
from synthrec.datasets.download import file_digest
from synthrec.datasets.prepared import (
    INTERACTIONS_FILE,
    ITEMS_FILE,
    MANIFEST_FILE,
    SPLITS,
    PreparedData,
)
from synthrec.datasets.registry import Source, get_source, resolve_folder
from synthrec.errors import SynthrecError
from synthrec.io import read_json, sha256_file

log = logging.getLogger(__name__)

# Bump when the cleaning rules or output schema change: old caches are rebuilt.
FORMAT_VERSION = 4


def prepare_dataset(
    cfg: DataConfig, out_dir: str | Path, seed: int, source: Source | None = None
) -> PreparedData:
    """Load, clean and split `cfg.dataset` into `out_dir` (or reuse the cache).

    `source` overrides the registry entry (tests point downloads at local URLs).
    """
    cfg.validate()
    out = Path(out_dir)
    source = source or get_source(cfg.dataset)
    folder = resolve_folder(source, cfg)
    files = source.loader().source_files(folder, cfg)
    checksums = source_checksums(folder, files)
    key = cache_key(cfg, seed, checksums)

    cached = _cached(out, key)
    if cached is not None:
        log.info("data: reusing %s (cache key %s)", out, key)
        return cached

    log.info(
        "data: preparing %s from %s (seed %d, cache key %s)",
        source.name,
        folder,
        seed,
        key,
    )
    raw = source.loader().load(folder, cfg)
    clean = clean_log(raw, cfg, seed)
    manifest = {
        "format_version": FORMAT_VERSION,
        "synthrec_version": __version__,
        "dataset": source.name,
        "family": source.family,
        "source_folder": str(folder),
        "source_files": checksums,
        "download": (None if source.download is None else list(source.download.urls)),
        "config": to_dict(cfg),
        "seed": seed,
        "cache_key": key,
        "n_interactions": len(clean.interactions),
        "cleaning": clean.report,
    }
    prepared = PreparedData(
        clean.interactions, clean.items, clean.n_users, clean.n_items, manifest
    )
    # The old manifest goes first, so a crash mid-write leaves no cache to trust.
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    prepared.save(out)
    log.info(
        "data: wrote %s (%d users, %d items, %d interactions)",
        out,
        clean.n_users,
        clean.n_items,
        len(clean.interactions),
    )
    return load_prepared(out)


def load_prepared(out_dir: str | Path) -> PreparedData:
    """The tables `prepare_dataset` wrote into `out_dir`, schema-checked."""
    out = Path(out_dir)
    if not (out / MANIFEST_FILE).is_file():
        raise SynthrecError(
            f"no prepared data in {out} (missing {MANIFEST_FILE}); "
            "run `synthrec data prepare` first"
        )
    for name in (INTERACTIONS_FILE, ITEMS_FILE):
        if not (out / name).is_file():
            raise SynthrecError(f"{out}: {name} is missing; prepare the data again")
    prepared = PreparedData.load(out)
    check_schema(prepared)
    return prepared


def source_checksums(folder: Path, files: list[Path]) -> dict[str, dict[str, Any]]:
    """sha256 and size of each source file, keyed by its path inside `folder`."""
    out = {}
    for path in files:
        name = str(path.relative_to(folder)) if path != folder else path.name
        out[name] = {
            "sha256": file_digest(path, "sha256"),
            "bytes": path.stat().st_size,
        }
    return out


def cache_key(cfg: DataConfig, seed: int, checksums: dict[str, Any]) -> str:
    """Changes whenever the source bytes, the settings or the format change.

    `download` only decides where the files come from, so it is left out.
    """
    settings = {k: v for k, v in to_dict(cfg).items() if k not in ("download", "path")}
    return config_hash(
        {
            "format": FORMAT_VERSION,
            "settings": settings,
            "seed": seed,
            "sources": checksums,
        },
        length=16,
    )


def _cached(out: Path, key: str) -> PreparedData | None:
    manifest_path = out / MANIFEST_FILE
    if not manifest_path.is_file():
        return None
    try:
        manifest = read_json(manifest_path)
    except ValueError:
        return None
    if manifest.get("cache_key") != key:
        log.info(
            "data: %s holds other data (cache key %s); rebuilding",
            out,
            manifest.get("cache_key"),
        )
        return None
    changed = [
        name
        for name, digest in manifest.get("outputs", {}).items()
        if not (out / name).is_file() or sha256_file(out / name) != digest
    ]
    if changed or not manifest.get("outputs"):
        log.info(
            "data: %s changed since it was written (%s); rebuilding",
            out,
            ", ".join(changed) or "no checksums",
        )
        return None
    try:
        return load_prepared(out)
    except (SynthrecError, OSError) as exc:
        log.warning("data: cached tables in %s are unusable (%s); rebuilding", out, exc)
        return None


def check_schema(prepared: PreparedData) -> None:
    """The contract every later stage relies on (see docs/architecture.md)."""
    frame = prepared.interactions
    for column, kind in (
        ("user_idx", "i"),
        ("item_idx", "i"),
        ("timestamp", "i"),
        ("rating", "f"),
    ):
        if column not in frame.columns or frame[column].dtype.kind != kind:
            raise SynthrecError(f"interactions.{column} is missing or mistyped")
    assert frame["timestamp"].dtype == np.int64, "timestamps must stay int64"
    items = frame["item_idx"].to_numpy()
    assert items.min() >= 1 and items.max() == prepared.n_items, "item ids 1..n"
    assert set(frame["split"].unique()) <= set(SPLITS), "unknown split name"
    assert len(prepared.items) == prepared.n_items, "one items row per item"
