"""metrics.features=auto fetches the InceptionV3 weights when the network allows (here: a local HTTP server
on 127.0.0.1 stands in for torch-fidelity's release), refuses a truncated or wrong file, and otherwise
falls back in one line; unlabelled data trains without the FID family."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gan_experiments.config import ConfigError
from gan_experiments.metrics.features import ClassifierFeatures, InceptionFeatures
from gan_experiments.metrics.select import build_extractor
from tests.helpers import FAST, ROOT, write_image_folders, write_random_inception_weights


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder ``directory``; ``/cut/<name>`` announces the whole file but sends half of it."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/cut/"):
            return super().do_GET()
        data = (Path(self.directory) / self.path.removeprefix("/cut/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, served folder) of a local server; the folder holds random InceptionV3 weights under a
    name carrying their real SHA-256 prefix, and the same bytes under a name with a wrong prefix."""
    folder = tmp_path_factory.mktemp("served")
    weights = write_random_inception_weights(folder / "weights.pth")
    prefix = hashlib.sha256(weights.read_bytes()).hexdigest()[:8]
    shutil.move(weights, folder / f"weights-inception-test-{prefix}.pth")
    (folder / "weights-inception-wrong-00000000.pth").write_bytes((folder / f"weights-inception-test-{prefix}.pth").read_bytes())
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Handler(*a, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", prefix
    httpd.shutdown()


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/weights-inception-2015-12-05-6726825d.pth"


def test_auto_downloads_the_weights_into_the_hub_cache_and_uses_them(server, empty_hub):
    base, prefix = server
    name = f"weights-inception-test-{prefix}.pth"
    extractor = build_extractor("auto", None, inception_url=f"{base}/{name}")
    assert isinstance(extractor, InceptionFeatures)
    assert (empty_hub / name).is_file() and not list(empty_hub.glob("*.partial"))
    # a second run finds the cached file: no server needed
    assert isinstance(build_extractor("auto", None, inception_url=closed_port_url().rsplit("/", 1)[0] + f"/{name}"),
                      InceptionFeatures)


@pytest.mark.parametrize(("path", "reason"), [
    ("/cut/weights-inception-test-{prefix}.pth", r"IncompleteRead|stopped after"),
    ("/weights-inception-wrong-00000000.pth", r"does not start with 00000000.*refused, not cached"),
])
def test_a_truncated_or_wrong_download_is_refused_and_not_cached(server, empty_hub, path, reason, digits_module):
    base, prefix = server
    url = base + path.format(prefix=prefix)
    with pytest.raises(ConfigError, match=rf"metrics.features=inception needs .*the download failed: .*({reason})"):
        build_extractor("inception", None, inception_url=url)
    with pytest.warns(UserWarning, match=rf"metrics.features=auto: no InceptionV3 weights .*({reason}).*using a classifier"):
        assert isinstance(build_extractor("auto", digits_module, inception_url=url, classifier_steps=20), ClassifierFeatures)
    assert not empty_hub.exists() or not any(empty_hub.iterdir())


@pytest.fixture(scope="module")
def digits_module():
    from gan_experiments.data import DigitsDataModule

    datamodule = DigitsDataModule(batch_size=16, num_workers=0, image_size=16)
    datamodule.setup("fit")
    return datamodule


def test_offline_auto_falls_back_in_one_line_naming_why(empty_hub, digits_module):
    with pytest.warns(UserWarning, match=r"download failed: .*Connection refused.*using a classifier trained on this dataset's labels"):
        extractor = build_extractor("auto", digits_module, inception_url=closed_port_url(), classifier_steps=20)
    assert isinstance(extractor, ClassifierFeatures)


def test_the_readme_image_folder_command_trains_offline_without_weights(tmp_path):
    """`python train.py data=image_folder data.path=DIR`: unlabelled, no Inception weights, no internet."""
    images = write_image_folders(tmp_path / "mine", {"photos": 24}, size=(20, 16))
    env = {"TORCH_HOME": str(tmp_path / "torch"), "WANDB_MODE": "disabled", "PATH": "/usr/bin:/bin",
           "GAN_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "train.py", "data=image_folder", f"data.path={images}", *FAST, "logger=none",
         "data.image_size=16", "model.generator.base_channels=8", "model.discriminator.base_channels=8",
         "metrics.every_n_epochs=1", "metrics.num_samples=16", f"metrics.inception_url={closed_port_url()}",
         f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FID, KID, IS and precision/recall are skipped" in done.stderr and "metrics.inception_weights=PATH" in done.stderr
    run = tmp_path / "run"
    assert (run / "checkpoints/last.ckpt").is_file() and (run / "samples/epoch_001.png").is_file()
    assert "val/fid" not in (run / "metrics.json").read_text()
