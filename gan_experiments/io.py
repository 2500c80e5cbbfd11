"""Small file-writing helpers shared by the pipeline, the callbacks, the tools and the sweeps."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file and rename it over ``path``, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def torch_save_atomic(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary file of its own in ``path``'s folder, then rename it onto ``path``: a crash
    never leaves half a file, and processes that fill the same cache entry at once (parallel runs or test
    workers sharing a cache) each write their own temporary file instead of one another's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            torch.save(obj, out)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
