"""``evaluate.py task=hype ckpt=PATH``: human evaluation by HYPE-infinity (Zhou et al. 2019, "HYPE: A Benchmark
for Human eYe Perceptual Evaluation of Generative Models").

A self-contained page, ``out_dir/index.html``, shows a shuffled mix of ``hype.num_real`` real validation
images and ``hype.num_fake`` generated ones, one at a time and without a time limit; the evaluator answers
real or fake (buttons, or keys R / F). At the end the page shows and offers for download the HYPE-infinity
score, the error rate of the balanced set (the mean of the error rates on fakes judged real and on reals
judged fake, i.e. the share of wrong judgments when both are equally many, as in the paper; 50 % means
indistinguishable from real), the error rates on fakes and on reals, and 95 % bootstrap intervals
(fakes and reals resampled separately, ``hype.bootstrap`` rounds).

With ``hype.serve=true`` the page is served on http://127.0.0.1:<hype.port>/ (``hype.port=0``: any free port,
printed; the page and its images only, by GET or HEAD) and posts its judgments back with a per-page token: a
complete session is scored again here, with the truth kept server-side, and written to
``out_dir/hype_results.json``; the task returns then. ``hype.results=FILE`` scores a downloaded results file.
The page holds the answers (base64-encoded so they are not read by accident): give evaluators the page, not
its source.
"""

from __future__ import annotations

import base64
import errno
import json
import secrets
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torchvision.utils import save_image

from gan_experiments.errors import ConfigError
from gan_experiments.io import write_json_atomic
from gan_experiments.latents import fixed_latents
from gan_experiments.metrics.reference import first_images
from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.common import datamodule_of

PAGE = Path(__file__).with_name("hype_page.html")
RESULTS = "hype_results.json"
SESSION = "hype_session.json"  # the token and the truth, read by the server (never served)
MAX_BODY = 2**20


def error_rates(judgments: list[dict]) -> dict[str, float | None]:
    """The error rates on fakes (judged real) and on reals (judged fake), and HYPE-infinity: the error rate
    of a balanced set, their mean (the share of wrong judgments when fakes and reals are equally many)."""
    def mean(values):
        return float(np.mean(values)) if values else None

    fakes = mean([j["answer"] == "real" for j in judgments if j["truth"] == "fake"])
    reals = mean([j["answer"] == "fake" for j in judgments if j["truth"] == "real"])
    both = [rate for rate in (fakes, reals) if rate is not None]
    return {"hype_infinity": float(np.mean(both)) if both else None, "error_on_fakes": fakes, "error_on_reals": reals}


def percentile(values: list[float], q: float) -> float:
    """The page's rule (so both agree): the value at index floor(q * n) of the sorted values."""
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def hype_scores(judgments: list[dict], rounds: int = 1000, seed: int = 0) -> dict:
    """``error_rates`` with 95 % bootstrap percentile intervals (fakes and reals resampled separately)."""
    if not judgments or any(j.get("truth") not in ("real", "fake") or j.get("answer") not in ("real", "fake")
                            for j in judgments):
        raise ConfigError("HYPE results need judgments of the form {image, truth: real|fake, answer: real|fake}")
    rng = np.random.default_rng(seed)
    parts = [[j for j in judgments if j["truth"] == truth] for truth in ("fake", "real")]
    samples: dict[str, list[float]] = {key: [] for key in error_rates(judgments)}
    for _ in range(rounds):
        draw = [part[i] for part in parts if part for i in rng.integers(len(part), size=len(part))]
        for key, value in error_rates(draw).items():
            if value is not None:
                samples[key].append(value)
    intervals = {key: [percentile(v, 0.025), percentile(v, 0.975)] if v else None for key, v in samples.items()}
    return {**error_rates(judgments), "ci95": intervals, "judged": len(judgments), "bootstrap_rounds": rounds}


def write_page(module, datamodule, out_dir: Path, num_real: int, num_fake: int, seed: int, rounds: int) -> Path:
    """index.html and images/<random name>.png for a shuffled mix of real and generated images."""
    gen = torch.Generator().manual_seed(seed)
    pool = datamodule.val_set
    if len(pool) < num_real:
        raise ConfigError(f"hype.num_real={num_real}, but the validation split holds {len(pool)} images")
    reals = torch.stack([pool[int(i)][0] for i in torch.randperm(len(pool), generator=gen)[:num_real]])
    labels = first_images(pool, min(len(pool), 1000))[1] if module.num_classes else None
    z, y = fixed_latents(num_fake, module.latent_dim, labels, seed)
    fakes = module.sample(z, y).float().cpu()
    folder = out_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for truth, images in (("real", reals), ("fake", fakes)):
        for image in images:
            name = f"images/{secrets.token_hex(6)}.png"  # the name says nothing about the source
            save_image(image, out_dir / name, normalize=True, value_range=(-1, 1))
            items.append({"src": name, "truth": truth})
    items = [items[i] for i in torch.randperm(len(items), generator=gen).tolist()]
    token = secrets.token_hex(16)  # a results post must come from this page
    write_json_atomic(out_dir / SESSION, {"token": token, "items": items})
    encoded = base64.b64encode(json.dumps(items).encode()).decode()
    page = (PAGE.read_text().replace("__ITEMS__", encoded).replace("__BOOTSTRAP__", str(int(rounds)))
            .replace("__TOKEN__", token))
    (out_dir / "index.html").write_text(page)
    return out_dir / "index.html"


class ResultsHandler(SimpleHTTPRequestHandler):
    """Serves the page and its images only (no listings, no other file); POST /results takes a complete
    session from this page (its token, every image judged once, same-origin), scores it with the truth
    kept here, and writes hype_results.json."""

    def __init__(self, *args, out_dir: Path, rounds: int, done: threading.Event, **kwargs):
        self.out_dir, self.rounds, self.done = out_dir, rounds, done
        self.session = json.loads((out_dir / SESSION).read_text())
        super().__init__(*args, directory=str(out_dir), **kwargs)

    def _local(self) -> bool:
        """The request names this server (no DNS rebinding) and, if it says, comes from its own page."""
        port = self.server.server_address[1]
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        origin = self.headers.get("Origin")
        return self.headers.get("Host") in hosts and (origin is None or origin in {f"http://{h}" for h in hosts})

    def _served(self) -> bool:
        """The request names this server and one of its files (else a 404, whether the file exists or not)."""
        path = self.path.split("?", 1)[0]
        served = {"/", "/index.html"} | {"/" + item["src"] for item in self.session["items"]}
        if not self._local() or path not in served:
            self.send_error(404)
            return False
        if path == "/":
            self.path = "/index.html"
        return True

    # GET and HEAD (the methods SimpleHTTPRequestHandler answers) follow the same rules, and POST its own;
    # any other method gets 501 from BaseHTTPRequestHandler.
    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        if self._served():
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802
        if self._served():
            super().do_HEAD()

    def do_POST(self) -> None:  # noqa: N802
        length = self.headers.get("Content-Length", "")
        if not self._local() or self.path != "/results":
            self.send_error(403 if self.path == "/results" else 404)
            return
        if not length.isdigit() or int(length) > MAX_BODY:
            self.send_error(413, "results must come with a Content-Length of at most 1 MiB")
            return
        try:
            judgments = self._checked_judgments(json.loads(self.rfile.read(int(length))))
        except RecursionError:
            self.send_error(400, "results JSON nested too deeply")
            return
        except (ValueError, KeyError, TypeError) as err:
            self.send_error(400, f"not a complete HYPE session of this page: {err}")
            return
        write_json_atomic(self.out_dir / RESULTS, {**hype_scores(judgments, self.rounds), "judgments": judgments})
        self.send_response(200)
        self.end_headers()
        self.done.set()

    def _checked_judgments(self, posted: dict) -> list[dict]:
        """The posted answers with the truth of this session; every served image judged exactly once."""
        if not isinstance(posted, dict) or posted.get("token") != self.session["token"]:
            raise ValueError("wrong or missing token")
        truth = {item["src"]: item["truth"] for item in self.session["items"]}
        answers = {j["image"]: j["answer"] for j in posted["judgments"]}
        if sorted(answers) != sorted(truth) or len(posted["judgments"]) != len(truth):
            raise ValueError(f"{len(answers)} distinct images judged, the page shows {len(truth)}")
        if any(answer not in ("real", "fake") for answer in answers.values()):
            raise ValueError("answers must be real or fake")
        return [{"image": src, "truth": truth[src], "answer": answers[src]} for src in truth]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet: one line per image otherwise
        pass


def bind(out_dir: Path, port, rounds: int) -> tuple[ThreadingHTTPServer, threading.Event]:
    """A server for the page of ``out_dir``, bound to 127.0.0.1:``port`` (0: any free port) but not yet
    serving; a ``ConfigError`` naming hype.port if the port is invalid or taken."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"hype.port={port!r} must be an integer in 0..65535 (0: any free port)")
    done = threading.Event()
    handler = partial(ResultsHandler, out_dir=out_dir, rounds=rounds, done=done)
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler), done
    except OSError as err:
        reason = "in use by another process" if err.errno == errno.EADDRINUSE else err.strerror
        raise ConfigError(f"hype.port={port}: cannot listen on 127.0.0.1:{port} ({reason}); stop what uses it, "
                          "choose another port, or pass hype.port=0 for any free one") from err


def serve(out_dir: Path, port: int, rounds: int) -> tuple[ThreadingHTTPServer, threading.Event]:
    """Serve the page of ``out_dir`` on 127.0.0.1:``port`` (0: any free port) in a background thread."""
    server, done = bind(out_dir, port, rounds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, done


def read_results(value, rounds: int) -> dict:
    """The scores of a results file the page let the evaluator download; a ``ConfigError`` naming
    hype.results and the file if it is missing or not such a file."""
    path = Path(str(value)).expanduser()
    expected = 'pass the hype_results.json the page let you download, {"judgments": [{image, truth, answer}, ...]}'
    if not path.is_file():
        raise ConfigError(f"hype.results={path} does not exist or is not a file; {expected}")
    try:
        judgments = json.loads(path.read_text())["judgments"]
    except (OSError, ValueError, RecursionError) as err:  # unreadable, not UTF-8, not JSON, nested too deeply
        raise ConfigError(f"hype.results={path} is not a JSON file ({err}); {expected}") from err
    except (KeyError, TypeError) as err:  # JSON, but not an object with judgments
        raise ConfigError(f"hype.results={path} holds no judgments; {expected}") from err
    if not isinstance(judgments, list) or not all(isinstance(j, dict) for j in judgments):
        raise ConfigError(f"hype.results={path}: judgments is not a list of objects; {expected}")
    try:
        return hype_scores(judgments, rounds)
    except ConfigError as err:
        raise ConfigError(f"hype.results={path}: {err}") from err


def hype(cfg: DictConfig, *, ckpt: str | None, hype: DictConfig) -> dict:
    """``hype``: the task's ``hype.*`` options (num_real, num_fake, bootstrap, serve, port, results)."""
    h, out_dir = hype, Path(cfg.out_dir)
    if h.get("results"):
        return read_results(h.results, h.bootstrap)
    if not ckpt:
        raise ConfigError("task=hype needs ckpt=PATH (to write a page) or hype.results=FILE (to score one)")
    if not h.serve:
        page = write_hype_page(cfg, ckpt, h)
        return {"page": str(page), "images": h.num_real + h.num_fake,
                "next": f"open {page} in a browser, judge every image, download the results and score them with "
                        "task=hype hype.results=FILE (or use hype.serve=true)"}
    server, done = bind(out_dir, h.port, h.bootstrap)  # first: an invalid or busy port fails before any work
    with server:  # closes the socket
        write_hype_page(cfg, ckpt, h)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"HYPE page: http://127.0.0.1:{server.server_address[1]}/index.html (waiting for a complete session)")
        try:
            done.wait()
        finally:
            server.shutdown()
    return json.loads((out_dir / RESULTS).read_text())


def write_hype_page(cfg: DictConfig, ckpt: str, h: DictConfig) -> Path:
    """``write_page`` for the checkpoint ``ckpt`` (loaded here) into ``cfg.out_dir``, with the options ``h``."""
    module, run_config = checkpoint_module(cfg, ckpt)
    return write_page(module, datamodule_of(cfg, run_config), Path(cfg.out_dir), h.num_real, h.num_fake, cfg.seed,
                      h.bootstrap)
