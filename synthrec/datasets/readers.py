"""Reading raw source files into a RawLog, with clear errors for bad input.

Every family loader (MovieLens, Amazon, MerRec, generic tables) returns a
`RawLog`: interactions keyed by the source's own user and item ids, with
timestamps already in exact int64 Unix seconds, and an item table. The helpers
here do the parts every family shares: reading CSV / `::` / JSONL / Parquet
files with pyarrow, checking encodings, coercing column types, normalising
timestamp units, and dropping-and-counting (or refusing) malformed rows.
"""

import codecs
import gzip
import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

_CHUNK_BYTES = 16 << 20
# Magnitude bounds that tell timestamp units apart (values >= bound belong to the
# next finer unit): seconds until year ~5138, then ms, us, ns.
_UNIT_BOUNDS = {"s": 1e11, "ms": 1e14, "us": 1e17}
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_FIELD_SEP = "\x1f"  # stands in for "::" in MovieLens .dat files


@dataclass
class RawLog:
    """A source as read: one row per event, before any cleaning.

    interactions: user_id, item_id (the source's ids, any dtype), timestamp
    (int64 Unix seconds), rating (float32, NaN when absent), optionally event
    (str) and event_order (int64, orders events within one second).
    items: item_id (same dtype as in interactions), title, text, family fields.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def has_event_order(self) -> bool:
        return "event_order" in self.interactions.columns


class BadRows:
    """The bad-row policy: raise naming the problem, or drop and count."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.counts: Counter[str] = Counter()

    @property
    def skipping(self) -> bool:
        return self.policy == "skip"

    def report(self, where: str, problem: str, count: int, example: str) -> None:
        """Record `count` rows with `problem`, or stop if the policy is error."""
        if count == 0:
            return
        if not self.skipping:
            raise SynthrecError(
                f"{where}: {count} row(s) {problem}, first: {example}; fix the "
                "file or set data.bad_rows: skip to drop and count them"
            )
        self.counts[f"{where}: rows {problem}"] += count
        log.warning(
            "%s: dropped %d row(s) %s (first: %s)", where, count, problem, example
        )


# ---------------------------------------------------------------- raw bytes


def check_file(path: Path) -> None:
    """A readable, non-empty file, or a SynthrecError saying which it is not."""
    if not path.is_file():
        raise SynthrecError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise SynthrecError(f"{path}: file is empty")


def check_utf8(path: Path, bad: BadRows) -> bool:
    """True if `path` is valid UTF-8; else raise, or (skip) log and return False.

    Streams the file so a large log is never held twice in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                where = _line_of_offset(path, offset + exc.start)
                if not bad.skipping:
                    raise SynthrecError(
                        f"{path}: not UTF-8 text at line {where} (byte "
                        f"{offset + exc.start}); set data.encoding (e.g. latin-1) "
                        "or data.bad_rows: skip to replace undecodable bytes"
                    ) from None
                log.warning("%s: not UTF-8 from line %d on", path, where)
                return False
            offset += len(chunk)
    return True


def utf8_replaced(path: Path, bad: BadRows) -> bytes:
    """The file with undecodable bytes replaced by U+FFFD; the lines touched
    are counted as bad rows (policy skip)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    touched = len(re.findall("^.*\ufffd", text, flags=re.MULTILINE))
    first = text.count("\n", 0, max(text.find("\ufffd"), 0)) + 1
    bad.report(
        path.name, "with non-UTF-8 bytes (replaced, kept)", touched, f"line {first}"
    )
    return text.encode("utf-8")


def _line_of_offset(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


# ---------------------------------------------------------------- tables


def read_csv(
    path: Path,
    bad: BadRows,
    *,
    delimiter: str = ",",
    column_names: list[str] | None = None,
    string_columns: tuple[str, ...] = (),
    numeric_columns: dict[str, str] | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """A delimited file through pyarrow's multi-threaded reader.

    Rows with the wrong number of fields are malformed. `string_columns` are
    read as text (ids that may not be numbers, titles); `numeric_columns`
    (name -> "int64" / "float64") skip type inference, and a file whose values
    do not fit them is read again untyped so the bad rows can be named.
    """
    check_file(path)
    source: Path | io.BytesIO = path
    if encoding is not None and codecs.lookup(encoding).name != "utf-8":
        source = io.BytesIO(path.read_bytes().decode(encoding).encode("utf-8"))
    spec = _CsvSpec(delimiter, column_names, string_columns, numeric_columns or {})
    try:
        return _typed_csv(source, path, bad, spec)
    except _NotUtf8:
        # pyarrow checks UTF-8 as it parses; only then is the file scanned to
        # name the line (or, with skip, to replace the bytes).
        if check_utf8(path, bad):
            raise SynthrecError(f"{path}: invalid UTF-8 inside a field") from None
        return _typed_csv(io.BytesIO(utf8_replaced(path, bad)), path, bad, spec)


@dataclass(frozen=True)
class _CsvSpec:
    delimiter: str
    column_names: list[str] | None
    string_columns: tuple[str, ...]
    numeric_columns: dict[str, str]
    quoting: bool = True


def _typed_csv(
    source: Path | io.BytesIO, path: Path, bad: BadRows, spec: _CsvSpec
) -> pd.DataFrame:
    """Read with the declared numeric types; on a value that does not fit,
    read again letting pyarrow infer (the caller's checks then name the rows)."""
    if spec.numeric_columns:
        try:
            return _arrow_csv(source, path, bad, spec, typed=True)
        except _TypeMismatch:
            log.info("%s: a value does not fit its column type; reading untyped", path)
            if isinstance(source, io.BytesIO):
                source.seek(0)
    return _arrow_csv(source, path, bad, spec, typed=False)


class _TypeMismatch(Exception):
    """A value did not convert to its declared column type."""


class _NotUtf8(Exception):
    """pyarrow met bytes that are not UTF-8."""


def read_dat(
    path: Path,
    bad: BadRows,
    column_names: list[str],
    string_columns: tuple[str, ...] = (),
    encoding: str | None = None,
    numeric_columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """A MovieLens `::`-separated file (ml-1m, ml-10m): no header, no quoting.

    These files predate UTF-8 at GroupLens: when they do not decode as UTF-8
    they are read as Latin-1 (the encoding MovieLens used), and a line says so.
    """
    check_file(path)
    data = path.read_bytes()
    if encoding is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            log.info("%s is not UTF-8; reading it as Latin-1 (MovieLens .dat)", path)
            text = data.decode("latin-1")
    else:
        text = data.decode(encoding)
    del data
    source = io.BytesIO(text.replace("::", _FIELD_SEP).encode("utf-8"))
    spec = _CsvSpec(
        _FIELD_SEP, column_names, string_columns, numeric_columns or {}, quoting=False
    )
    return _typed_csv(source, path, bad, spec)


def _arrow_csv(
    source: Path | io.BytesIO, path: Path, bad: BadRows, spec: _CsvSpec, typed: bool
) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    malformed: list[str] = []

    def on_invalid(row: "pcsv.InvalidRow") -> str:
        malformed.append(row.text)
        return "skip" if bad.skipping else "error"

    types = {name: pa.string() for name in spec.string_columns}
    if typed:
        types |= {n: pa.type_for_alias(t) for n, t in spec.numeric_columns.items()}
    read = pcsv.ReadOptions(column_names=spec.column_names, block_size=_CHUNK_BYTES)
    parse = pcsv.ParseOptions(
        delimiter=spec.delimiter,
        quote_char='"' if spec.quoting else False,
        invalid_row_handler=on_invalid,
    )
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False)
    try:
        table = pcsv.read_csv(source, read, parse, convert)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise _NotUtf8 from None
        if typed and "conversion error" in str(exc):
            raise _TypeMismatch from None
        if malformed:
            line = _find_line(path, malformed[0])
            raise SynthrecError(
                f"{path}: malformed row at line {line} (wrong number of fields): "
                f"{malformed[0][:80]!r}; fix the file or set data.bad_rows: skip"
            ) from None
        raise SynthrecError(f"{path}: cannot parse ({_first_line(exc)})") from None
    # pyarrow types a column holding non-UTF-8 bytes as binary.
    if any(pa.types.is_binary(f.type) for f in table.schema):
        raise _NotUtf8
    bad.report(
        path.name,
        "with the wrong number of fields",
        len(malformed),
        repr(malformed[0][:80]) if malformed else "",
    )
    if table.num_rows == 0:
        raise SynthrecError(f"{path}: no data rows")
    return table.to_pandas()


def _find_line(path: Path, text: str) -> int | str:
    """1-based line of the first line equal to `text` (error messages only)."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            decoded = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if decoded.replace("::", _FIELD_SEP) == text or decoded == text:
                return number
    return "?"


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def read_jsonl(
    path: Path, bad: BadRows, schema: dict[str, Any] | None = None
) -> pd.DataFrame:
    """A JSON-lines file (optionally .gz) through pyarrow.

    `schema` (column -> pyarrow type) reads only those fields, which keeps
    memory low on large review dumps; a column that never occurs is missing.
    Malformed lines are located and reported (or skipped) on a slower
    line-by-line pass.
    """
    import pyarrow as pa
    import pyarrow.json as pjson

    check_file(path)
    parse = pjson.ParseOptions()
    if schema is not None:
        parse = pjson.ParseOptions(
            explicit_schema=pa.schema(schema), unexpected_field_behavior="ignore"
        )
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            table = pjson.read_json(stream, parse_options=parse)
        frame = table.to_pandas()
        if schema is not None:
            frame = frame[[c for c in schema if table[c].null_count < len(table)]]
    except pa.ArrowInvalid:
        frame = _jsonl_line_by_line(path, bad)
    if frame.empty:
        raise SynthrecError(f"{path}: no JSON records")
    if schema is not None:
        require_columns(frame, list(schema), path)
        frame = frame[list(schema)]
    return frame


def _jsonl_line_by_line(path: Path, bad: BadRows) -> pd.DataFrame:
    # NOTE: a per-line Python loop, used only when pyarrow rejects the file.
    records: list[dict[str, Any]] = []
    broken: Counter[str] = Counter()
    first: dict[str, str] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            problem = _parse_json_line(raw, records)
            if problem:
                broken[problem] += 1
                first.setdefault(problem, f"line {number}: {raw.strip()[:80]!r}")
    for problem, count in broken.items():
        bad.report(path.name, problem, count, first[problem])
    return pd.DataFrame.from_records(records)


def _parse_json_line(raw: bytes, records: list[dict[str, Any]]) -> str:
    """Append the line's object to `records`; return a problem, or ''."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "that are not UTF-8"
    try:
        record = json.loads(text)
    except ValueError:
        return "that are not valid JSON"
    if not isinstance(record, dict):
        return "that are not JSON objects"
    records.append(record)
    return ""


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file or folder of Parquet files."""
    if not path.exists():
        raise SynthrecError(f"file not found: {path}")
    try:
        frame = pd.read_parquet(path, columns=columns)
    except (OSError, ValueError, KeyError) as exc:
        raise SynthrecError(
            f"{path}: cannot read as Parquet ({_first_line(exc)})"
        ) from None
    if frame.empty:
        raise SynthrecError(f"{path}: no rows")
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str], path: Path | str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SynthrecError(
            f"{path}: missing column(s) {', '.join(missing)}; found "
            f"{', '.join(map(str, frame.columns))}"
        )


# ---------------------------------------------------------------- columns


def coerce_ids(
    frame: pd.DataFrame, column: str, where: str, bad: BadRows
) -> pd.DataFrame:
    """Drop (or refuse) rows whose id is missing or empty."""
    values = frame[column]
    missing = values.isna().to_numpy().copy()
    if values.dtype.kind in "OUT" or pd.api.types.is_string_dtype(values):
        missing |= (values.astype("str").str.strip() == "").to_numpy()
    frame = _drop(frame, missing, where, f"with no {column!r}", bad, column)
    if frame[column].dtype.kind != "f":  # the usual case: nothing to convert
        return frame
    return frame.assign(**{column: whole_ids(frame[column])})


def whole_ids(values: pd.Series) -> pd.Series:
    """Float ids that are whole numbers (a column with gaps reads as float)
    become int64, so "7" and 7.0 name the same item."""
    if values.dtype.kind == "f" and np.all(np.floor(values) == values):
        return values.astype(np.int64)
    return values


def coerce_numeric(
    frame: pd.DataFrame, column: str, where: str, bad: BadRows
) -> pd.DataFrame:
    """Make `column` numeric; rows with a non-number or NaN are bad rows."""
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values, errors="coerce")
        frame = frame.assign(**{column: values})
    missing = values.isna().to_numpy()
    return _drop(
        frame, missing, where, f"with a missing or non-numeric {column!r}", bad, column
    )


def _drop(
    frame: pd.DataFrame,
    mask: np.ndarray,
    where: str,
    problem: str,
    bad: BadRows,
    column: str,
) -> pd.DataFrame:
    if not mask.any():
        return frame
    first = int(np.flatnonzero(mask)[0])
    example = f"data row {first + 1} ({column}={frame[column].iloc[first]!r})"
    bad.report(where, problem, int(mask.sum()), example)
    return frame.loc[~mask].reset_index(drop=True)


def to_unix_seconds(
    values: pd.Series, unit: str, where: str, bad: BadRows
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact int64 Unix seconds, the sub-second remainder, and a keep mask.

    Numbers: `unit` "auto" reads the unit from each value's magnitude and
    refuses a column that mixes units (or, with skip, drops the minority unit).
    Strings: parsed as dates (UTC when no zone is given). The remainder (in the
    source's own sub-second ticks) keeps the order of events within a second.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return _datetime_seconds(values, where, bad)
    if not pd.api.types.is_numeric_dtype(values):
        as_numbers = pd.to_numeric(values, errors="coerce")
        if as_numbers.notna().mean() < 0.5:
            return _datetime_seconds(values, where, bad)
        values = _numeric_or_bad(values, as_numbers, where, bad)
    keep = values.notna().to_numpy().copy()
    numbers = values.to_numpy() if keep.all() else values.fillna(0).to_numpy()
    if numbers.dtype.kind == "f" and not np.all(numbers == np.floor(numbers)):
        return _fractional_seconds(numbers, unit, where, bad, keep)
    numbers = numbers.astype(np.int64, copy=False)
    if unit == "auto":
        unit = _common_unit(numbers, where, bad, keep)
    if unit == "s":  # already whole seconds: nothing within a second to keep
        return numbers, np.zeros(len(numbers), dtype=np.int64), keep
    seconds, remainder = np.divmod(numbers, _PER_SECOND[unit])
    return seconds.astype(np.int64), remainder.astype(np.int64), keep


def _numeric_or_bad(
    values: pd.Series, as_numbers: pd.Series, where: str, bad: BadRows
) -> pd.Series:
    """Mostly-numeric text timestamps: the non-numbers are bad rows (left as
    NaN, so the caller's keep mask drops them)."""
    broken = as_numbers.isna().to_numpy()
    if broken.any():
        first = int(np.flatnonzero(broken)[0])
        bad.report(
            where,
            "with a non-numeric timestamp",
            int(broken.sum()),
            f"data row {first + 1} ({values.iloc[first]!r})",
        )
    return as_numbers


def _fractional_seconds(
    numbers: np.ndarray, unit: str, where: str, bad: BadRows, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractional timestamps: whole seconds plus the remainder in microseconds."""
    if unit == "auto":
        unit = _common_unit(np.floor(numbers).astype(np.int64), where, bad, keep)
    in_seconds = numbers / _PER_SECOND[unit]
    seconds = np.floor(in_seconds)
    micros = np.round((in_seconds - seconds) * 1_000_000)
    return seconds.astype(np.int64), micros.astype(np.int64), keep


def _common_unit(
    numbers: np.ndarray, where: str, bad: BadRows, keep: np.ndarray
) -> str:
    """The unit most values have; rows in another unit are bad rows."""
    names = list(_PER_SECOND)
    bounds = np.array(list(_UNIT_BOUNDS.values()))
    kept = numbers[keep] if not keep.all() else numbers
    if len(kept) == 0:
        return "s"
    low, high = np.searchsorted(
        bounds, [np.abs(kept).min(), np.abs(kept).max()], side="right"
    )
    if low == high:  # the usual case: one unit, no per-row work
        return names[int(low)]
    classes = np.searchsorted(bounds, np.abs(numbers), side="right")
    counts = np.bincount(classes[keep], minlength=4)
    common = int(np.argmax(counts))
    odd = np.flatnonzero((classes != common) & keep)
    summary = ", ".join(f"{counts[i]} in {names[i]}" for i in range(4) if counts[i])
    example = f"data row {odd[0] + 1} ({numbers[odd[0]]})"
    if not bad.skipping:
        raise SynthrecError(
            f"{where}: timestamps mix units ({summary}); first odd one at "
            f"{example}; set data.timestamp_unit or data.bad_rows: skip to drop "
            "the minority"
        )
    bad.report(where, f"with a timestamp not in {names[common]}", len(odd), example)
    keep[odd] = False
    return names[common]


def _datetime_seconds(
    values: pd.Series, where: str, bad: BadRows
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    keep = parsed.notna().to_numpy().copy()
    if not keep.all():
        first = int(np.flatnonzero(~keep)[0])
        bad.report(
            where,
            "with a timestamp that is not a date",
            int((~keep).sum()),
            f"data row {first + 1} ({values.iloc[first]!r})",
        )
    nanos = parsed.dt.as_unit("ns").astype("int64").to_numpy()
    nanos = np.where(keep, nanos, 0)
    seconds, remainder = np.divmod(nanos, 1_000_000_000)
    return seconds.astype(np.int64), remainder.astype(np.int64), keep


def finish_interactions(
    frame: pd.DataFrame,
    where: str,
    bad: BadRows,
    unit: str,
    *,
    rating: str | None,
    event: str | None = None,
    event_order: str | None = None,
) -> pd.DataFrame:
    """Canonical raw interactions from columns already named user_id, item_id,
    timestamp (+ the optional `rating`, `event`, `event_order` columns)."""
    frame = coerce_ids(frame, "user_id", where, bad)
    frame = coerce_ids(frame, "item_id", where, bad)
    frame = coerce_ids(frame, "timestamp", where, bad)
    if rating is not None:
        frame = coerce_numeric(frame, rating, where, bad)
    if event_order is not None:
        frame = coerce_numeric(frame, event_order, where, bad)
    seconds, remainder, keep = to_unix_seconds(frame["timestamp"], unit, where, bad)

    out = pd.DataFrame(
        {
            "user_id": frame["user_id"].to_numpy(),
            "item_id": frame["item_id"].to_numpy(),
            "timestamp": seconds,
        }
    )
    out["rating"] = (
        frame[rating].to_numpy(np.float32)
        if rating is not None
        else np.full(len(out), np.nan, dtype=np.float32)
    )
    if event is not None:
        out["event"] = frame[event].astype("str").to_numpy()
    # Sub-second clocks and explicit event ids give a real order within a second.
    if event_order is not None:
        out["event_order"] = frame[event_order].to_numpy().astype(np.int64)
    elif remainder.any():
        out["event_order"] = remainder
    if not keep.all():
        out = out.loc[keep].reset_index(drop=True)
    if out.empty:
        raise SynthrecError(f"{where}: no usable interactions")
    return out


def dedupe_items(items: pd.DataFrame, where: str, bad: BadRows) -> pd.DataFrame:
    """One metadata row per item id: duplicates are refused or (skip) the first
    one is kept."""
    dup = items["item_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        bad.report(
            where,
            "repeating an item's metadata",
            int(dup.sum()),
            f"item {items['item_id'].iloc[first]!r}",
        )
        items = items.loc[~dup].reset_index(drop=True)
    return items
