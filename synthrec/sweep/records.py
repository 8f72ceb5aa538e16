"""What a sweep keeps on disk: one record per finished trial, and the curves table.

A trial counts as finished when `RUN/sweep/trials/<trial_id>/record.json`
exists and was made from the same corpus and tokenizer (their fingerprint);
a resumed sweep skips exactly those. `curves_frame` turns records into the
long table the scaling stage fits (one row per evaluation point).
"""

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from synthrec.errors import SynthrecError
from synthrec.io import read_json, sha256_file, write_json

log = logging.getLogger(__name__)

RECORD_NAME = "record.json"
CURVE_COLUMNS = [
    "trial_id",
    "model",
    "N",
    "N_total",
    "D",
    "eval_set",
    "loss",
    "kind",
    "mixture",
    "seed",
    "num_tokens",
    "flops_per_token",
]


def trials_dir(sweep_dir: str | os.PathLike[str]) -> Path:
    return Path(sweep_dir) / "trials"


def record_path(sweep_dir: str | os.PathLike[str], trial_id: str) -> Path:
    return trials_dir(sweep_dir) / trial_id / RECORD_NAME


# -- inputs fingerprint -------------------------------------------------------


def inputs_fingerprint(
    corpus_dir: str | os.PathLike[str], tokenizer_dir: str | os.PathLike[str]
) -> str:
    """A hash of the corpus and tokenizer a trial trains on.

    The corpus is identified by its manifest (which lists every shard's sha256)
    when it has one, else by its shard names and sizes; the tokenizer by the
    sha256 of each of its files.
    """
    digest = hashlib.sha256()
    for part in (
        _corpus_identity(Path(corpus_dir)),
        _dir_identity(Path(tokenizer_dir)),
    ):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def _corpus_identity(corpus_dir: Path) -> str:
    manifest = corpus_dir / "manifest.json"
    if manifest.is_file():
        return "manifest:" + sha256_file(manifest)
    shards = sorted(corpus_dir.rglob("*.parquet"))
    if not shards:
        raise SynthrecError(f"corpus folder {corpus_dir} has no Parquet shards")
    return "|".join(f"{p.relative_to(corpus_dir)}:{p.stat().st_size}" for p in shards)


def _dir_identity(folder: Path) -> str:
    if not folder.is_dir():
        raise SynthrecError(f"tokenizer folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return "|".join(f"{p.relative_to(folder)}:{sha256_file(p)}" for p in files)


# -- records --------------------------------------------------------------------


def result_to_plain(result: Any) -> dict[str, Any]:
    """A TrialResult (dataclass, mapping or object) as JSON-ready plain data."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        data = dataclasses.asdict(result)
    elif isinstance(result, dict):
        data = dict(result)
    else:
        data = {k: getattr(result, k) for k in ("curve", "final", "stats")}
    # numpy scalars, Paths and tuples become JSON types
    return json.loads(json.dumps(data, default=_json_default))


def write_record(sweep_dir: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    path = record_path(sweep_dir, record["trial_id"])
    write_json(path, record)
    return path


def finished_records(
    sweep_dir: str | os.PathLike[str], trial_ids: list[str], fingerprint: str
) -> dict[str, dict[str, Any]]:
    """Records of the given trials that finished on the same inputs."""
    found = {}
    for tid in trial_ids:
        path = record_path(sweep_dir, tid)
        if not path.is_file():
            continue
        record = read_json(path)
        if record.get("inputs_fingerprint") != fingerprint:
            log.warning(
                "trial %s finished on a different corpus or tokenizer; "
                "it will run again",
                tid,
            )
            continue
        found[tid] = record
    return found


# -- curves table ---------------------------------------------------------------


def curves_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (trial, evaluation point), in the contract's columns."""
    rows = []
    for record in records:
        stats = record["result"]["stats"]
        for point in record["result"]["curve"]:
            rows.append(
                {
                    "trial_id": record["trial_id"],
                    "model": record["model"],
                    "N": int(stats["num_params_non_embedding"]),
                    "N_total": int(stats["num_params"]),
                    "D": int(point["tokens"]),
                    "eval_set": str(point["eval_set"]),
                    "loss": float(point["loss"]),
                    "kind": str(point["kind"]),
                    "mixture": record["mixture"],
                    "seed": int(record["seed"]),
                    "num_tokens": int(record["num_tokens"]),
                    "flops_per_token": float(stats["flops_per_token"]),
                }
            )
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    order = ["model", "N", "mixture", "num_tokens", "seed", "eval_set", "D", "kind"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable in a trial result: {type(obj).__name__}")
