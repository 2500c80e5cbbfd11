"""The VAE baseline: its loss terms on known inputs, shapes, and a real-data run that lowers its loss and
reports the same metrics as the GANs."""

import json
import math
from pathlib import Path

import pytest
import torch
from lightning import Callback

from gan_experiments.losses.vae import kl_to_standard_normal, negative_elbo
from gan_experiments.networks import ConvEncoder, DCGANGenerator
from gan_experiments.pipeline import build_module, train
from tests.helpers import compose_train


def test_negative_elbo_on_known_inputs():
    x, x_hat = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.1)
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    loss, reconstruction, kl = negative_elbo(x, x_hat, mu, logvar, sigma=0.1, beta=1.0)
    assert reconstruction.item() == pytest.approx(4 * 0.01 / (2 * 0.01))  # 4 pixels of squared error 0.01
    assert kl.item() == 0 and loss.item() == pytest.approx(2.0)
    # KL(N(1, e^1) || N(0, 1)) = -1/2 (1 + 1 - 1 - e) in one dimension
    assert kl_to_standard_normal(torch.tensor([[1.0]]), torch.tensor([[1.0]])).item() == pytest.approx(0.5 * (math.e - 1))
    loss_beta, _, kl = negative_elbo(x, x_hat, torch.ones(2, 3), logvar, sigma=0.1, beta=4.0)
    assert kl.item() == pytest.approx(1.5) and loss_beta.item() == pytest.approx(2.0 + 4 * 1.5)


def test_encoder_and_decoder_shapes():
    encoder = ConvEncoder(latent_dim=16, image_size=32, channels=1, base_channels=8)
    mu, logvar = encoder(torch.randn(5, 1, 32, 32))
    assert mu.shape == logvar.shape == (5, 16)
    decoder = DCGANGenerator(latent_dim=16, image_size=32, channels=1, base_channels=8)
    assert decoder(mu).shape == (5, 1, 32, 32)


def test_vae_config_builds_with_one_optimizer(tmp_path):
    module = build_module(compose_train(["model=vae"], tmp_path))
    optimizer = module.configure_optimizers()
    assert type(module).__name__ == "VAEModule" and optimizer.param_groups[0]["lr"] == 1e-3
    assert module.sample(torch.randn(2, 100)).shape == (2, 1, 32, 32)  # digits: 1 channel, 32 px


class EpochLosses(Callback):
    """The epoch-mean training loss of every epoch, rewritten to ``path`` (JSON list) after each epoch."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.losses: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.losses.append(float(trainer.callback_metrics["train/loss_epoch"]))
        self.path.write_text(json.dumps(self.losses))


@pytest.mark.realdata
def test_vae_lowers_its_loss_on_mnist_and_reports_fid(tmp_path, shared_data):
    overrides = ["model=vae", "data=mnist", f"data.root={shared_data}", "data.train_subset=2048", "data.num_workers=0",
                 "model.encoder.base_channels=16", "model.decoder.base_channels=16", "model.decoder.latent_dim=16",
                 "trainer.max_epochs=3", "trainer.enable_progress_bar=false", "logger=none",
                 "metrics.every_n_epochs=3", "metrics.num_samples=500", "metrics.classifier_steps=200",
                 f"metrics.cache_dir={tmp_path / 'cache'}", "+callbacks.epoch_losses._target_=tests.test_vae.EpochLosses",
                 f"+callbacks.epoch_losses.path={tmp_path / 'epoch_losses.json'}"]
    metrics = train(compose_train(overrides, tmp_path))
    losses = json.loads((tmp_path / "epoch_losses.json").read_text())
    assert losses[-1] < 0.8 * losses[0]
    assert all(math.isfinite(metrics[f"val/{k}"]) for k in ("fid", "kid", "precision", "recall"))
    assert (tmp_path / "samples/reconstructions_epoch_003.png").is_file() and (tmp_path / "samples/epoch_003.png").is_file()
