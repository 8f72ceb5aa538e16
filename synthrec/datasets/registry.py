"""Every source synthrec can read, by name, and where its files come from.

A source names its family (the module that reads it) and, where a public URL
exists, how to download it. `get_source` lists the valid names in its error.
Resolution order for the files: `data.path`, then `$SYNTHREC_DATA_HOME/<name>/`,
then a download into that cache.
"""

import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from synthrec.datasets.config import DataConfig
from synthrec.datasets.download import (
    Checksum,
    data_home,
    fetch,
    published_md5,
    unpack_zip,
)
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

_GROUPLENS = "https://files.grouplens.org/datasets/movielens"
_AMAZON_2023 = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/raw"

# Family name -> module with `source_files(folder, cfg)` and `load(folder, cfg)`.
_FAMILIES = {
    "movielens": "synthrec.datasets.movielens",
    "amazon2023": "synthrec.datasets.amazon",
    "merrec": "synthrec.datasets.merrec",
    "table": "synthrec.datasets.table",
}


@dataclass(frozen=True)
class Download:
    """Where a source's files come from.

    kind "zip": one archive at `urls[0]`, unpacked from its folder `member`.
    kind "files": each URL saved under its own file name.
    `md5`: the pinned checksum of the archive; None asks the server for the
    published `<url>.md5` (zip) or checks the gzip CRC (files).
    """

    kind: str
    urls: tuple[str, ...]
    member: str = ""
    md5: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    family: str
    description: str
    download: Download | None = None

    def loader(self) -> ModuleType:
        return importlib.import_module(_FAMILIES[self.family])


def _movielens(name: str, member: str, md5: str | None, about: str) -> Source:
    url = f"{_GROUPLENS}/{name}.zip"
    return Source(name, "movielens", about, Download("zip", (url,), member, md5))


# MD5s for the frozen releases as GroupLens publishes them in <url>.md5; the
# "latest" archives are re-issued, so their MD5 is read from the server.
_MOVIELENS = [
    _movielens(
        "ml-latest-small",
        "ml-latest-small",
        None,
        "MovieLens latest small: 100,836 ratings, 610 users, 9,742 movies",
    ),
    _movielens("ml-latest", "ml-latest", None, "MovieLens latest full (CSV)"),
    _movielens(
        "ml-1m",
        "ml-1m",
        "c4d9eecfca2ab87c1945afe126590906",
        "MovieLens 1M (:: .dat layout)",
    ),
    _movielens(
        "ml-10m",
        "ml-10M100K",
        "ce571fd55effeba0271552578f2648bd",
        "MovieLens 10M (:: .dat layout)",
    ),
    _movielens(
        "ml-20m", "ml-20m", "cd245b17a1ae2cc31bb14903e1204af3", "MovieLens 20M (CSV)"
    ),
    _movielens(
        "ml-25m", "ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada", "MovieLens 25M (CSV)"
    ),
    _movielens("ml-32m", "ml-32m", None, "MovieLens 32M (CSV)"),
]

AMAZON_2023_CATEGORIES = (
    "All_Beauty",
    "Amazon_Fashion",
    "Appliances",
    "Arts_Crafts_and_Sewing",
    "Automotive",
    "Baby_Products",
    "Beauty_and_Personal_Care",
    "Books",
    "CDs_and_Vinyl",
    "Cell_Phones_and_Accessories",
    "Clothing_Shoes_and_Jewelry",
    "Digital_Music",
    "Electronics",
    "Gift_Cards",
    "Grocery_and_Gourmet_Food",
    "Handmade_Products",
    "Health_and_Household",
    "Health_and_Personal_Care",
    "Home_and_Kitchen",
    "Industrial_and_Scientific",
    "Kindle_Store",
    "Magazine_Subscriptions",
    "Movies_and_TV",
    "Musical_Instruments",
    "Office_Products",
    "Patio_Lawn_and_Garden",
    "Pet_Supplies",
    "Software",
    "Sports_and_Outdoors",
    "Subscription_Boxes",
    "Tools_and_Home_Improvement",
    "Toys_and_Games",
    "Video_Games",
    "Unknown",
)


def _amazon(category: str) -> Source:
    urls = (
        f"{_AMAZON_2023}/review_categories/{category}.jsonl.gz",
        f"{_AMAZON_2023}/meta_categories/meta_{category}.jsonl.gz",
    )
    return Source(
        f"amazon2023-{category}",
        "amazon2023",
        f"Amazon Reviews 2023, {category} (reviews + item metadata)",
        Download("files", urls),
    )


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        *_MOVIELENS,
        *(_amazon(c) for c in AMAZON_2023_CATEGORIES),
        Source(
            "merrec",
            "merrec",
            "MerRec (Mercari event log, Parquet); no single-file download: "
            "place its Parquet files in $SYNTHREC_DATA_HOME/merrec/",
        ),
        Source(
            "table",
            "table",
            "any CSV / TSV / Parquet / JSONL log; data.path and data.table say "
            "where and which columns",
        ),
    ]
}


def get_source(name: str) -> Source:
    """The registered source `name`, or an error listing every valid name."""
    if name in SOURCES:
        return SOURCES[name]
    others = [n for n in SOURCES if not n.startswith("amazon2023-")]
    raise SynthrecError(
        f"unknown dataset {name!r}; valid names: {', '.join(others)}, and "
        f"amazon2023-<Category> for Category in {', '.join(AMAZON_2023_CATEGORIES)}"
    )


def resolve_folder(source: Source, cfg: DataConfig) -> Path:
    """The folder (or file, for tables) holding the source's files, downloading
    them when allowed and not yet cached."""
    if cfg.path is not None:
        path = Path(cfg.path).expanduser()
        if not path.exists():
            raise SynthrecError(f"data.path={cfg.path!r} does not exist")
        return path
    if source.family == "table":
        raise SynthrecError("dataset 'table' needs data.path (a file or a folder)")
    cached = data_home() / source.name
    if cached.is_dir() and any(cached.iterdir()):
        return cached
    if source.download is None or not cfg.download:
        why = (
            "has no public download"
            if source.download is None
            else "and data.download is false"
        )
        raise SynthrecError(
            f"{source.name}: no files at {cached} {why}; put them there, set "
            "data.path, or set SYNTHREC_DATA_HOME"
        )
    return download_source(source, cached)


def download_source(source: Source, target: Path) -> Path:
    """Fetch and verify the source's files into `target` (its cache folder)."""
    spec = source.download
    assert spec is not None
    downloads = target.parent / ".downloads"
    if spec.kind == "zip":
        url = spec.urls[0]
        checksum = Checksum("md5", spec.md5) if spec.md5 else published_md5(url)
        archive = fetch(url, downloads / url.rsplit("/", 1)[-1], checksum)
        return unpack_zip(archive, spec.member, target)
    # Files gather in a staging folder that becomes the cache folder only when
    # every one of them is complete.
    staging = downloads / source.name
    for url in spec.urls:
        fetch(url, staging / url.rsplit("/", 1)[-1], None)
    os.replace(staging, target)
    return target
