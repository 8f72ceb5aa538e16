"""Resumable, checksum-verified downloads into $SYNTHREC_DATA_HOME.

A download streams into `<name>.part` beside its target and, after the bytes
match the expected checksum, is renamed into place; an interrupted download
resumes from the `.part` file with an HTTP Range request (or a seek, for
file:// URLs). A file already in place is never fetched again.
"""

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

DATA_HOME_ENV = "SYNTHREC_DATA_HOME"
_CHUNK_BYTES = 1 << 20
_PROGRESS_EVERY_BYTES = 32 << 20
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # "md5" or "sha256"
    hexdigest: str


def data_home() -> Path:
    """$SYNTHREC_DATA_HOME, or ~/.cache/synthrec/data when it is not set."""
    env = os.environ.get(DATA_HOME_ENV)
    return Path(env) if env else Path.home() / ".cache" / "synthrec" / "data"


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def published_md5(url: str) -> Checksum:
    """The MD5 the server publishes next to `url` (GroupLens: `<url>.md5`)."""
    try:
        with _open(url + ".md5", 0)[0] as response:
            text = response.read(4096).decode("ascii", errors="replace")
    except (OSError, urllib.error.URLError) as exc:
        raise SynthrecError(f"cannot fetch the checksum {url}.md5 ({exc})") from None
    for token in text.replace("=", " ").split():
        if len(token) == 32 and all(c in "0123456789abcdef" for c in token.lower()):
            return Checksum("md5", token.lower())
    raise SynthrecError(f"{url}.md5 holds no MD5 checksum: {text[:80]!r}")


def fetch(url: str, target: Path, checksum: Checksum | None) -> Path:
    """Download `url` to `target` unless it is already there; resume a partial
    download; verify `checksum` (None: the caller verifies the content)."""
    if target.is_file():
        log.info("%s already present; not downloading", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if offset:
        log.info("resuming %s at byte %d", url, offset)
    else:
        log.info("downloading %s -> %s", url, target)

    response, resumed = _open(url, offset)
    with response, open(part, "ab" if resumed else "wb") as out:
        _copy(response, out, url, offset if resumed else 0)
    _verify(part, checksum, url)
    os.replace(part, target)
    return target


def _verify(part: Path, checksum: Checksum | None, url: str) -> None:
    if checksum is None:
        if url.endswith(".gz"):
            _verify_gzip(part, url)
        return
    actual = file_digest(part, checksum.algorithm)
    if actual != checksum.hexdigest:
        part.unlink()
        raise SynthrecError(
            f"checksum mismatch for {url}: {checksum.algorithm} {actual}, expected "
            f"{checksum.hexdigest}; the partial file was removed, rerun to retry"
        )
    log.info("verified %s %s of %s", checksum.algorithm, actual, url)


def _verify_gzip(part: Path, url: str) -> None:
    """Sources without a published checksum: the gzip CRC still catches a
    truncated or corrupted transfer."""
    try:
        with gzip.open(part, "rb") as f:
            while f.read(_CHUNK_BYTES):
                pass
    except (OSError, EOFError) as exc:
        part.unlink()
        raise SynthrecError(
            f"{url}: download is corrupt ({exc}); the partial "
            "file was removed, rerun to retry"
        ) from None
    log.info("verified the gzip CRC of %s (no published checksum)", url)


def _open(url: str, offset: int) -> tuple[BinaryIO, bool]:
    """A byte stream of `url` from `offset` when the server allows, and whether
    it resumed there (False: the stream starts at byte 0)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        if not path.is_file():
            raise SynthrecError(f"download source not found: {url}")
        stream = open(path, "rb")  # noqa: SIM115  # returned to the caller
        stream.seek(offset)
        return stream, offset > 0
    if parsed.scheme not in ("http", "https"):
        raise SynthrecError(f"cannot download {url}: only http(s) and file URLs")
    request = urllib.request.Request(url, headers={"User-Agent": "synthrec"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part file is already complete
            return _EmptyStream(), True
        raise SynthrecError(f"cannot download {url}: HTTP {exc.code}") from None
    except (OSError, urllib.error.URLError) as exc:
        raise SynthrecError(
            f"cannot download {url} ({exc}); place the files in "
            f"$SYNTHREC_DATA_HOME by hand"
        ) from None
    return response, offset > 0 and response.status == 206


class _EmptyStream:
    def read(self, size: int = -1) -> bytes:
        return b""

    def __enter__(self) -> "_EmptyStream":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _copy(source: BinaryIO, out: BinaryIO, url: str, done: int) -> None:
    next_report = done + _PROGRESS_EVERY_BYTES
    while chunk := source.read(_CHUNK_BYTES):
        out.write(chunk)
        done += len(chunk)
        if done >= next_report:
            log.info("%s: %d MiB", url, done >> 20)
            next_report += _PROGRESS_EVERY_BYTES


def unpack_zip(archive: Path, member: str, target: Path) -> Path:
    """Extract folder `member` of `archive` to `target`, atomically: the files
    land in a temporary folder beside `target` that is renamed into place."""
    with tempfile.TemporaryDirectory(
        dir=target.parent, prefix=f".{target.name}."
    ) as tmp:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise SynthrecError(f"{archive}: not a valid zip archive ({exc})") from None
        extracted = Path(tmp) / member
        if not extracted.is_dir():
            raise SynthrecError(f"{archive}: has no folder {member}/")
        shutil.move(str(extracted), str(target))
    log.info("unpacked %s into %s", archive.name, target)
    return target
