"""FID cost: ours (extract once, cache the real features) against torchmetrics used directly.

Both compute FID of the same fake images (held in memory, as a generator's output would be) against the
first N images of MNIST's test split, read from the dataset, with the same feature network:
- baseline: read the real images, torchmetrics' FrechetInceptionDistance updated with real and fake images,
  then compute()
  (for Inception: FID(feature=2048, antialias=False); for the classifier: FID(feature=<that network>));
- ours, cold: gan_experiments' real_features (extract + write the cache) + fake extraction + FID;
- ours, warm: the same with the real features read from the cache (what every evaluation during
  training pays after the first).
Prints one JSON line per extractor with seconds (medians of interleaved repeats) and ratios
(ours / baseline; < 1 is faster).

    python benchmarks/fid_speed.py [--classifier-images 10000] [--inception-images 500]

No InceptionV3 weights can be downloaded on the benchmark machine: unless --inception-weights is given,
a randomly initialised network of the same architecture is timed (the cost does not depend on weights).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_experiments.data import TorchvisionDataModule  # noqa: E402
from gan_experiments.metrics.features import ClassifierFeatures, InceptionFeatures, to_uint8  # noqa: E402
from gan_experiments.metrics.reference import extract, first_images, real_features  # noqa: E402
from gan_experiments.metrics.scores import frechet_distance  # noqa: E402
from gan_experiments.metrics.select import build_extractor  # noqa: E402
from tests.helpers import write_random_inception_weights  # noqa: E402


class FeaturesOnly(nn.Module):
    """A classifier extractor as a torchmetrics custom feature network (features only)."""

    def __init__(self, extractor: ClassifierFeatures):
        super().__init__()
        self.extractor, self.num_features = extractor, extractor.num_features

    def forward(self, x):
        return self.extractor(x)[0]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def baseline_fid(metric: FrechetInceptionDistance, real_dataset, n: int, fake: torch.Tensor, to_input,
                 batch: int) -> float:
    """Update chunks as large as ours (the extractor's batch size), so only the method differs."""
    real = to_input(first_images(real_dataset, n)[0])
    for chunk in real.split(batch):
        metric.update(chunk, real=True)
    for chunk in to_input(fake).split(batch):
        metric.update(chunk, real=False)
    return metric.compute().item()


def ours(extractor, real_dataset, n: int, fake: torch.Tensor, cache: Path) -> float:
    real = real_features(extractor, real_dataset, n, cache)
    fake_feats, _ = extract(extractor, fake)
    return frechet_distance(real.features, fake_feats)


def run(name, extractor, baseline_metric_fn, real_dataset, n, fake, to_input, repeats: int) -> dict:
    """Interleaved repeats (baseline, ours cold on a fresh cache, ours warm); medians of each."""
    base, cold, warm = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            base_fid, seconds = timed(lambda: baseline_fid(baseline_metric_fn(), real_dataset, n, fake, to_input,
                                                            extractor.batch_size))
            base.append(seconds)
            _, seconds = timed(lambda: ours(extractor, real_dataset, n, fake, Path(cache)))  # noqa: B023
            cold.append(seconds)
            warm_fid, seconds = timed(lambda: ours(extractor, real_dataset, n, fake, Path(cache)))  # noqa: B023
            warm.append(seconds)
    base_s, cold_s, warm_s = (statistics.median(x) for x in (base, cold, warm))
    return {
        "benchmark": "fid_speed", "extractor": name, "images": n, "repeats": repeats,
        "baseline_s": round(base_s, 2), "ours_cold_s": round(cold_s, 2), "ours_warm_s": round(warm_s, 2),
        "ratio_cold": round(cold_s / base_s, 3), "ratio_warm": round(warm_s / base_s, 3),
        "fid_baseline": base_fid, "fid_ours": warm_fid, "fid_rel_diff": abs(warm_fid - base_fid) / abs(base_fid),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--classifier-images", type=int, default=10000)
    parser.add_argument("--inception-images", type=int, default=500)
    parser.add_argument("--inception-weights", default=None)
    parser.add_argument("--extractors", nargs="+", default=["classifier", "inception"])
    parser.add_argument("--repeats", type=int, default=3, help="for the classifier (Inception runs once)")
    args = parser.parse_args()
    torch.manual_seed(0)

    dm = TorchvisionDataModule(name="mnist", root=args.data_root, download=False, num_workers=0)
    dm.setup()
    with tempfile.TemporaryDirectory() as tmp:
        if "classifier" in args.extractors:
            classifier = build_extractor("classifier", dm, None, tmp)
            n = args.classifier_images
            fake = first_images(dm.train_set, n)[0]  # stand-in "generated" images
            print(json.dumps(run("classifier", classifier,
                                 lambda: FrechetInceptionDistance(feature=FeaturesOnly(classifier)),
                                 dm.val_set, n, fake, lambda x: x, args.repeats)), flush=True)
        if "inception" in args.extractors:
            weights = args.inception_weights or write_random_inception_weights(Path(tmp) / "inception_random.pth")
            n = args.inception_images
            fake = first_images(dm.train_set, n)[0]
            result = run("inception", InceptionFeatures(weights),
                         lambda: FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(weights),
                                                          antialias=False),
                         dm.val_set, n, fake, lambda x: to_uint8(x).expand(-1, 3, -1, -1), 1)  # torchmetrics' uint8
            result["inception_weights"] = "given" if args.inception_weights else "random (same architecture)"
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
