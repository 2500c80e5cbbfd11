"""Feature extractors: the Inception path with a weights file this test creates, the classifier, auto."""

import pytest
import torch

from gan_experiments.config import ConfigError
from gan_experiments.data import DigitsDataModule
from gan_experiments.metrics.classifier import load_or_train_classifier
from gan_experiments.metrics.features import InceptionFeatures, to_uint8
from gan_experiments.metrics.reference import real_features
from gan_experiments.metrics.select import build_extractor
from tests.helpers import write_random_inception_weights


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    return write_random_inception_weights(tmp_path_factory.mktemp("weights") / "inception.pth")


def test_to_uint8_rounds_like_png():
    x = torch.tensor([-1.0, -0.999, 0.0, 0.999, 1.0, 3.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255, 255]


def test_inception_features_from_a_weights_file(inception_weights):
    extractor = InceptionFeatures(inception_weights)
    gray_odd_size = torch.rand(2, 1, 37, 45) * 2 - 1
    features, logits = extractor(gray_odd_size)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008) and torch.isfinite(features).all()
    assert extractor.net.use_antialias is False  # the FID paper's resize, not torchmetrics' default
    # grayscale is repeated to RGB: same features as the explicit RGB image
    assert torch.allclose(extractor(gray_odd_size.expand(-1, 3, -1, -1))[0], features)


def test_auto_picks_inception_when_weights_exist(inception_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))
    assert build_extractor("auto", None, str(inception_weights)).name == "inception"
    with pytest.raises(ConfigError, match="metrics.inception_weights"):
        build_extractor("inception", None, None)
    with pytest.raises(ConfigError, match="does not exist"):
        build_extractor("auto", None, str(tmp_path / "missing.pth"))


def test_auto_falls_back_to_the_dataset_classifier(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))
    extractor = build_extractor("auto", DigitsDataModule(image_size=16), None, tmp_path, classifier_steps=150)
    assert extractor.name == "classifier" and extractor.info["val_accuracy"] > 0.8
    features, logits = extractor(torch.rand(4, 1, 16, 16) * 2 - 1)
    assert features.shape == (4, 128) and logits.shape == (4, 10)


def test_classifier_is_cached(tmp_path):
    dm = DigitsDataModule(image_size=16)
    first, info = load_or_train_classifier(dm, tmp_path, steps=50)
    again, info_again = load_or_train_classifier(DigitsDataModule(image_size=16), tmp_path, steps=50)
    assert info["path"] == info_again["path"]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True))
    other, info_other = load_or_train_classifier(DigitsDataModule(image_size=8), tmp_path, steps=50)
    assert info_other["path"] != info["path"]  # another image size is another dataset


def test_unlabelled_data_needs_inception(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))
    from gan_experiments.data import Toy2DDataModule

    dm = Toy2DDataModule()
    dm.num_classes = 0
    with pytest.raises(ConfigError, match="needs a labelled dataset"):
        build_extractor("classifier", dm, None, tmp_path)


def test_real_features_cache_is_keyed_by_content(tmp_path):
    dm = DigitsDataModule(image_size=16)
    dm.setup()
    extractor = build_extractor("classifier", dm, None, tmp_path, classifier_steps=30)
    a = real_features(extractor, dm.val_set, 100, tmp_path)
    b = real_features(extractor, dm.val_set, 100, tmp_path)
    assert a.key == b.key and torch.equal(a.features, b.features) and len(a) == 100
    assert len(list((tmp_path / "real_features").glob("*.pt"))) == 1
    dm.val_set.samples[0] = -dm.val_set.samples[0]  # the data changed: the cache must not be reused
    c = real_features(extractor, dm.val_set, 100, tmp_path)
    assert c.key != a.key and not torch.equal(c.features, a.features)
    assert real_features(extractor, dm.val_set, 50, tmp_path).key != c.key  # another sample count
