"""Small file-writing helpers shared by the pipeline, the callbacks, the tools and the sweeps."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import torch


def write_json_atomic(path: Path, data: dict) -> None:
    """``data`` as indented JSON, written through ``replace_atomically``."""
    with replace_atomically(path) as out:
        out.write((json.dumps(data, indent=2) + "\n").encode())


def torch_save_atomic(obj: object, path: Path) -> None:
    """``torch.save(obj)`` written through ``replace_atomically``."""
    with replace_atomically(path) as out:
        torch.save(obj, out)


def current_umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def replace_atomically(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content to: a temporary file of its own in ``path``'s folder,
    renamed onto ``path`` when the block ends without error (and removed when it fails). A crash never leaves
    half a file, and processes that write the same path at once (parallel runs or test workers sharing a
    cache) each write their own temporary file instead of one another's. The file gets the permissions a
    plain ``open(path, "wb")`` would give it (0666 less the umask), not mkstemp's owner-only 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with suppress(OSError):  # file systems without modes (FAT, some network mounts) refuse; keep mkstemp's
            os.chmod(tmp, 0o666 & ~current_umask())  # by path: os.fchmod is not on Windows before Python 3.13
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
