"""MovieLens: ratings, movies (title, year, genres) and tags.

Two layouts: the CSV one (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m:
ratings.csv, movies.csv, tags.csv with headers) and the `::` one (ml-1m,
ml-10m: ratings.dat, movies.dat, tags.dat without headers). Item text reads
"Title (year). Genres: A, B. Tags: x, y." with an item's most frequent tags.

NOTE: tags are written by users at any time, so an item's tag text can include
tags added after the test interactions; they describe the item, not a user's
history, and `max_tags_per_item: 0` leaves them out.
"""

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from synthrec.datasets.config import DataConfig
from synthrec.datasets.readers import (
    BadRows,
    RawLog,
    coerce_ids,
    dedupe_items,
    finish_interactions,
    read_csv,
    read_dat,
    require_columns,
)
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_CSV_FILES = {"ratings": "ratings.csv", "movies": "movies.csv", "tags": "tags.csv"}
_DAT_FILES = {"ratings": "ratings.dat", "movies": "movies.dat", "tags": "tags.dat"}
_NO_GENRES = "(no genres listed)"


def layout(folder: Path) -> dict[str, str]:
    """The file names of the layout found in `folder` (CSV preferred)."""
    if (folder / "ratings.csv").is_file():
        return _CSV_FILES
    if (folder / "ratings.dat").is_file():
        return _DAT_FILES
    raise SynthrecError(
        f"{folder}: no MovieLens ratings.csv or ratings.dat found; point "
        "data.path at the unpacked MovieLens folder"
    )


def source_files(folder: Path, cfg: DataConfig) -> list[Path]:
    """The files this loader reads (for checksums): ratings, movies, tags."""
    names = layout(folder)
    files = [folder / names["ratings"], folder / names["movies"]]
    if (folder / names["tags"]).is_file() and cfg.max_tags_per_item > 0:
        files.append(folder / names["tags"])
    return files


def load(folder: Path, cfg: DataConfig) -> RawLog:
    """Read a MovieLens folder of either layout into a RawLog."""
    names = layout(folder)
    bad = BadRows(cfg.bad_rows)
    ratings = _read(
        folder / names["ratings"],
        names,
        bad,
        cfg,
        ["user_id", "item_id", "rating", "timestamp"],
        (),
    )
    where = names["ratings"]
    interactions = finish_interactions(
        ratings, where, bad, cfg.timestamp_unit, rating="rating"
    )
    log.info("%s: read %d ratings from %s", folder.name, len(interactions), where)

    movies = _read(
        folder / names["movies"],
        names,
        bad,
        cfg,
        ["item_id", "title", "genres"],
        ("title", "genres"),
    )
    movies = dedupe_items(
        coerce_ids(movies, "item_id", names["movies"], bad), names["movies"], bad
    )
    tags = _read_tags(folder / names["tags"], names, bad, cfg)
    items = item_table(movies, tags, cfg.max_tags_per_item)
    log.info("%s: read %d movies, %d tag rows", folder.name, len(items), len(tags))
    return RawLog(interactions, items, dict(bad.counts))


def _read(
    path: Path,
    names: dict[str, str],
    bad: BadRows,
    cfg: DataConfig,
    columns: list[str],
    text_columns: tuple[str, ...],
) -> pd.DataFrame:
    """One MovieLens file with its columns renamed to ours, in file order."""
    numeric = {c: _NUMERIC[c] for c in columns if c in _NUMERIC}
    if names is _DAT_FILES:
        return read_dat(path, bad, columns, text_columns, cfg.encoding, numeric)
    frame = read_csv(
        path,
        bad,
        string_columns=_csv_names(text_columns),
        numeric_columns=dict(
            zip(_csv_names(tuple(numeric)), numeric.values(), strict=True)
        ),
        encoding=cfg.encoding,
    )
    renamed = frame.rename(columns=_CSV_RENAME)
    require_columns(renamed, columns, path)
    return renamed[columns]


_CSV_RENAME = {"userId": "user_id", "movieId": "item_id"}
# Declared types skip pyarrow's inference; a file that does not fit them is
# read again untyped, and the bad values are then named.
_NUMERIC = {
    "user_id": "int64",
    "item_id": "int64",
    "rating": "float64",
    "timestamp": "int64",
}


def _csv_names(columns: tuple[str, ...]) -> tuple[str, ...]:
    inverse = {ours: theirs for theirs, ours in _CSV_RENAME.items()}
    return tuple(inverse.get(c, c) for c in columns)


def _read_tags(
    path: Path, names: dict[str, str], bad: BadRows, cfg: DataConfig
) -> pd.DataFrame:
    if cfg.max_tags_per_item == 0 or not path.is_file():
        return pd.DataFrame(
            {"item_id": pd.Series([], dtype=np.int64), "tag": pd.Series([], dtype=str)}
        )
    tags = _read(
        path, names, bad, cfg, ["user_id", "item_id", "tag", "timestamp"], ("tag",)
    )
    return coerce_ids(tags, "item_id", names["tags"], bad)[["item_id", "tag"]]


# ---------------------------------------------------------------- item text


def split_title(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ "Toy Story (1995)" -> ("Toy Story", 1995); no year -> <NA>."""
    titles = titles.fillna("").astype(str).str.strip()
    years = titles.str.extract(_YEAR, expand=False)
    clean = titles.str.replace(_YEAR, "", regex=True).str.strip()
    return clean, pd.to_numeric(years, errors="coerce").astype("Int64")


def top_tags(tags: pd.DataFrame, max_tags: int) -> pd.Series:
    """Per item: its `max_tags` most frequent tags (lower-cased; ties broken
    alphabetically), joined with "|"."""
    if tags.empty or max_tags == 0:
        return pd.Series(dtype=str)
    tag = tags["tag"].astype(str).str.strip().str.lower()
    frame = pd.DataFrame({"item_id": tags["item_id"].to_numpy(), "tag": tag})
    frame = frame[frame["tag"] != ""]
    counts = frame.groupby(["item_id", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(
        ["item_id", "n", "tag"], ascending=[True, False, True], kind="stable"
    )
    counts = counts.groupby("item_id").head(max_tags)
    return counts.groupby("item_id", sort=True)["tag"].agg("|".join)


def item_table(movies: pd.DataFrame, tags: pd.DataFrame, max_tags: int) -> pd.DataFrame:
    """item_id, title, year, genres, tags, text for every movie."""
    title, year = split_title(movies["title"])
    genres = movies["genres"].fillna("").astype(str)
    genres = genres.where(genres != _NO_GENRES, "")
    tag_text = top_tags(tags, max_tags)
    tag_col = movies["item_id"].map(tag_text).fillna("").astype(str)
    items = pd.DataFrame(
        {
            "item_id": movies["item_id"],
            "title": title,
            "year": year,
            "genres": genres,
            "tags": tag_col,
        }
    ).reset_index(drop=True)
    items["text"] = movie_text(items)
    return items


def movie_text(items: pd.DataFrame) -> pd.Series:
    """ "Title (year). Genres: A, B. Tags: x, y." with empty parts left out."""
    year = items["year"].astype("string").fillna("")
    head = items["title"].where(year == "", items["title"] + " (" + year + ")")
    genres = items["genres"].str.replace("|", ", ", regex=False)
    tags = items["tags"].str.replace("|", ", ", regex=False)
    text = head + "."
    text = text + np.where(genres != "", " Genres: " + genres + ".", "")
    text = text + np.where(tags != "", " Tags: " + tags + ".", "")
    return pd.Series(text, index=items.index).astype(str)
