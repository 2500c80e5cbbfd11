"""InfoGAN: the information loss on known inputs, the code layout of G's input, Q on D's trunk, and a
short run whose traversal task writes its grids and purity."""

import math

import pytest
import torch

from gan_experiments.models import InfoGANModule
from gan_experiments.pipeline import build_module, evaluate, train
from tests.helpers import FAST, compose_evaluate, compose_train

SMALL = ["model=infogan", "model.generator.base_channels=8", "model.discriminator.base_channels=8", "metrics=none"]


@pytest.fixture
def module(tmp_path) -> InfoGANModule:
    return build_module(compose_train(SMALL, tmp_path))


def test_generator_input_is_noise_one_hot_code_and_continuous_codes(module):
    noise, cont = torch.randn(3, 62), torch.tensor([[0.5, -0.5]] * 3)
    x = module.generator_input(noise, torch.tensor([0, 3, 9]), cont)
    assert x.shape == (3, 74) and torch.equal(x[:, :62], noise) and torch.equal(x[:, 72:], cont)
    assert torch.equal(x[:, 62:72].argmax(1), torch.tensor([0, 3, 9])) and torch.equal(x[:, 62:72].sum(1), torch.ones(3))


def test_sample_maps_gaussian_z_to_uniform_codes_and_cycles_categories(module):
    z = torch.randn(20000, 64)
    noise, categories, continuous = module.codes_from_latent(z)
    assert torch.equal(noise, z[:, :62]) and torch.equal(categories[:12], torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]))
    assert continuous.min() >= -1 and continuous.max() <= 1
    assert continuous.mean().abs() < 0.02 and continuous.var().item() == pytest.approx(1 / 3, rel=0.05)  # U(-1, 1)
    assert module.sample(torch.randn(4, 64)).shape == (4, 1, 32, 32)


def test_information_loss_on_known_inputs(module):
    q_cat = torch.log(torch.tensor([[0.5, 0.25, 0.25] + [1e-9] * 7]))  # log-probabilities as logits
    q_cont = torch.tensor([[1.0, 0.0]])
    info = module.info_loss(q_cat, q_cont, torch.tensor([1]), torch.tensor([[0.0, 0.0]]))
    assert info.item() == pytest.approx(math.log(4) + 0.1 * 0.5, rel=1e-4)  # CE + lambda_cont * ||d||^2 / 2


def test_q_shares_the_discriminator_trunk(module):
    d = module.discriminator
    logits, q_cat, q_cont = d.forward_with_codes(torch.randn(5, 1, 32, 32))
    assert logits.shape == (5,) and q_cat.shape == (5, 10) and q_cont.shape == (5, 2)
    assert torch.equal(d(torch.zeros(2, 1, 32, 32)), d.forward_with_codes(torch.zeros(2, 1, 32, 32))[0])
    trunk = {id(p) for p in d.trunk.parameters()}
    assert trunk and trunk.isdisjoint(id(p) for p in d.q_head.parameters())


def test_latent_dim_must_match_the_codes(tmp_path):
    with pytest.raises(Exception, match="noise_dim \\+ categorical \\+ continuous = 62 \\+ 10 \\+ 2 = 74"):
        build_module(compose_train([*SMALL, "model.generator.latent_dim=70"], tmp_path))


@pytest.mark.realdata
def test_infogan_trains_on_mnist_and_its_traversal_task_writes_grids_and_purity(tmp_path, shared_data):
    metrics = train(compose_train([*FAST, *SMALL, "data=mnist", f"data.root={shared_data}",
                                   "trainer.limit_train_batches=10"], tmp_path))
    # (Q is still at chance after 10 or 80 batches of these 8-channel networks: its accuracy is not a check here;
    # the information loss has its own test on known inputs)
    assert math.isfinite(metrics["train/info"])
    result = evaluate(compose_evaluate(["task=latent_traversal", f"ckpt={tmp_path}/checkpoints/last.ckpt",
                                        f"out_dir={tmp_path}/tools", "num_images=5", "steps=5", "purity_samples=20",
                                        "metrics.classifier_steps=50"]))
    assert set(result["grids"]) == {"categorical", "continuous_0", "continuous_1"}
    assert len(result["majority_class"]) == 10  # purity's maths: tests/test_fresh_clone.py recomputes it
