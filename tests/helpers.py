"""Helpers shared by the tests: composing the train config, shrinking networks, the real-data location."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from lightning import Callback
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = Path(os.environ.get("GAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
# The suite's numbers must not depend on the CPU: the default precision (bf16-mixed on CPUs with native
# bf16, see gan_experiments/config/precision.py) is pinned to fp32 here, in this process and its children;
# tests of bf16 ask for it, tests/test_precision_default.py tests the rule itself.
os.environ.setdefault("GAN_DEFAULT_PRECISION", "32-true")

# Small networks and budgets so smoke runs take seconds on two CPU cores.
FAST = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.enable_progress_bar=false",
    "logger=none",
]
# 16 px images, and no image metrics (they have their own tests)
SMALL_IMAGES = ["data.image_size=16", "data.batch_size=16", "metrics=none"]


def compose_train(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """The train config composed exactly as `python train.py <overrides>` would, minus Hydra's run dir."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def compose_evaluate(overrides: list[str]) -> DictConfig:
    """The evaluate config composed as `python evaluate.py <overrides>` would (out_dir must be given): a task's
    parameters by their own names (num_images=8) are moved into the task node (task.num_images=8) as there."""
    from gan_experiments.config.task_schemas import task_overrides

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="evaluate", overrides=task_overrides(overrides) + ["hydra.run.dir=."])


def small_networks(model: str) -> list[str]:
    """Overrides that shrink a model's networks for smoke runs."""
    if model in ("dcgan", "cgan"):
        return ["model.generator.base_channels=8", "model.discriminator.base_channels=8"]
    if model == "gan":
        return ["model.generator.hidden_dims=[32,32]", "model.discriminator.hidden_dims=[32,32]"]
    if model == "cyclegan":
        return ["model.generator_ab.base_channels=8", "model.generator_ab.n_blocks=2",
                "model.discriminator_a.base_channels=8", "model.discriminator_a.n_layers=2"]
    if model == "pix2pix":
        return ["model.generator.base_channels=8", "model.discriminator.base_channels=8", "model.discriminator.n_layers=2"]
    return []


def write_random_inception_weights(path: Path) -> Path:
    """A randomly initialised InceptionV3 of torch-fidelity's exact architecture, saved as a weights file
    (no package ships the real weights and there is no internet here). BN variances set to 1 keep the
    activations finite."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    load, url = fe.FeatureExtractorInceptionV3.load_state_dict, fe.load_state_dict_from_url
    fe.FeatureExtractorInceptionV3.load_state_dict = lambda self, state, strict=True: None
    fe.load_state_dict_from_url = lambda *a, **k: {}
    try:
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        fe.FeatureExtractorInceptionV3.load_state_dict, fe.load_state_dict_from_url = load, url
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.fill_(1.0)
    torch.save(net.state_dict(), path)
    return path


class RecordTraining(Callback):
    """Test helper: at the end of training, writes ``path`` (JSON) saying, for each optimizer, whether it
    stepped (holds state) and the fraction of the parameter tensors it owns that changed since training
    started (a Wasserstein critic's output bias gets no gradient, so not always all of them), and
    which top-level submodules' parameters changed: evidence that each network was trained by its own
    optimizer, not merely that a loss was finite."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.start: dict = {}

    def on_train_start(self, trainer, pl_module):
        self.start = {name: p.detach().clone() for name, p in pl_module.named_parameters()}

    def on_train_end(self, trainer, pl_module):
        import json

        import torch

        changed = {name for name, p in pl_module.named_parameters() if not torch.equal(p.detach(), self.start[name])}
        names = {id(p): name for name, p in pl_module.named_parameters()}
        optimizers = []
        for optimizer in trainer.optimizers:
            params = [names[id(p)] for group in optimizer.param_groups for p in group["params"]]
            optimizers.append({"stepped": bool(optimizer.state), "owns": sorted({n.split(".")[0] for n in params}),
                               "changed_fraction": sum(n in changed for n in params) / len(params)})
        modules = sorted({name.split(".")[0] for name in changed})
        self.path.write_text(json.dumps({"optimizers": optimizers, "changed_modules": modules}))


def recorded_training(overrides: list[str], output_dir: Path) -> dict:
    """Train with ``RecordTraining`` and return what it recorded."""
    import json

    from gan_experiments.pipeline import train

    record = output_dir / "record.json"
    train(compose_train([*overrides, "+callbacks.record._target_=tests.helpers.RecordTraining",
                         f"+callbacks.record.path={record}"], output_dir))
    return json.loads(record.read_text())


def write_image_folders(root: Path, layout: dict[str, int], size: tuple[int, int] = (16, 16)) -> Path:
    """Folders of small random RGB PNGs under ``root``: ``{"trainA": 8, ...}`` -> root/trainA/000.png ...
    (``size`` is (width, height); a paired dataset's side-by-side images are twice as wide as high)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{i:03d}.png")
    return root


def scipy_fid(real, fake) -> float:
    """Independent float64 reference FID of two feature tensors [N, d]:
    ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    import numpy as np
    import scipy.linalg

    a, b = real.double().numpy(), fake.double().numpy()
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


class Exploit:
    """Unpickling it runs ``touch marker``: a malicious checkpoint payload (must never be unpickled)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# --- exact resume ----------------------------------------------------------------------------------------

RESUME_COMMON = ["trainer.enable_progress_bar=false", "logger=none", "trainer.deterministic=true", "seed=7"]


def resume_run(overrides, out, epochs, ckpt_path=None):
    """Train ``epochs`` epochs into ``out`` (optionally resuming ``ckpt_path``); the last checkpoint's content."""
    import torch

    from gan_experiments.pipeline import train

    extra = [f"trainer.max_epochs={epochs}"] + ([f"ckpt_path={ckpt_path}"] if ckpt_path else [])
    train(compose_train([*RESUME_COMMON, *overrides, *extra], out))
    return torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)


def max_difference(a, b):
    """Largest |a - b| over all tensors of two nested structures (state dicts, optimizer states); inf where
    any other value differs."""
    import torch

    if isinstance(a, torch.Tensor):
        return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return max((max_difference(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, (list, tuple)):
        return max((max_difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    return 0.0 if a == b else float("inf")  # other values (counters, a module's extra state): equal or not


def assert_resume_is_exact(overrides, tmp_path):
    """4 epochs straight and 2 epochs + resume to 4 end with the same weights, optimizer states, counters."""
    straight = resume_run(overrides, tmp_path / "straight", 4)
    halfway = resume_run(overrides, tmp_path / "half", 2)
    resumed = resume_run(overrides, tmp_path / "resumed", 4, ckpt_path=tmp_path / "half" / "checkpoints" / "last.ckpt")
    assert resumed["epoch"] == straight["epoch"] == 3 and resumed["global_step"] == straight["global_step"]
    assert max_difference(halfway["state_dict"], straight["state_dict"]) > 1e-3  # epochs 3-4 did train
    assert max_difference(resumed["state_dict"], straight["state_dict"]) <= 1e-6
    assert max_difference(resumed["optimizer_states"], straight["optimizer_states"]) <= 1e-6
    return straight, resumed


# --- test callbacks (state per instance; results go to files, so they also come back from DDP ranks) ------

class PoisonGenerator(Callback):
    """Test helper: G's weights become NaN when epoch ``epoch`` starts (a stand-in for a diverging run)."""

    def __init__(self, epoch: int = 1):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            import torch

            with torch.no_grad():
                for p in pl_module.generator.parameters():
                    p.fill_(float("nan"))


class RecordDataOrder(Callback):
    """Writes ``<dirpath>/order_rank<global rank>.json`` at the start of training: the training sampler's
    seed and the indices of this rank's first epoch (its shard of the shuffled order)."""

    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)

    def on_train_start(self, trainer, pl_module):
        import json

        sampler = trainer.train_dataloader.sampler
        skip = sampler.skip  # iterating consumes a resume's skip: keep it for the real first pass
        indices = list(iter(sampler))
        sampler.skip = skip
        self.dirpath.mkdir(parents=True, exist_ok=True)
        (self.dirpath / f"order_rank{trainer.global_rank}.json").write_text(
            json.dumps({"seed": sampler.seed, "world_size": trainer.world_size, "indices": indices}))


class RecordGeneratorDtype(Callback):
    """Test helper: writes to ``path`` the dtype of the generator's output inside the trainer's precision
    context (bfloat16 under bf16-mixed autocast, float32 in fp32)."""

    def __init__(self, path: str):
        self.path = Path(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        import torch

        with trainer.precision_plugin.forward_context():
            fake = pl_module.generator(torch.randn(2, pl_module.latent_dim))
        self.path.write_text(str(fake.dtype))


HYDRA_FLAGS = {"--help": 0, "--hydra-help": 0, "--info": 0, "--cfg": 1, "--package": 1, "--resolve": 0}


def without_hydra_flags(words: list[str]) -> list[str]:
    """The overrides of a command, without Hydra's own flags (``--help``, ``--cfg job``, ``--package task``)."""
    kept, skip = [], 0
    for word in words:
        if skip:
            skip -= 1
        elif word in HYDRA_FLAGS:
            skip = HYDRA_FLAGS[word]
        else:
            kept.append(word)
    return kept
