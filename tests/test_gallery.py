"""benchmarks/gallery.py: an entry trains through train.py, resumes with ckpt_path=auto, is skipped once done,
and publishes pictures under the size limit; every entry's command composes."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import ROOT, compose_train


@pytest.fixture(scope="module")
def gallery():
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "benchmarks" / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gallery"] = module  # dataclasses resolve their annotations through the module
    spec.loader.exec_module(module)
    return module


def checkpoint_train_seconds(run_dir) -> float:
    """The training time Lightning's Timer saved in the run's last checkpoint."""
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return ckpt["callbacks"]["Timer"]["time_elapsed"]["train"]


def test_every_entry_command_composes(gallery, tmp_path):
    for entry in gallery.ENTRIES:
        cfg = compose_train(list(entry.overrides), tmp_path)
        assert cfg.model is not None, entry.name


def test_a_gray_grid_is_saved_as_grayscale_and_a_large_one_as_jpeg(gallery, tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(np.stack([gray] * 3, -1)).save(tmp_path / "epoch_001.png")
    noise = rng.integers(0, 256, (700, 700, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "big_epoch_001.png")
    out = tmp_path / "out"
    out.mkdir()
    small = gallery.publish(gallery.Picture("g.png", "epoch_*.png", ""), tmp_path, out)
    large = gallery.publish(gallery.Picture("n.png", "big_epoch_*.png", ""), tmp_path, out)
    assert Image.open(small).mode == "L" and small.suffix == ".png"
    assert np.array_equal(np.asarray(Image.open(small)), gray)
    assert large.suffix == ".jpg" and large.stat().st_size < gallery.MAX_BYTES and not (out / "n.png").exists()


def test_an_entry_trains_resumes_and_is_skipped_once_done(gallery, tmp_path):
    entry = gallery.Entry("tiny", "dcgan", "digits", "16 px",
                          ("model=dcgan", "data=digits", "data.image_size=16", "metrics=none",
                           "trainer.limit_train_batches=2", "trainer.max_epochs=1"),
                          (gallery.samples("tiny", "samples"),), metrics=())
    runs, out = tmp_path / "runs", tmp_path / "out"
    out.mkdir()
    row = gallery.run_entry(entry, runs, out, None, [])
    assert (row["epochs"], row["batches"], row["images_seen"]) == (1, 2, 2 * 64)
    assert Image.open(out / "tiny.png").size[0] > 16 and row["sittings"] == 1
    seconds = row["train_seconds"]
    # done: a second call does not train again
    assert gallery.run_entry(entry, runs, out, None, [])["train_seconds"] == seconds
    first_sitting = checkpoint_train_seconds(runs / "tiny")
    assert first_sitting > 0 and seconds == round(first_sitting)
    # an unfinished entry (here: one given a longer budget) continues from its checkpoint; the first sitting
    # is made to look killed (its time never reached gallery_state.json) and its time still counts
    state = {"train_seconds": 0.0, "sittings": 1, "trained": False}
    (runs / "tiny" / "gallery_state.json").write_text(json.dumps(state))
    row = gallery.run_entry(entry, runs, out, None, ["trainer.max_epochs=2"])
    assert (row["epochs"], row["batches"], row["sittings"]) == (2, 4, 2)
    both_sittings = checkpoint_train_seconds(runs / "tiny")
    assert both_sittings > first_sitting and row["train_seconds"] == round(both_sittings)
    assert "resuming from" in (runs / "tiny" / "gallery.log").read_text()


def test_rows_and_notes_written_while_an_entry_trains_are_kept(gallery, tmp_path, monkeypatch):
    """An entry trains for hours; a note written by hand (or another entry's row) meanwhile must survive its
    row being added."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"gan_mnist": {"note": "old"}}))

    def trains_while_someone_edits(entry, runs, out_dir, data_root, extra):
        (out_dir / "results.json").write_text(json.dumps({"gan_mnist": {"note": "written meanwhile"},
                                                          "vae_mnist": {"note": "its own"}}))
        return {"name": entry.name}

    monkeypatch.setattr(gallery, "run_entry", trains_while_someone_edits)
    monkeypatch.setattr(gallery, "render_table", lambda rows: "")
    monkeypatch.setattr(sys, "argv", ["gallery.py", "--only", "dcgan_mnist", "--out", str(out),
                                      "--runs", str(tmp_path / "runs")])
    gallery.main()
    rows = json.loads((out / "results.json").read_text())
    assert rows == {"gan_mnist": {"note": "written meanwhile"}, "vae_mnist": {"note": "its own"},
                    "dcgan_mnist": {"name": "dcgan_mnist", "note": ""}}


def test_a_row_waits_for_another_gallery_process_holding_the_table(gallery, tmp_path, monkeypatch):
    """Two gallery processes (``--only`` different entries) add rows to one results.json: each read-modify-write
    holds the table's lock, so neither loses the other's row."""
    import threading

    from filelock import FileLock

    monkeypatch.setattr(gallery, "render_table", lambda rows: "")
    out = tmp_path / "out"
    out.mkdir()
    other = FileLock(out / "results.json.lock")
    other.acquire()
    writer = threading.Thread(target=gallery.record_row, args=({"name": "cgan_mnist"}, out))
    writer.start()
    writer.join(timeout=1.0)
    assert writer.is_alive() and not (out / "results.json").exists()  # it waits for the other process
    (out / "results.json").write_text(json.dumps({"vae_mnist": {"name": "vae_mnist", "note": "mine"}}))
    other.release()
    writer.join(timeout=10)
    rows = json.loads((out / "results.json").read_text())
    assert rows == {"vae_mnist": {"name": "vae_mnist", "note": "mine"}, "cgan_mnist": {"name": "cgan_mnist", "note": ""}}
