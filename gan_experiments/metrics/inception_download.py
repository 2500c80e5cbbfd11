"""Fetch feature-extractor weights (torch-fidelity's InceptionV3, torchvision's VGG-16) into the torch hub
cache, when the network allows.

The file is streamed to a temporary file beside its destination (short connect/read timeout, a progress
bar), its length checked against the server's ``Content-Length`` and its SHA-256 against the hash prefix in
the file name (``weights-inception-2015-12-05-6726825d.pth``: the digest starts with ``6726825d``, the
check ``torch.hub.download_url_to_file`` makes with ``check_hash``); only a complete file with the right
digest is moved into the cache, so a truncated or wrong download is never used, now or later.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import torch
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"  # torchvision's, for precision/recall
TIMEOUT_S = 15.0
_HASH_PREFIX = re.compile(r"-([a-f0-9]{6,})\.")  # as torch.hub's HASH_REGEX


class DownloadError(OSError):
    """The weights could not be fetched, or what arrived is not the file (the message says which)."""


def cached_weights_path(url: str) -> Path:
    """Where the download of ``url`` lives: the torch hub cache, under the URL's file name."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urllib.parse.urlparse(url).path).name


def expected_hash_prefix(url: str) -> str:
    match = _HASH_PREFIX.search(Path(urllib.parse.urlparse(url).path).name)
    if match is None:
        raise DownloadError(f"{url}: its file name carries no SHA-256 prefix (name-<hex>.pth) to check it against")
    return match.group(1)


def download_weights(url: str = INCEPTION_URL, timeout: float = TIMEOUT_S) -> Path:
    """The cached weights of ``url``, downloading them first if absent; ``DownloadError`` when the network
    refuses, the transfer stops short, or the digest does not match."""
    target = cached_weights_path(url)
    if target.is_file():
        return target
    prefix = expected_hash_prefix(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, expected = _stream(url, out, timeout)
        if expected is not None and size != expected:
            raise DownloadError(f"{url}: the download stopped after {size} of {expected} bytes")
        if not digest.startswith(prefix):
            raise DownloadError(f"{url}: the file's SHA-256 {digest[:12]}... does not start with {prefix}, the "
                                "prefix in its name: not the expected weights (refused, not cached)")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _stream(url: str, out, timeout: float) -> tuple[str, int, int | None]:
    """Copy ``url`` into ``out``; (sha256 hex digest, bytes read, Content-Length or None)."""
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) URL from config
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, transient=True) as progress:
                task = progress.add_task(f"downloading {Path(url).name}", total=expected)
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    progress.update(task, advance=len(chunk))
    except (OSError, ValueError, http.client.HTTPException) as err:  # URLError, timeouts, refused, cut off
        # stdlib exceptions: URLError/HTTPError and ssl.SSLError carry a ``reason``, the others do not
        reason = getattr(err, "reason", None) or f"{type(err).__name__}: {err}"
        raise DownloadError(f"{url}: {reason}") from err
    return digest.hexdigest(), size, expected
