"""HYPE server and task: what the local server answers (methods, paths, hostile bodies), and the checks of
hype.port and hype.results that come before any work (issue 13). No training: a hand-written page."""

import http.client
import json
import re
import socket
import threading
import time

import pytest

from gan_experiments.config import ConfigError
from gan_experiments.pipeline import evaluate
from gan_experiments.tools import hype as hype_module
from gan_experiments.tools.hype import serve
from tests.helpers import compose_evaluate

ITEMS = [{"src": "images/0123456789ab.png", "truth": "real"}, {"src": "images/ba9876543210.png", "truth": "fake"}]


def write_site(folder):
    """What write_page leaves in out_dir: the page, its images and the session (token and truth)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text("<html>the page</html>")
    for item in ITEMS:
        (folder / item["src"]).write_bytes(b"\x89PNG not really")
    (folder / "hype_session.json").write_text(json.dumps({"token": "secret", "items": ITEMS}))
    return folder / "index.html"


@pytest.fixture
def server(tmp_path):
    server, _ = serve(write_site(tmp_path).parent, 0, rounds=10)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port, method, path, body=None, host=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers={"Host": host} if host else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_head_follows_the_rules_of_get(server):
    assert request(server, "HEAD", "/index.html").status == 200
    assert request(server, "HEAD", "/" + ITEMS[0]["src"]).status == 200
    assert request(server, "HEAD", "/index.html", host=f"evil.example:{server}").status == 404  # DNS rebinding
    # a file that exists but is not served answers exactly as one that does not exist
    hidden, missing = request(server, "HEAD", "/hype_session.json"), request(server, "HEAD", "/no_such_file.json")
    assert hidden.status == missing.status == 404
    assert hidden.getheader("Content-Length") == missing.getheader("Content-Length")
    for path in ("/images/", "/../", "/"):  # no listings (and / is the page)
        assert request(server, "HEAD", path).status == (200 if path == "/" else 404)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"])
def test_only_get_head_and_post_are_answered(server, method):
    assert request(server, method, "/index.html").status == 501


def test_a_deeply_nested_body_is_a_clear_400_and_the_server_keeps_serving(server):
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"token": "secret", "judgments": ' + b"[" * 100_000):
        response = request(server, "POST", "/results", body=body)
        assert response.status == 400 and "nested" in response.reason
    assert request(server, "GET", "/index.html").status == 200


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if hype() gets as far as loading the checkpoint."""
    def checkpoint_module(cfg, ckpt):
        raise AssertionError("the checkpoint was loaded before the configuration was checked")
    monkeypatch.setattr(hype_module, "checkpoint_module", checkpoint_module)


def hype_cfg(tmp_path, *overrides):
    return compose_evaluate(["task=hype", f"ckpt={tmp_path / 'run.ckpt'}", f"out_dir={tmp_path / 'page'}",
                             *overrides])


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_a_port_out_of_range_is_refused_before_any_work(tmp_path, no_work, port):
    with pytest.raises(ConfigError, match=r"^hype\.port=.* must be an integer in 0\.\.65535"):
        evaluate(hype_cfg(tmp_path, "hype.serve=true", f"hype.port={port}"))


@pytest.mark.parametrize("port", ["abc", "80.5", "null", "true"])
def test_a_port_that_is_not_an_integer_fails_when_the_config_is_composed(tmp_path, port):
    """hype.port is typed (the task's schema): Hydra refuses it while composing, naming the key."""
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException) as refused:
        hype_cfg(tmp_path, "hype.serve=true", f"hype.port={port}")
    assert str(refused.value).startswith(f"Error merging override task.hype.port={port}")
    assert "full_key: task.hype.port" in str(refused.value.__cause__)


def test_a_busy_port_is_refused_before_any_work(tmp_path, no_work):
    with socket.socket() as other:  # another process listening on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^hype\.port={port}: .*in use.*hype\.port=0"):
            evaluate(hype_cfg(tmp_path, "hype.serve=true", f"hype.port={port}"))


def test_port_0_serves_on_a_free_port_and_prints_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(hype_module, "checkpoint_module", lambda cfg, ckpt: (None, None))
    monkeypatch.setattr(hype_module, "datamodule_of", lambda cfg, run_config: None)
    monkeypatch.setattr(hype_module, "write_page", lambda module, datamodule, out_dir, *args: write_site(out_dir))
    results = {}
    task = threading.Thread(target=lambda: results.update(evaluate(hype_cfg(tmp_path, "hype.serve=true", "hype.port=0",
                                                                            "hype.bootstrap=10"))))
    task.start()
    for _ in range(100):
        printed = re.search(r"http://127\.0\.0\.1:(\d+)/index\.html", capsys.readouterr().out)
        if printed:
            break
        time.sleep(0.1)
    port = int(printed.group(1))
    assert port != 0 and request(port, "GET", "/index.html").status == 200
    session = {"token": "secret", "judgments": [{"image": i["src"], "answer": "real"} for i in ITEMS]}
    assert request(port, "POST", "/results", body=json.dumps(session)).status == 200
    task.join(timeout=10)
    assert results["error_on_fakes"] == 1.0 and results["error_on_reals"] == 0.0


@pytest.mark.parametrize("text", [
    None,  # no such file
    "not JSON {",
    "[1, 2]",  # JSON, but not an object
    '{"hype_infinity": 0.5}',  # no judgments
    '{"judgments": "all real"}',
    '{"judgments": [1, 2]}',
    '{"judgments": []}',
    '{"judgments": [{"image": "a.png", "answer": "real"}]}',  # no truth
    "[" * 100_000,
])
def test_a_malformed_results_file_is_refused_naming_key_and_file(tmp_path, no_work, text):
    path = tmp_path / "downloaded.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=rf"^hype\.results={re.escape(str(path))}"):
        evaluate(hype_cfg(tmp_path, f"hype.results={path}"))


def test_a_downloaded_results_file_is_scored(tmp_path, no_work):
    path = tmp_path / "downloaded.json"
    path.write_text(json.dumps({"judgments": [{**i, "image": i["src"], "answer": "real"} for i in ITEMS]}))
    scores = evaluate(hype_cfg(tmp_path, f"hype.results={path}", "hype.bootstrap=10"))
    assert scores["error_on_fakes"] == 1.0 and scores["error_on_reals"] == 0.0 and scores["judged"] == 2
