"""``evaluate.py task=augmentation ckpt=<cgan checkpoint>``: do class-conditional GAN samples help a
classifier trained on little labelled data? (the course's "GANs for data augmentation" experiment)

For every seed: ``augment.real_per_class`` real training images per class (a seeded draw) and
``augment.fake_per_class`` generated ones per class (G(z, y), z optionally truncated at
``augment.truncation``). The same classifier (the metrics' LeNet-style CNN, Adam 1e-3, ``augment.steps``
batches of ``augment.batch_size``) is trained on (a) the real images alone, (b) the real images with
standard augmentation (random affine: +-10 degrees, 10 % shifts, 0.9-1.1 scale, drawn per image),
(c) real + generated, (d) real + generated with standard augmentation, and scored on the whole real test
split. Also (c) for every ``augment.curve`` count of generated images per class: the plot
``augmentation.png`` of accuracy against it, with (a) and (b) as reference lines. The JSON says, in
``verdict``, whether the GAN samples helped (mean gain larger than the seeds' standard deviation) or not.
"""

from __future__ import annotations

import functools
import itertools
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from torch.utils.data import Subset  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from gan_experiments.errors import ConfigError  # noqa: E402
from gan_experiments.metrics.classifier import DomainClassifier  # noqa: E402
from gan_experiments.metrics.reference import first_images  # noqa: E402
from gan_experiments.tools.checkpoints import checkpoint_module  # noqa: E402
from gan_experiments.tools.common import datamodule_of  # noqa: E402
from gan_experiments.tools.latents import truncated_normal  # noqa: E402
from gan_experiments.training import fit_classifier  # noqa: E402

CONDITIONS = ("real_only", "real_std_aug", "real_plus_gan", "real_plus_both")
# fill -1: the background of images in [-1, 1] (black), not mid-gray
STANDARD_AUGMENTATION = v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), fill=-1.0)


def labels_of(dataset) -> torch.Tensor:
    """Every label of a dataset [N] (torchvision's ``targets`` when present, through a Subset's indices)."""
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[torch.as_tensor(dataset.indices)]
    if hasattr(dataset, "targets"):  # torchvision datasets (MNIST, CIFAR-10, ...) hold their labels there
        return torch.as_tensor(dataset.targets)
    return first_images(dataset, len(dataset))[1]


def real_subset(dataset, labels: torch.Tensor, per_class: int, classes: int, seed: int):
    """``per_class`` images of each class, drawn with ``seed``: images [K*n, C, H, W], labels [K*n]."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for k in range(classes):
        members = (labels == k).nonzero().flatten()
        if len(members) < per_class:
            raise ConfigError(f"augment.real_per_class={per_class}, but class {k} has {len(members)} training images")
        picks += members[torch.randperm(len(members), generator=gen)[:per_class]].tolist()
    images = torch.stack([dataset[i][0] for i in picks])
    return images, labels[picks]


def generated(module, per_class: int, classes: int, truncation: float | None, seed: int):
    """``per_class`` samples G(z, k) of every class k: images [K*n, C, H, W], labels [K*n]."""
    labels = torch.arange(classes).repeat_interleave(per_class)
    if per_class == 0:
        return torch.empty(0, *module.generator.output_shape), labels
    z = truncated_normal(len(labels), module.latent_dim, truncation, torch.Generator().manual_seed(10_000 + seed))
    images = torch.cat([module.sample(z[i : i + 500], labels[i : i + 500]).float().cpu() for i in range(0, len(z), 500)])
    return images, labels


def train_and_score(images, labels, test_images, test_labels, classes: int, augment: bool, steps: int,
                    batch_size: int, seed: int) -> float:
    """Test accuracy of a classifier trained on (images, labels) for ``steps`` batches."""
    def batches():
        order = itertools.chain.from_iterable(torch.randperm(len(images)).split(batch_size) for _ in itertools.count())
        for index in order:
            x = images[index]
            yield (torch.stack([STANDARD_AUGMENTATION(image) for image in x]) if augment else x), labels[index]

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = fit_classifier(DomainClassifier(images.shape[1], classes), batches(), steps)
        with torch.no_grad():
            hits = sum((classifier(x).argmax(1) == y).sum().item()
                       for x, y in zip(test_images.split(1000), test_labels.split(1000), strict=True))
    return hits / len(test_labels)


def summary(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": values}


def augmentation_study(cfg: DictConfig, *, ckpt: str, augment: DictConfig) -> dict:
    """``augment``: the task's ``augment.*`` options (real_per_class, fake_per_class, curve, seeds, steps,
    batch_size, truncation)."""
    a = augment
    module, run_config = checkpoint_module(cfg, ckpt)
    classes = module.num_classes
    if not classes:
        raise ConfigError(f"task=augmentation needs a class-conditional checkpoint (model=cgan); ckpt={ckpt} "
                          f"is an unconditional {type(module).__name__}")
    datamodule = datamodule_of(cfg, run_config)
    train_set = datamodule.classifier_splits()[0]
    train_labels = labels_of(train_set)
    test_images, test_labels = first_images(datamodule.val_set, len(datamodule.val_set))
    counts = sorted({a.fake_per_class, *a.curve})
    runs: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    curve: dict[int, list[float]] = {n: [] for n in counts}
    for seed in a.seeds:
        real_x, real_y = real_subset(train_set, train_labels, a.real_per_class, classes, seed)
        score = functools.partial(train_and_score, test_images=test_images, test_labels=test_labels,
                                  classes=classes, steps=a.steps, batch_size=a.batch_size, seed=seed)
        for n in counts:
            fake_x, fake_y = generated(module, n, classes, a.truncation, seed)
            mixed_x, mixed_y = torch.cat([real_x, fake_x]), torch.cat([real_y, fake_y])
            curve[n].append(score(mixed_x, mixed_y, augment=False))
            if n == a.fake_per_class:
                runs["real_plus_gan"].append(curve[n][-1])
                runs["real_plus_both"].append(score(mixed_x, mixed_y, augment=True))
        runs["real_only"].append(curve[0][-1] if 0 in curve else score(real_x, real_y, augment=False))
        runs["real_std_aug"].append(score(real_x, real_y, augment=True))
    result = {f"accuracy/{name}": summary(values) for name, values in runs.items()}
    result["curve"] = [{"fake_per_class": n, **summary(curve[n])} for n in counts]
    result |= {"real_per_class": a.real_per_class, "fake_per_class": a.fake_per_class, "seeds": list(a.seeds),
               "steps": a.steps, "truncation": a.truncation, "test_images": len(test_labels),
               "verdict": verdict(result)}
    result["plot"] = str(plot(result, Path(cfg.out_dir) / "augmentation.png"))
    return result


def verdict(result: dict) -> str:
    base, gan = result["accuracy/real_only"], result["accuracy/real_plus_gan"]
    gain = gan["mean"] - base["mean"]
    noise = max(base["std"], gan["std"])
    if len(base["runs"]) < 2:
        return (f"GAN samples changed accuracy by {100 * gain:+.1f} points over real images alone; one seed gives no "
                "spread to judge it against (set augment.seeds to several)")
    if gain > noise:
        return f"GAN samples helped: +{100 * gain:.1f} accuracy points over real images alone (seed std {100 * noise:.1f})"
    return (f"GAN samples did not help: {100 * gain:+.1f} accuracy points over real images alone, within or below "
            f"the seeds' spread ({100 * noise:.1f})")


def plot(result: dict, path: Path) -> Path:
    xs = [p["fake_per_class"] for p in result["curve"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(xs, [p["mean"] for p in result["curve"]], yerr=[p["std"] for p in result["curve"]], marker="o",
                capsize=3, label="real + GAN samples")
    for name, style in (("real_only", "--"), ("real_std_aug", ":")):
        ax.axhline(result[f"accuracy/{name}"]["mean"], linestyle=style, color="gray", label=name.replace("_", " "))
    ax.set(xlabel="generated images per class", ylabel="test accuracy",
           title=f"{result['real_per_class']} real images per class")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
