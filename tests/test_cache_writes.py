"""Cache files (metric classifiers, real features) written by processes that fill the same entry at once."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch

from gan_experiments import io


def test_two_writers_of_one_cache_entry_both_succeed_and_leave_one_complete_file(tmp_path, monkeypatch):
    """A second writer saves the same entry while the first is half way through its write (as two runs
    or two test workers sharing GAN_CACHE_DIR do): neither may fail nor read the other's temporary file,
    and the entry holds a complete save of one of them."""
    path = tmp_path / "classifiers" / "mnist-abc.pt"
    real_save, calls = torch.save, []

    def save_with_a_concurrent_writer(obj, f, *args, **kwargs):
        calls.append(obj["writer"])
        if obj["writer"] == "first":  # the second process writes the whole entry in the meantime
            io.torch_save_atomic({"writer": "second", "value": torch.arange(3)}, path)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(io.torch, "save", save_with_a_concurrent_writer)
    io.torch_save_atomic({"writer": "first", "value": torch.arange(5)}, path)
    assert calls == ["first", "second"]
    saved = torch.load(path, weights_only=True)
    assert saved["writer"] == "first" and torch.equal(saved["value"], torch.arange(5))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_failed_write_keeps_the_previous_entry(tmp_path, monkeypatch):
    path = tmp_path / "real_features" / "classifier-5000-abc.pt"
    io.torch_save_atomic({"features": torch.ones(2)}, path)

    def dies(obj, f, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(io.torch, "save", dies)
    with pytest.raises(OSError, match="No space"):
        io.torch_save_atomic({"features": torch.zeros(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["features"], torch.ones(2))
    assert sorted(Path(path.parent).iterdir()) == [path]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path, umask):
    """A sample grid, a results JSON or a cache entry is readable by whoever could read a file the user's
    own ``open()`` makes (mkstemp alone would leave every one of them owner-only, 0600)."""
    previous = os.umask(umask)
    try:
        (tmp_path / "plain.bin").write_bytes(b"x")
        io.write_json_atomic(tmp_path / "metrics.json", {"fid": 1.0})
        io.torch_save_atomic({"value": torch.ones(1)}, tmp_path / "cache.pt")
    finally:
        os.umask(previous)
    expected = stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode)
    assert expected == 0o666 & ~umask
    for name in ("metrics.json", "cache.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def test_a_file_system_that_refuses_chmod_still_gets_the_file(tmp_path, monkeypatch):
    """FAT or a network mount may refuse chmod; the write must not fail for the mode's sake."""

    def refuses(*args, **kwargs):
        raise PermissionError("Operation not permitted")

    monkeypatch.setattr(io.os, "chmod", refuses)
    io.write_json_atomic(tmp_path / "metrics.json", {"fid": 2.0})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"fid": 2.0}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
