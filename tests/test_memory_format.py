"""callbacks.channels_last: the convolution weights train in channels-last memory, to the same values."""

import torch

from gan_experiments.pipeline import train
from tests.helpers import FAST, SMALL_IMAGES, compose_train, small_networks


def test_channels_last_trains_the_same_weights_in_nhwc(tmp_path):
    weights = {}
    for layout in ("false", "true"):
        out = tmp_path / layout
        train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "seed=0", "trainer.deterministic=true",
                             f"callbacks.channels_last.enabled={layout}"], out))
        weights[layout] = torch.load(out / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    convs = [k for k, v in weights["true"].items() if v.ndim == 4]
    assert convs and all(weights["true"][k].is_contiguous(memory_format=torch.channels_last) for k in convs)
    assert not all(weights["false"][k].is_contiguous(memory_format=torch.channels_last) for k in convs)
    for name, value in weights["false"].items():  # 4 batches of D and G steps: the same training
        assert torch.allclose(value.float(), weights["true"][name].float(), atol=1e-4), name
