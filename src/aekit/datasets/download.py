"""Verified downloads into the user cache (through pooch), and where the cache is.

A file is fetched into a private staging folder inside the cache, its SHA-256 checked by
pooch, and only then moved into place with ``os.replace`` (atomic on one file system).
A checksum mismatch, an HTTP error or a dropped connection therefore leaves nothing in
the cache: the staging folder is removed whatever happens.

Environment:
    AEKIT_CACHE    cache folder (default: ``pooch.os_cache("aekit")``, i.e.
                   ``$XDG_CACHE_HOME/aekit`` or ``~/.cache/aekit`` on Linux)
    AEKIT_MIRROR   base URL(s), comma-separated, tried instead of the built-in mirrors;
                   ``{name}`` in a URL is replaced by the dataset name
    AEKIT_OFFLINE  1/true/yes/on: never download
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pooch

from aekit.errors import DownloadError

logger = logging.getLogger(__name__)

ENV_CACHE = "AEKIT_CACHE"
ENV_MIRROR = "AEKIT_MIRROR"
ENV_OFFLINE = "AEKIT_OFFLINE"
TIMEOUT_S = 30  # per connect/read; a stalled mirror fails over instead of hanging
_TRUE = {"1", "true", "yes", "on"}


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The aekit cache folder: ``cache_dir``, else $AEKIT_CACHE, else pooch's OS cache."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(ENV_CACHE)
    return Path(env) if env else Path(pooch.os_cache("aekit"))


def offline(download: bool | None = None) -> bool:
    """Whether downloads are off: ``download=False``, or $AEKIT_OFFLINE set to a true value
    (an explicit ``download=True`` wins over the environment)."""
    if download is not None:
        return not download
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in _TRUE


def mirror_urls(
    name: str, default: Sequence[str], base_url: str | Sequence[str] | None = None
) -> list[str]:
    """Base URLs to try in order: ``base_url``, else $AEKIT_MIRROR, else ``default``.
    ``{name}`` in a URL becomes the dataset name; each ends with one "/"."""
    if base_url is None:
        env = os.environ.get(ENV_MIRROR, "")
        base_url = [u for u in re.split(r"[,\s]+", env) if u] or list(default)
    elif isinstance(base_url, str):
        base_url = [base_url]
    return [u.replace("{name}", name).rstrip("/") + "/" for u in base_url]


def fetch(
    filename: str,
    sha256: str,
    base_urls: Sequence[str],
    dest_dir: str | os.PathLike,
    progress: bool = True,
) -> Path:
    """Download ``filename`` from the first base URL that serves it with SHA-256 ``sha256``
    into ``dest_dir``; return its path there.

    Mirrors are tried in order. Raises DownloadError listing each URL and why it failed
    (for a checksum mismatch: expected and received hashes); nothing is written to
    ``dest_dir`` unless the checksum matched.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    expected_errors = _failure_types()
    for base in base_urls:
        url = base + filename
        try:
            return _fetch_one(url, filename, sha256, dest_dir, progress)
        except expected_errors as exc:
            reason = _describe(exc)
            logger.warning("download of %s failed: %s", url, reason)
            failures.append(f"{url}: {reason}")
    raise DownloadError(
        f"could not download {filename} (not saved in {dest_dir}): "
        + "; ".join(failures or ["no mirror URL to try"])
    )


def _fetch_one(url: str, filename: str, sha256: str, dest_dir: Path, progress: bool) -> Path:
    # Staging folder inside dest_dir: same file system, so os.replace is an atomic rename,
    # and rmtree in `finally` removes any partial file pooch or an interrupt left behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{filename}.", suffix=".download", dir=dest_dir))
    try:
        logger.info("downloading %s", url)
        staged = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname=filename,
            path=staging,
            downloader=pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT_S),
        )
        final = dest_dir / filename
        os.replace(staged, final)
        logger.info("verified and cached %s", final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _failure_types() -> tuple[type[BaseException], ...]:
    import requests  # pooch's HTTP client; imported late as pooch does, to keep imports fast

    # ValueError: pooch's checksum mismatch; OSError: disk/socket errors.
    return (ValueError, OSError, requests.RequestException)


def _describe(exc: BaseException) -> str:
    """One line saying why a download failed."""
    import requests

    text = str(exc)
    hashes = re.search(r"expected (\S+) but got (\w+)", text)
    if isinstance(exc, ValueError) and hashes:
        expected = hashes.group(1).split(":")[-1]
        return f"checksum mismatch: expected sha256 {expected}, got {hashes.group(2)}"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection dropped mid-transfer ({text})"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect ({text})"
    if isinstance(exc, requests.Timeout):
        return f"timed out after {TIMEOUT_S} s"
    return f"{type(exc).__name__}: {text}"
