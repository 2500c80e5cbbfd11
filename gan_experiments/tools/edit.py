"""``evaluate.py task=edit ckpt=PATH attribute=NAME``: classifier-gradient editing (controllable generation).

As taught in the course: a classifier scores the attribute on generated images, and the latent moves up
the gradient of that score, z <- z + step_size · grad_z s(G(z)) / ||grad_z s(G(z))||, for ``edit_steps``
steps; every latent coordinate is free to move. StyleGAN checkpoints edit w instead of z (``space=w``,
its default), with the noise held fixed. The classifier is the dataset's metrics classifier: CelebA's
40-attribute one (the score is the attribute's logit) or the digit classifier on MNIST / digits
(``attribute`` a class index; the score is its log-probability). Writes a before/after grid and returns
the share of samples whose target score rose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_experiments.data.capabilities import NamedAttributes
from gan_experiments.errors import ConfigError
from gan_experiments.metrics.classifier import DomainClassifier, load_or_train_classifier
from gan_experiments.models.capabilities import LatentGenerator, StyleSpaceGenerator
from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.common import datamodule_of
from gan_experiments.tools.visual import save_grid


@dataclass
class Editor:
    """A differentiable path latent -> image -> classifier scores for one checkpoint."""

    module: torch.nn.Module
    classifier: DomainClassifier
    names: list[str]
    space: str  # "z" or "w"
    datamodule: object
    noise_seed: int = 0

    def images(self, latent: torch.Tensor) -> torch.Tensor:
        if self.space == "w":
            torch.manual_seed(self.noise_seed)  # the same noise maps for every call
            ws = latent[:, None].expand(-1, self.module.sampler.num_ws, -1)
            return self.module.to_full_resolution(self.module.sampler.synthesize(ws))
        return self.module.sampler(latent, None)

    def scores(self, latent: torch.Tensor) -> torch.Tensor:
        """Per-attribute scores [N, K]: logits (multi-label) or class log-probabilities."""
        logits = self.classifier(self.images(latent).float().clamp(-1, 1))
        return logits if self.classifier.multilabel else logits.log_softmax(dim=1)

    def probabilities(self, latent: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.images(latent).float().clamp(-1, 1))
        return logits.sigmoid() if self.classifier.multilabel else logits.softmax(dim=1)


def attribute_names(datamodule) -> list[str]:
    names = datamodule.attribute_names if isinstance(datamodule, NamedAttributes) else None
    return list(names) if names else [str(k) for k in range(datamodule.num_classes)]


def find_attribute(names: list[str], attribute) -> int:
    if str(attribute) not in names:
        raise ConfigError(f"attribute={attribute!r} is not one of this dataset's: {', '.join(names)}")
    return names.index(str(attribute))


def make_editor(cfg: DictConfig, ckpt: str, edit_space: str | None) -> Editor:
    """The checkpoint's generator with the dataset's classifier, editing in ``edit_space`` (null: w for
    StyleGAN, z otherwise)."""
    module, run_config = checkpoint_module(cfg, ckpt)
    if isinstance(module, LatentGenerator) and module.num_classes:
        raise ConfigError("task=edit edits unconditional generators (dcgan, gan, stylegan), not a cGAN")
    datamodule = datamodule_of(cfg, run_config)
    if not datamodule.classifier_labels()[0]:
        raise ConfigError("task=edit needs a labelled dataset (CelebA attributes, MNIST or digits classes)")
    classifier, _ = load_or_train_classifier(datamodule, cfg.metrics.cache_dir, cfg.metrics.classifier_steps)
    space = edit_space or ("w" if isinstance(module, StyleSpaceGenerator) else "z")
    if space == "w" and not isinstance(module, StyleSpaceGenerator):
        raise ConfigError(f"edit_space={space!r}: z for any generator, w for StyleGAN")
    module.requires_grad_(False).eval()
    return Editor(module, classifier.requires_grad_(False), attribute_names(datamodule), space, datamodule, cfg.seed)


def initial_latents(editor: Editor, n: int, seed: int) -> torch.Tensor:
    z = torch.randn(n, editor.module.latent_dim, generator=torch.Generator().manual_seed(seed))
    return editor.module.styles(z)[:, 0].cpu() if editor.space == "w" else z


def edit_latents(editor: Editor, latent: torch.Tensor, index: int, steps: int, step_size: float) -> torch.Tensor:
    """``steps`` normalized gradient-ascent steps on the attribute's score; returns the edited latents."""
    latent = latent.clone()
    for _ in range(steps):
        latent.requires_grad_(True)
        score = editor.scores(latent)[:, index].sum()
        (grad,) = torch.autograd.grad(score, latent)
        with torch.no_grad():
            latent = latent + step_size * grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None]
    return latent.detach()


def saved_direction(path: str, editor: Editor, index: int) -> torch.Tensor:
    """The attribute's direction from a ``task=z_directions`` file, checked against this editor."""
    saved = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=True)
    if saved["names"] != editor.names or saved["space"] != editor.space:
        raise ConfigError(f"directions={path} was computed for other attributes or another latent space "
                          f"({saved['space']}); recompute it with task=z_directions for this checkpoint")
    return saved["directions"][index]


def edit(cfg: DictConfig, *, ckpt: str, attribute: str, num_images: int, edit_steps: int, step_size: float,
         edit_space: str | None, directions: str | None) -> dict:
    editor = make_editor(cfg, ckpt, edit_space)
    index = find_attribute(editor.names, attribute)
    before = initial_latents(editor, num_images, cfg.seed)
    if directions:
        after = before + edit_steps * step_size * saved_direction(directions, editor, index)
    else:
        after = edit_latents(editor, before, index, edit_steps, step_size)
    with torch.no_grad():
        score_before, score_after = editor.scores(before)[:, index], editor.scores(after)[:, index]
        images = torch.cat([editor.images(before), editor.images(after)])
    n = len(before)
    grid = save_grid(images, Path(cfg.out_dir) / f"edit_{editor.names[index]}.png", nrow=n)
    return {"attribute": editor.names[index], "space": editor.space, "num_samples": n, "steps": edit_steps,
            "method": "saved direction" if directions else "classifier gradient",
            "step_size": step_size, "share_increased": (score_after > score_before).float().mean().item(),
            "mean_score_before": score_before.mean().item(), "mean_score_after": score_after.mean().item(),
            "grid": str(grid)}
