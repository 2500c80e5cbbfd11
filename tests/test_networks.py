"""Network output shapes for several image sizes, conditioning, initialization and input checks."""

import pytest
import torch

from gan_experiments.networks import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gan_experiments.networks.layers import concat_class_maps


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    g = DCGANGenerator(latent_dim=10, image_size=size, channels=channels, base_channels=8)
    d = DCGANDiscriminator(image_size=size, channels=channels, base_channels=8)
    x = g(torch.randn(2, 10))
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1  # tanh
    assert d(x).shape == (2,)


def test_dcgan_64_is_the_paper_architecture():
    g = DCGANGenerator(latent_dim=100, image_size=64, channels=3)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    d = DCGANDiscriminator(image_size=64, channels=3)
    norms = [m for m in d.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [128, 256, 512]  # no norm on the input layer


@pytest.mark.parametrize("size", [12, 4, -3, 48])
def test_dcgan_rejects_sizes_that_are_not_powers_of_two(size):
    with pytest.raises(ValueError, match="data.image_size"):
        DCGANGenerator(image_size=size)


def test_dcgan_init_is_normal_002():
    g = DCGANGenerator(latent_dim=100, image_size=64, channels=3)
    weights = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert weights.mean().abs() < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.05)


def test_conditional_dcgan():
    g = DCGANGenerator(latent_dim=10, image_size=16, channels=1, base_channels=8, num_classes=10)
    d = DCGANDiscriminator(image_size=16, channels=1, base_channels=8, num_classes=10)
    labels = torch.tensor([0, 3, 9])
    x = g(torch.randn(3, 10), labels)
    assert x.shape == (3, 1, 16, 16) and d(x, labels).shape == (3,)
    assert d.net[0].in_channels == 1 + 10
    with pytest.raises(ValueError, match="pass labels"):
        g(torch.randn(3, 10))
    # the label changes the output for the same z
    z = torch.randn(1, 10).repeat(2, 1)
    g.eval()
    out = g(z, torch.tensor([1, 2]))
    assert not torch.allclose(out[0], out[1])


def test_class_maps_are_one_hot_planes():
    x = torch.zeros(2, 1, 4, 4)
    out = concat_class_maps(x, torch.tensor([2, 0]), 3)
    assert out.shape == (2, 4, 4, 4)
    assert out[0, 1 + 2].eq(1).all() and out[0, 1:3].eq(0).all()
    assert out[1, 1].eq(1).all() and out[1, 2:].eq(0).all()


def test_wrong_input_shapes_are_named():
    g = DCGANGenerator(latent_dim=10, image_size=16, channels=1, base_channels=8)
    with pytest.raises(ValueError, match=r"z must have shape \[N, 10\]"):
        g(torch.randn(2, 11))
    d = DCGANDiscriminator(image_size=16, channels=1, base_channels=8)
    with pytest.raises(ValueError, match="images must have shape"):
        d(torch.randn(2, 3, 16, 16))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 16, 16), (2,)])
def test_mlp_shapes(shape):
    g = MLPGenerator(output_shape=shape, latent_dim=8, hidden_dims=(16, 16))
    d = MLPDiscriminator(input_shape=shape, hidden_dims=(16,))
    x = g(torch.randn(4, 8))
    assert x.shape == (4, *shape) and d(x).shape == (4,)


def test_mlp_layers_follow_the_original_gan():
    g = MLPGenerator(output_shape=(1, 8, 8), latent_dim=8, hidden_dims=(16, 32), output_activation="sigmoid")
    kinds = [type(m).__name__ for m in g.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear", "Sigmoid"]
    assert 0 <= g(torch.randn(4, 8)).min() and g(torch.randn(4, 8)).max() <= 1
    d = MLPDiscriminator(input_shape=(1, 8, 8), hidden_dims=(16,))
    assert [type(m).__name__ for m in d.net] == ["Linear", "LeakyReLU", "Linear"]
    assert d.net[1].negative_slope == 0.2


def test_conditional_mlp():
    g = MLPGenerator(output_shape=(2,), latent_dim=4, hidden_dims=(8,), num_classes=5, output_activation="none")
    d = MLPDiscriminator(input_shape=(2,), hidden_dims=(8,), num_classes=5)
    labels = torch.tensor([0, 4])
    assert d(g(torch.randn(2, 4), labels), labels).shape == (2,)
    with pytest.raises(ValueError, match="unconditional"):
        MLPDiscriminator(input_shape=(2,))(torch.randn(2, 2), labels)
