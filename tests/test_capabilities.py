"""Capabilities by declaration, not by name (issue 18).

What callbacks, metrics and tools ask of a module, a DataModule or a callback beyond the Lightning base
classes is a base class declared by the layer that owns the concept (``models.capabilities``,
``data.capabilities``, ``callbacks.capabilities``) and checked with ``isinstance``. A class that declares
one is recognised; a class that only has an attribute of the same name is not. Every class of the package
that offers a capability declares it, and the package holds no other ``hasattr`` / ``getattr(..., default)``
than the justified ones listed here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning import Callback, LightningModule

import gan_experiments
from gan_experiments.callbacks import GANMetrics, TranslationMetrics
from gan_experiments.callbacks.capabilities import ChecksDataModule, ReportsMetricsInfo
from gan_experiments.callbacks.metrics_json import collect_metrics
from gan_experiments.data import CelebADataModule, Toy2DDataModule
from gan_experiments.data.base import GANDataModule
from gan_experiments.data.capabilities import NamedAttributes, PointMixture
from gan_experiments.metrics.generator import truncates_in_w
from gan_experiments.models import (
    CycleGANModule,
    GANModule,
    InfoGANModule,
    Pix2PixModule,
    StyleGANModule,
    VAEModule,
)
from gan_experiments.models.capabilities import LatentGenerator, StyleSpaceGenerator
from gan_experiments.pipeline import check_data_of
from gan_experiments.tools.edit import attribute_names

ROOT = Path(gan_experiments.__file__).resolve().parent


# --- declared is recognised, a same-named attribute is not ------------------------------------------


class LooksLikeStyleGAN(LightningModule):
    truncation_space = "w"
    latent_dim, num_classes = 4, 0

    def styles(self, z, z_mix=None, crossover=None):
        return z[:, None]

    def synthesize(self, ws, noise=None):
        return ws


class DeclaresStyleSpace(LooksLikeStyleGAN, StyleSpaceGenerator):
    pass


def test_style_space_is_declared_not_named():
    assert not truncates_in_w(LooksLikeStyleGAN())
    assert truncates_in_w(DeclaresStyleSpace())
    assert issubclass(StyleGANModule, StyleSpaceGenerator) and StyleGANModule.truncation_space == "w"


class HasCentres(GANDataModule):
    def __init__(self):
        super().__init__(batch_size=4, num_workers=0)
        self.centres, self.std = torch.zeros(3, 2), 0.1


class DeclaresPointMixture(HasCentres, PointMixture):
    pass


def test_point_mixture_is_declared_not_named():
    metrics = GANMetrics(num_samples=10, every_n_epochs=1)
    assert not metrics._is_toy(SimpleNamespace(datamodule=HasCentres()))
    assert metrics._is_toy(SimpleNamespace(datamodule=DeclaresPointMixture()))
    assert metrics._is_toy(SimpleNamespace(datamodule=Toy2DDataModule(train_size=8, val_size=8)))


def test_named_attributes_are_declared_not_named():
    undeclared = SimpleNamespace(attribute_names=["Smiling", "Male"], num_classes=3)

    class Declared(NamedAttributes):
        attribute_names = ["Smiling", "Male"]
        num_classes = 0

    assert attribute_names(undeclared) == ["0", "1", "2"]  # class indices, as for any labelled data
    assert attribute_names(Declared()) == ["Smiling", "Male"]


def test_datamodule_check_is_asked_of_declared_callbacks_only():
    seen = []

    class Undeclared(Callback):
        def check_datamodule(self, datamodule):
            seen.append("undeclared")

    class Declared(Callback, ChecksDataModule):
        def check_datamodule(self, datamodule):
            seen.append(("declared", datamodule))

    check_data_of([Undeclared(), Declared(), Callback()], "dm")
    assert seen == [("declared", "dm")]


def test_metrics_info_is_read_from_declared_callbacks_only():
    class Undeclared(Callback):
        def __init__(self):
            self.metrics_info = {"val/features": "undeclared"}

    class Declared(Callback, ReportsMetricsInfo):
        def __init__(self):
            self.metrics_info = {"val/num_fake": 10}

    trainer = SimpleNamespace(callback_metrics={"val/fid": torch.tensor(3.0)}, checkpoint_callbacks=[],
                              callbacks=[Undeclared(), Declared()])
    assert collect_metrics(trainer) == {"val/fid": 3.0, "val/num_fake": 10}


# --- every class that offers a capability declares it -----------------------------------------------


def _package_classes(*packages: str) -> list[type]:
    classes = {}
    for package in packages:
        pkg = importlib.import_module(f"gan_experiments.{package}")
        for info in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__:
                    classes[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [classes[k] for k in sorted(classes)]


def _mentions(cls: type, pattern: str) -> bool:
    return any(re.search(pattern, inspect.getsource(k)) for k in cls.__mro__ if k.__module__.startswith("gan_experiments."))


# (package, base, what in a class's source (or its bases') means it offers the capability)
CAPABILITIES = [
    ("models", LatentGenerator, r"def sample\("),
    ("models", StyleSpaceGenerator, r"def synthesize\("),
    ("data", PointMixture, r"self\.centres\b"),
    ("data", NamedAttributes, r"self\.attribute_names\b"),
    ("callbacks", ChecksDataModule, r"def check_datamodule\("),
    ("callbacks", ReportsMetricsInfo, r"self\.metrics_info\b"),
]


@pytest.mark.parametrize("package, base, pattern", CAPABILITIES, ids=[c[1].__name__ for c in CAPABILITIES])
def test_every_class_that_offers_a_capability_declares_it(package, base, pattern):
    candidates = [c for c in _package_classes(package) if c.__module__ != base.__module__]
    offering = [c.__qualname__ for c in candidates if _mentions(c, pattern)]
    undeclared = [c.__qualname__ for c in candidates if _mentions(c, pattern) and not issubclass(c, base)]
    assert offering, f"no class in gan_experiments.{package} offers {base.__name__}: is the pattern stale?"
    assert not undeclared, f"these offer {base.__name__} without declaring it: {undeclared}"


def test_the_package_classes_declare_what_they_offer():
    for cls in (GANModule, InfoGANModule, StyleGANModule, VAEModule):
        assert issubclass(cls, LatentGenerator), cls
    assert issubclass(StyleGANModule, StyleSpaceGenerator)
    assert [c for c in (GANModule, InfoGANModule, VAEModule, CycleGANModule, Pix2PixModule)
            if issubclass(c, StyleSpaceGenerator)] == []
    assert not issubclass(CycleGANModule, LatentGenerator) and not issubclass(Pix2PixModule, LatentGenerator)
    assert issubclass(Toy2DDataModule, PointMixture) and issubclass(CelebADataModule, NamedAttributes)
    assert issubclass(TranslationMetrics, ChecksDataModule) and issubclass(TranslationMetrics, ReportsMetricsInfo)
    assert issubclass(GANMetrics, ReportsMetricsInfo) and not issubclass(GANMetrics, ChecksDataModule)


# --- no capability found by name --------------------------------------------------------------------

# every hasattr / getattr-with-default left in the package, and why it is not a capability check
JUSTIFIED = {
    ("metrics/inception_download.py", 'getattr(err, "reason", None)'):
        "stdlib exceptions: URLError/HTTPError and ssl.SSLError carry a reason, other OSErrors do not",
    ("tools/augmentation.py", 'hasattr(dataset, "targets")'):
        "torchvision's datasets (third-party) keep their labels in .targets; others are read image by image",
    ("tools/trust.py", 'getattr(obj, "__qualname__", None)'): "naming an arbitrary resolved object in a refusal",
    ("tools/trust.py", 'getattr(obj, "__name__", None)'): "naming an arbitrary resolved object in a refusal",
    ("tools/trust.py", "getattr(obj, '__module__', '?')"): "naming an arbitrary resolved object in a refusal",
    ("tools/trust.py", 'getattr(obj, "__module__", None)'): "the module of an arbitrary resolved object",
}


def _name_lookups() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(ROOT.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id == "hasattr" or (node.func.id == "getattr" and len(node.args) == 3):
                found.add((path.relative_to(ROOT).as_posix(), ast.get_source_segment(source, node)))
    return found


def test_no_capability_is_found_by_name():
    found = _name_lookups()
    unjustified = sorted(found - set(JUSTIFIED))
    assert not unjustified, ("hasattr/getattr-with-default in the package: declare a capability "
                             "(models/data/callbacks .capabilities) or justify it in JUSTIFIED:\n"
                             + "\n".join(f"{p}: {s}" for p, s in unjustified))
    assert not set(JUSTIFIED) - found, f"stale JUSTIFIED entries: {sorted(set(JUSTIFIED) - found)}"
