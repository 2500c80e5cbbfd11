"""Named evaluation protocols: the image sets, counts and networks of the field's numbers, chosen by
metrics.protocol in training and evaluate.py, and named beside every value."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from gan_experiments.config import ConfigError
from gan_experiments.metrics.features import VGG16Features
from gan_experiments.metrics.protocols import PROTOCOLS, select_protocol
from gan_experiments.pipeline import evaluate, train
from tests.helpers import FAST, compose_evaluate, compose_train, small_networks

DIGITS16 = ["data.image_size=16", "data.batch_size=16", *small_networks("dcgan")]


def test_named_protocols_pin_nvlabs_and_studiogan_definitions():
    """Change detector against NVlabs stylegan2-ada metric_main.py (num_gen, max_real, nhood_size) and
    StudioGAN's test-split tables; a change here changes what the numbers mean."""
    expected = {  # name: (num_fake, real split, max_real, scores, pr features, k)
        "fid50k_full": (50_000, "train", None, ("fid",), "same", 3),
        "kid50k_full": (50_000, "train", None, ("kid",), "same", 3),
        "pr50k3_full": (50_000, "train", 200_000, ("precision", "recall"), "vgg16", 3),
        "is50k": (50_000, "train", None, ("is",), "same", 3),
        "fid50k": (50_000, "train", 50_000, ("fid",), "same", 3),
        "studiogan_test": (50_000, "val", None, ("fid", "is", "precision", "recall"), "same", 3),
    }
    got = {name: (p.num_fake, p.real_split, p.max_real, p.scores, p.pr_features, p.k) for name, p in PROTOCOLS.items()}
    assert got == expected and all(p.features == "inception" for p in PROTOCOLS.values())


def test_a_shrunk_protocol_says_it_is_not_the_protocol():
    assert select_protocol("fid50k_full", 100, "auto", num_fake=200).name == "fid50k_full@200_generated"
    assert select_protocol(None, 300, "classifier").name == "custom"
    with pytest.raises(ConfigError, match="metrics.protocol='fid5k' is not a protocol; choose one of fid50k_full"):
        select_protocol("fid5k", 100, "auto")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(compose_train([*FAST, *DIGITS16, "metrics=none", "trainer.limit_train_batches=10"], out))
    return out / "checkpoints/last.ckpt"


def test_evaluate_runs_a_named_protocol_on_its_own_image_set(checkpoint, tmp_path, monkeypatch):
    """fid50k_full asks for Inception features of the whole training split; this machine has no Inception
    weights, so the extractor is swapped for the digits classifier (the request is recorded) to check
    what the protocol decides: which features, which images, how many, which scores, and its name."""
    import gan_experiments.tools.common as common

    requested, build = [], common.build_extractor
    monkeypatch.setattr(common, "build_extractor", lambda features, *a, **k: (requested.append(features),
                                                                             build("classifier", *a, **k))[1])
    cfg = compose_evaluate(["task=metrics", f"ckpt={checkpoint}", f"out_dir={tmp_path}", "metrics.protocol=fid50k_full",
                            "metrics.protocol_num_fake=200", "metrics.num_samples=100", "metrics.classifier_steps=50"])
    report = evaluate(cfg)
    digits = instantiate(compose_train([*DIGITS16]).data)
    digits.setup("fit")
    assert requested == ["inception"]
    assert report["protocol"] == "fid50k_full@200_generated" and report["num_fake"] == 200
    assert report["num_real"] == len(digits.train_set)  # the whole training split, not metrics.num_samples
    assert "fid" in report and not {"kid", "is", "precision", "recall"} & set(report)
    assert report["protocol_description"].startswith(f"fid50k_full@200_generated: fid of 200 generated vs "
                                                     f"{len(digits.train_set)} training images")


def test_training_names_its_protocol_beside_the_values(tmp_path):
    metrics = train(compose_train([*FAST, *DIGITS16, "metrics=default", "metrics.num_samples=60",
                                   "metrics.every_n_epochs=1", "metrics.classifier_steps=50"], tmp_path))
    assert metrics["val/protocol"] == "custom" and "val/fid" in metrics
    assert metrics["val/protocol_description"].startswith("custom: fid, kid, is, precision, recall of 60 generated "
                                                          "vs 60 validation/test images, classifier-")


@pytest.fixture(scope="module")
def random_vgg16(tmp_path_factory):
    """torchvision's VGG-16 architecture with random weights (no real weights here), saved in fp16."""
    from torchvision.models import vgg16

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save({k: v.half() for k, v in vgg16(weights=None).state_dict().items()}, path)
    return path


def test_vgg16_features_are_fc2_after_relu_on_imagenet_normalized_224px_input(random_vgg16):
    from torchvision.models import vgg16

    extractor = VGG16Features(random_vgg16)
    net = vgg16(weights=None)
    net.load_state_dict(torch.load(random_vgg16, weights_only=True))
    net.eval()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    x = torch.nn.functional.interpolate(((images + 1) * 127.5 + 0.5).floor() / 255, size=224, mode="bilinear")
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        h = torch.flatten(net.avgpool(net.features(x)), 1)
        expected = torch.relu(net.classifier[3](torch.relu(net.classifier[0](h))))  # fc1 ReLU (dropout off) fc2 ReLU
    features, logits = extractor(images)
    assert features.shape == (2, 4096) and logits.shape == (2, 0)
    assert torch.allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_precision_recall_on_vgg16_features_in_training(random_vgg16, tmp_path):
    """The same seed and images with pr_features=same and =vgg16: FID (classifier features) is the same
    number, only precision/recall move to VGG-16 features (whose maths test_vgg16_features_* checks)."""
    runs = {}
    for pr in ("same", "vgg16"):
        runs[pr] = train(compose_train([*FAST, *DIGITS16, "metrics=default", "metrics.num_samples=20", "seed=0",
                                        "metrics.every_n_epochs=1", "metrics.classifier_steps=50",
                                        f"metrics.pr_features={pr}", f"metrics.vgg16_weights={random_vgg16}"],
                                       tmp_path / pr))
    vgg = runs["vgg16"]
    assert vgg["val/pr_features"].startswith("vgg16-") and vgg["val/features"].startswith("classifier-")
    assert "val/pr_features" not in runs["same"] and "precision/recall on VGG-16 features" in vgg["val/protocol_description"]
    assert vgg["val/fid"] == pytest.approx(runs["same"]["val/fid"], rel=1e-9)
