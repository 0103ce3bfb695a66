"""Verified downloads against a local HTTP server that each test starts on 127.0.0.1.

A tiny MNIST-like dataset ("tiny") is registered for the test, its IDX files written by
the test and served from memory; the cache is a temporary folder ($AEKIT_CACHE).
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from pathlib import Path

import numpy as np
import pooch
import pytest

from aekit.datasets import download, load, registry
from aekit.datasets.idx import write_idx
from aekit.errors import DataError, DownloadError


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (URL path -> bytes); paths in ``server.drop`` send a full
    Content-Length, half the body, then close the connection."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.server.drop:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.drop, httpd.requests = {}, set(), []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Register dataset "tiny" (8 train / 4 test images of 3x2) and isolate every search
    location; returns {filename: bytes} plus the arrays written."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (8, 3, 2), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 8, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 3, 2), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 4, dtype=np.uint8),
    }
    blobs = {}
    for name, array in arrays.items():
        blobs[name] = write_idx(tmp_path / name, array).read_bytes()
        (tmp_path / name).unlink()
    _register(monkeypatch, {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()})
    for var in (registry.ENV_DATA, download.ENV_MIRROR, download.ENV_OFFLINE):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(download.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "SYSTEM_DATA_DIR", tmp_path / "no-system-copy")
    return blobs, arrays


def _register(monkeypatch, hashes: dict[str, str]) -> None:
    def pair(*filenames):
        return tuple(registry.RemoteFile(f, hashes[f]) for f in filenames)

    spec = registry.IdxDataset(
        name="tiny",
        description="test data",
        mirrors=("http://127.0.0.1:9/unused/",),  # port 9 (discard): tests override it
        files={
            "train": pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            "test": pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        },
        n_samples={"train": 8, "test": 4},
        classes=tuple("0123456789"),
        image_shape=(1, 3, 2),
    )
    monkeypatch.setitem(registry.DATASETS, "tiny", spec)


def _serve(server, blobs, prefix="/tiny"):
    server.files.update({f"{prefix}/{name}": body for name, body in blobs.items()})
    return f"{server.url}{prefix}/"


def _cached_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file())


def test_download_verifies_caches_then_reuses_cache(tiny, server, tmp_path, monkeypatch):
    blobs, arrays = tiny
    monkeypatch.setenv(download.ENV_MIRROR, _serve(server, blobs))

    ds = load("tiny", split="train")

    expected = arrays["train-images-idx3-ubyte.gz"].reshape(8, -1) / 255
    np.testing.assert_allclose(ds.X, expected, rtol=1e-6)
    np.testing.assert_array_equal(ds.y, arrays["train-labels-idx1-ubyte.gz"])
    assert ds.image_shape == (1, 3, 2)
    assert len(server.requests) == 2
    cache = tmp_path / "cache" / "tiny"
    assert ds.source == str(cache)
    # Only the two verified files: no temp or staging leftovers.
    assert _cached_files(tmp_path) == [
        cache / "train-images-idx3-ubyte.gz",
        cache / "train-labels-idx1-ubyte.gz",
    ]
    name = "train-images-idx3-ubyte.gz"
    assert (cache / name).read_bytes() == blobs[name]

    again = load("tiny", split="train")
    assert len(server.requests) == 2  # served from the cache, no new request
    np.testing.assert_array_equal(again.X, ds.X)


def test_corrupted_download_raises_and_caches_nothing(tiny, server, tmp_path):
    blobs, _ = tiny
    good = blobs["train-images-idx3-ubyte.gz"]
    bad = good[:-5] + bytes(5)  # damaged on the way
    base = _serve(server, {**blobs, "train-images-idx3-ubyte.gz": bad})

    got = hashlib.sha256(bad).hexdigest()
    want = hashlib.sha256(good).hexdigest()
    url = re.escape(f"{base}train-images-idx3-ubyte.gz")
    problem = f"checksum mismatch: expected sha256 {want}, got {got}"
    with pytest.raises(DownloadError, match=f"{url}: {problem}"):
        load("tiny", base_url=base, progress=False)
    assert _cached_files(tmp_path) == []


def test_wrong_registered_checksum_raises_and_caches_nothing(tiny, server, tmp_path, monkeypatch):
    blobs, _ = tiny
    wrong = {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()}
    wrong["train-images-idx3-ubyte.gz"] = "0" * 64
    _register(monkeypatch, wrong)
    base = _serve(server, blobs)

    with pytest.raises(DownloadError, match=f"expected sha256 {'0' * 64}, got "):
        load("tiny", base_url=base, progress=False)
    assert _cached_files(tmp_path) == []


def test_dropped_connection_raises_and_caches_nothing(tiny, server, tmp_path):
    blobs, _ = tiny
    base = _serve(server, blobs)
    server.drop.add("/tiny/train-images-idx3-ubyte.gz")

    with pytest.raises(DownloadError, match=r"train-images-idx3-ubyte\.gz: connection dropped"):
        load("tiny", base_url=base)
    assert _cached_files(tmp_path) == []


def test_next_mirror_is_tried_after_a_failure(tiny, server):
    blobs, _ = tiny
    good = _serve(server, blobs, prefix="/good")
    missing = f"{server.url}/missing/"

    ds = load("tiny", split="test", base_url=[missing, good], progress=False)

    assert len(ds) == 4
    assert server.requests.count("/missing/t10k-images-idx3-ubyte.gz") == 1


def test_all_mirrors_failing_names_each_url(tiny, server, tmp_path):
    urls = [f"{server.url}/a/", f"{server.url}/b/"]
    with pytest.raises(DownloadError) as err:
        load("tiny", base_url=urls, progress=False)
    message = str(err.value)
    assert f"{urls[0]}train-images-idx3-ubyte.gz: HTTP 404" in message
    assert f"{urls[1]}train-images-idx3-ubyte.gz: HTTP 404" in message
    assert _cached_files(tmp_path) == []


def test_mirror_env_var_expands_dataset_name(tiny, server, monkeypatch):
    blobs, _ = tiny
    _serve(server, blobs, prefix="/tiny")
    monkeypatch.setenv(download.ENV_MIRROR, server.url + "/{name}")

    assert len(load("tiny", split="test", progress=False)) == 4
    assert server.requests[0] == "/tiny/t10k-images-idx3-ubyte.gz"


def test_offline_says_where_it_looked(tiny, server, tmp_path, monkeypatch):
    monkeypatch.setenv(download.ENV_OFFLINE, "1")
    monkeypatch.setenv(download.ENV_MIRROR, server.url + "/")
    cache = tmp_path / "cache" / "tiny"
    with pytest.raises(DataError, match="downloads are off") as err:
        load("tiny")
    assert str(cache) in str(err.value)
    assert str(tmp_path / "no-system-copy" / "tiny") in str(err.value)
    assert "AEKIT_OFFLINE" in str(err.value)
    assert server.requests == []


@pytest.mark.parametrize("subfolder", ["", "tiny"])
def test_aekit_data_is_searched_first(tiny, server, tmp_path, monkeypatch, subfolder):
    blobs, arrays = tiny
    folder = tmp_path / "mydata" / subfolder
    folder.mkdir(parents=True)
    for name, body in blobs.items():
        (folder / name).write_bytes(body)
    monkeypatch.setenv(registry.ENV_DATA, str(tmp_path / "mydata"))
    monkeypatch.setenv(download.ENV_MIRROR, server.url + "/")

    ds = load("tiny", split="all")

    assert ds.X.shape == (12, 6)
    assert ds.source == str(folder)
    assert server.requests == []


def test_unzipped_local_files_are_accepted(tiny, tmp_path, monkeypatch):
    _, arrays = tiny
    folder = tmp_path / "raw"
    folder.mkdir()
    for name, array in arrays.items():
        write_idx(folder / name.removesuffix(".gz"), array)
    monkeypatch.setenv(download.ENV_OFFLINE, "1")

    ds = load("tiny", split="test", data_dir=folder)

    np.testing.assert_array_equal(ds.y, arrays["t10k-labels-idx1-ubyte.gz"])


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(url, known_hash, fname, path, downloader):
        (Path(path) / fname).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pooch, "retrieve", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download.fetch("f.gz", "0" * 64, ["http://127.0.0.1:9/"], tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_cache_root_prefers_argument_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv(download.ENV_CACHE, str(tmp_path / "env"))
    assert download.cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert download.cache_root() == tmp_path / "env"
    monkeypatch.delenv(download.ENV_CACHE)
    assert download.cache_root() == Path(pooch.os_cache("aekit"))
