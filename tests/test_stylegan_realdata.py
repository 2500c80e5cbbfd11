"""StyleGAN on the CelebA subset and MNIST (../shared/data): a short run improves its FID and its
checkpoint drives every visual and editing tool."""

import csv
import json
import math

import pytest
from PIL import Image

from gan_experiments.pipeline import evaluate, train
from tests.helpers import compose_evaluate, compose_train

pytestmark = pytest.mark.realdata

SMALL_STYLEGAN = ["model=stylegan", "model.generator.latent_dim=64", "model.generator.w_dim=64",
                  "model.generator.base_channels=16", "model.generator.max_channels=64", "model.fade_images=128",
                  "model.stable_images=128", "data.image_size=32", "data.batch_size=16", "data.num_workers=0",
                  "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def celeba_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("stylegan_celeba")
    cfg = compose_train([*SMALL_STYLEGAN, "data=celeba", f"data.root={shared_data}", "trainer.max_epochs=3",
                         "trainer.limit_train_batches=60", "logger=csv", "metrics.num_samples=500",
                         "metrics.every_n_epochs=1", "metrics.classifier_steps=200"], out)
    return train(cfg), out


def tool(out, task, *overrides):
    return evaluate(compose_evaluate([f"task={task}", f"ckpt={out}/checkpoints/last.ckpt", f"out_dir={out}/tools",
                                      f"out={out}/tools/{task}.json", *overrides]))


def test_stylegan_grows_to_32px_and_its_fid_falls(celeba_run):
    metrics, out = celeba_run
    rows = list(csv.DictReader(open(out / "csv/version_0/metrics.csv")))
    fids = [float(r["val/fid"]) for r in rows if r.get("val/fid")]
    resolutions = {float(r["train/resolution"]) for r in rows if r.get("train/resolution")}
    assert len(fids) == 3 and fids[-1] < 0.5 * fids[0], fids  # measured 76.6 -> 20.6 -> 13.4
    assert {8.0, 16.0, 32.0} <= resolutions and max(resolutions) == 32  # (4x4 lasts 8 batches, between logs)
    assert metrics["val/features"].startswith("classifier") and math.isfinite(metrics["val/precision"])


def test_visual_tools_write_their_grids(celeba_run):
    _, out = celeba_run
    w = tool(out, "interpolate", "space=w", "method=linear", "num_images=4", "steps=6")
    z = tool(out, "interpolate", "space=z", "num_images=4", "steps=6")
    with Image.open(w["grid"]) as grid:
        assert grid.size == (2 + 6 * 34, 2 + 4 * 34)
    with Image.open(z["gif"]) as gif:
        assert gif.n_frames == 2 * 6 - 2  # forwards and back
    mixing = tool(out, "style_mixing", "num_images=4")
    assert set(mixing["grids"]) == {"coarse", "middle"}  # 32 px has 8 style layers: no fine band
    noise = tool(out, "noise", "num_images=3", "draws=4")
    assert noise["mean_pixel_std"] > 0
    truncation = tool(out, "truncation", "psis=[0.0,1.0]", "metrics.num_samples=100", "num_images=16")
    low, full = truncation["sweep"]
    assert low["recall"] <= full["recall"]  # psi = 0: every sample is the average face


def test_edit_raises_the_attribute_for_most_samples(celeba_run):
    _, out = celeba_run
    result = tool(out, "edit", "attribute=Smiling", "num_images=32")
    assert result["share_increased"] >= 0.8 and result["space"] == "w"
    assert result["mean_score_after"] > result["mean_score_before"]


def test_bias_audit_reports_every_attribute(celeba_run):
    _, out = celeba_run
    result = tool(out, "bias_audit", "attribute=Smiling", "num_images=32")
    saved = json.loads((out / "tools/bias_audit.json").read_text())
    assert len(saved["attributes"]) == 40 and saved["attribute"] == "Smiling"
    assert all(set(e) == {"mean_change", "std_change", "real_correlation"} for e in saved["attributes"].values())
    assert result["target_mean_change"] > 0
    # CelebA's own labels: smiling goes with high cheekbones and an open mouth
    assert saved["attributes"]["High_Cheekbones"]["real_correlation"] > 0.5
    assert (out / "tools/bias_audit_Smiling.png").is_file()


def test_stylegan_trains_on_mnist(shared_data, tmp_path):
    metrics = train(compose_train([*SMALL_STYLEGAN, "data=mnist", f"data.root={shared_data}", "trainer.max_epochs=1",
                                   "trainer.limit_train_batches=30", "logger=none", "metrics=none"], tmp_path))
    assert math.isfinite(metrics["train/g_loss"]) and (tmp_path / "samples/epoch_001.png").is_file()


def test_saved_directions_edit_without_gradients(celeba_run):
    _, out = celeba_run
    found = tool(out, "z_directions", "num_images=32")
    assert found["cosine"]["Smiling"]["Smiling"] == pytest.approx(1.0, abs=1e-3)
    result = tool(out, "edit", "attribute=Smiling", "num_images=32", f"directions={found['file']}")
    assert result["method"] == "saved direction" and result["share_increased"] >= 0.8
