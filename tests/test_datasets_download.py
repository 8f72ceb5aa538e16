"""Downloads against local files and a Range-capable server on 127.0.0.1."""

import gzip
import hashlib
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from synthrec.datasets import DataConfig, prepare_dataset
from synthrec.datasets.download import Checksum, fetch, published_md5
from synthrec.datasets.registry import Download, Source, resolve_folder
from synthrec.errors import SynthrecError


def _archive(tmp_path: Path) -> Path:
    """A zip shaped like ml-latest-small.zip (one folder of CSV files)."""
    ratings = "userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},4.0,{1_000_000 + 60 * i}\n" for u in range(1, 5) for i in range(1, 7)
    )
    movies = "movieId,title,genres\n" + "".join(
        f"{i},Film {i} (2001),Drama\n" for i in range(1, 7)
    )
    path = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-latest-small/ratings.csv", ratings)
        zf.writestr("ml-latest-small/movies.csv", movies)
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _source(url: str, md5: str | None) -> Source:
    return Source(
        "ml-latest-small",
        "movielens",
        "test copy",
        Download("zip", (url,), "ml-latest-small", md5),
    )


class _RangeServer:
    """Serves files from one folder on 127.0.0.1, honouring Range requests and
    recording each request's Range header."""

    def __init__(self, root: Path) -> None:
        self.root, self.ranges = root, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  # the http.server hook name
                path = outer.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                wanted = self.headers.get("Range")
                outer.ranges.append(wanted)
                start = int(wanted.split("=")[1].rstrip("-")) if wanted else 0
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "_RangeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_missing_dataset_is_downloaded_verified_and_unpacked(tmp_path, monkeypatch):
    archive = _archive(tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTHREC_DATA_HOME", str(home))
    source = _source(archive.as_uri(), _md5(archive))
    data = prepare_dataset(DataConfig(), tmp_path / "out", seed=0, source=source)
    assert data.n_users == 4 and (home / "ml-latest-small" / "ratings.csv").is_file()
    assert (home / ".downloads" / "ml-latest-small.zip").is_file()

    # Present now: a second resolve never touches the URL again.
    archive.unlink()
    assert resolve_folder(source, DataConfig()) == home / "ml-latest-small"


def test_a_wrong_checksum_stops_and_leaves_no_partial_file(tmp_path, monkeypatch):
    archive = _archive(tmp_path)
    monkeypatch.setenv("SYNTHREC_DATA_HOME", str(tmp_path / "home"))
    source = _source(archive.as_uri(), "0" * 32)
    with pytest.raises(SynthrecError, match="checksum mismatch"):
        resolve_folder(source, DataConfig())
    downloads = tmp_path / "home" / ".downloads"
    assert not any(downloads.iterdir())
    assert not (tmp_path / "home" / "ml-latest-small").exists()


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path):
    payload = bytes(range(256)) * 4000
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "blob.bin").write_bytes(payload)
    target = tmp_path / "cache" / "blob.bin"
    target.parent.mkdir()
    (target.parent / "blob.bin.part").write_bytes(payload[:300_000])
    checksum = Checksum("sha256", hashlib.sha256(payload).hexdigest())
    with _RangeServer(tmp_path / "srv") as server:
        fetch(f"{server.url}/blob.bin", target, checksum)
    assert server.ranges == ["bytes=300000-"]
    assert target.read_bytes() == payload
    assert not (target.parent / "blob.bin.part").exists()


def test_a_file_url_resumes_by_seeking(tmp_path):
    payload = b"x" * 1000 + b"y" * 1000
    (tmp_path / "blob.bin").write_bytes(payload)
    target = tmp_path / "cache" / "blob.bin"
    target.parent.mkdir()
    (target.parent / "blob.bin.part").write_bytes(payload[:1000])
    fetch(
        (tmp_path / "blob.bin").as_uri(),
        target,
        Checksum("md5", hashlib.md5(payload).hexdigest()),
    )
    assert target.read_bytes() == payload


def test_the_published_md5_next_to_the_archive_is_used(tmp_path, monkeypatch):
    archive = _archive(tmp_path)
    (tmp_path / "ml-latest-small.zip.md5").write_text(
        f"MD5 (ml-latest-small.zip) = {_md5(archive)}\n"
    )
    monkeypatch.setenv("SYNTHREC_DATA_HOME", str(tmp_path / "home"))
    with _RangeServer(tmp_path) as server:
        url = f"{server.url}/ml-latest-small.zip"
        assert published_md5(url) == Checksum("md5", _md5(archive))
        folder = resolve_folder(_source(url, None), DataConfig())
    assert (folder / "movies.csv").is_file()


def test_a_truncated_gzip_without_a_published_checksum_is_rejected(tmp_path):
    good = gzip.compress(b'{"a": 1}\n' * 1000)
    (tmp_path / "reviews.jsonl.gz").write_bytes(good[: len(good) // 2])
    target = tmp_path / "cache" / "reviews.jsonl.gz"
    with pytest.raises(SynthrecError, match="download is corrupt"):
        fetch((tmp_path / "reviews.jsonl.gz").as_uri(), target, None)
    assert (
        not target.exists() and not (target.parent / "reviews.jsonl.gz.part").exists()
    )


def test_without_files_or_a_download_the_error_says_where_to_put_them(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("SYNTHREC_DATA_HOME", str(tmp_path))
    with pytest.raises(SynthrecError, match="no files at .*merrec"):
        prepare_dataset(DataConfig(dataset="merrec"), tmp_path / "out", seed=0)
    with pytest.raises(SynthrecError, match="data.download is false"):
        prepare_dataset(DataConfig(download=False), tmp_path / "out", seed=0)
