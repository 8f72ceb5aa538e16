"""Atomic file writes and checksums.

Every output synthrec writes goes through these helpers: the bytes land in a
temporary file beside the target and are renamed into place, so an interrupted
run never leaves a half-written file that a resume would trust.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

_CHUNK_BYTES = 1 << 20


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path; on success rename it onto `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON (stable bytes for equal objects)."""
    write_text(
        target, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"
    )


def read_json(path: str | os.PathLike[str]) -> Any:
    from synthrec.errors import SynthrecError

    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SynthrecError(f"{path}: not valid JSON ({exc})") from None


def write_parquet(target: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write a DataFrame to Parquet atomically, without the pandas index."""
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, Paths: the common non-JSON types in our outputs
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
