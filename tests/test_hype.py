"""HYPE-infinity: scoring of scripted judgments, and a full session clicked through in headless Chromium."""

import base64
import json
import re
import shutil

import pytest

from gan_experiments.config import ConfigError
from gan_experiments.pipeline import evaluate, train
from gan_experiments.tools.hype import hype_scores, serve
from tests.helpers import FAST, SMALL_IMAGES, compose_evaluate, compose_train, small_networks


def judgments(pairs):
    return [{"image": f"{i}.png", "truth": t, "answer": a} for i, (t, a) in enumerate(pairs)]


def test_scores_of_scripted_judgments():
    # 4 fakes: 3 judged real (fooled); 4 reals: 1 judged fake
    scores = hype_scores(judgments([("fake", "real")] * 3 + [("fake", "fake")] + [("real", "fake")] + [("real", "real")] * 3))
    assert scores["error_on_fakes"] == 0.75 and scores["error_on_reals"] == 0.25
    assert scores["hype_infinity"] == 0.5 and scores["judged"] == 8
    # bootstrap of 4 judgments with 3 fooled: the resampled rate is Binomial(4, 0.75) / 4, so P(0) = 0.4 % and
    # P(<= 0.25) = 5.1 % put the 2.5th percentile at 0.25; P(<= 0.75) = 68 % puts the 97.5th at 1
    assert scores["ci95"]["error_on_fakes"] == [0.25, 1.0]
    assert scores["ci95"]["error_on_reals"] == [0.0, 0.75]  # 1 of 4 reals judged fake: mirror image


def test_a_perfect_evaluator_scores_zero_with_a_zero_interval():
    scores = hype_scores(judgments([("fake", "fake"), ("real", "real")] * 5))
    assert scores["hype_infinity"] == 0 and scores["ci95"]["hype_infinity"] == [0.0, 0.0]


def test_malformed_results_are_refused():
    with pytest.raises(ConfigError, match="judgments of the form"):
        hype_scores([{"image": "a.png", "truth": "maybe", "answer": "real"}])


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A page of 6 real and 6 generated digits from a briefly trained DCGAN."""
    root = tmp_path_factory.mktemp("hype")
    train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan")], root / "run"))
    cfg = compose_evaluate(["task=hype", f"ckpt={root / 'run/checkpoints/last.ckpt'}", f"out_dir={root / 'page'}",
                            "hype.num_real=6", "hype.num_fake=6", "hype.bootstrap=200"])
    result = evaluate(cfg)
    return root / "page", result


def page_items(folder):
    encoded = re.search(r'atob\("([^"]+)"\)', (folder / "index.html").read_text()).group(1)
    return json.loads(base64.b64decode(encoded))


def test_page_holds_a_shuffled_mix_under_opaque_names(page):
    folder, result = page
    items = page_items(folder)
    assert result["images"] == 12 and sorted(i["truth"] for i in items) == ["fake"] * 6 + ["real"] * 6
    assert all((folder / i["src"]).is_file() and re.fullmatch(r"images/[0-9a-f]{12}\.png", i["src"]) for i in items)
    assert [i["truth"] for i in items] != ["real"] * 6 + ["fake"] * 6
    assert json.loads((folder / "hype_session.json").read_text())["items"] == items


def post(port, body, host=None, origin=None):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **({"Host": host} if host else {}), **({"Origin": origin} if origin else {})}
    connection.request("POST", "/results", body=json.dumps(body), headers=headers)
    return connection.getresponse().status


def test_the_server_takes_only_complete_sessions_of_its_own_page(page):
    import urllib.error
    import urllib.request

    folder, _ = page
    session = json.loads((folder / "hype_session.json").read_text())
    server, done = serve(folder, 0, rounds=50)
    port = server.server_address[1]
    try:
        complete = [{"image": i["src"], "answer": "fake"} for i in session["items"]]
        assert post(port, {"token": "guess", "judgments": complete}) == 400
        assert post(port, {"token": session["token"], "judgments": complete[:-1]}) == 400  # one image unjudged
        assert post(port, {"token": session["token"], "judgments": complete}, origin="http://evil.example") == 403
        assert post(port, {"token": session["token"], "judgments": complete}, host=f"evil.example:{port}") == 403
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10).status == 200
        for hidden in ("hype_session.json", "images/", "../"):  # only the page and its images are served
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/{hidden}", timeout=10)
        assert not done.is_set()
        # forged truth fields are ignored: the server scores with its own
        forged = [{"image": i["src"], "truth": "real", "answer": "real"} for i in session["items"]]
        assert post(port, {"token": session["token"], "judgments": forged}) == 200
    finally:
        server.shutdown()
    saved = json.loads((folder / "hype_results.json").read_text())
    assert saved["error_on_fakes"] == 1.0 and saved["error_on_reals"] == 0.0 and saved["hype_infinity"] == 0.5


@pytest.mark.browser
def test_headless_chromium_completes_a_session(page):
    """Click through every image (answer "real" for all), then the page posts its judgments to the local
    server, which scores them: all fakes fooled the evaluator, no real was doubted."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs them when it can)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    folder, _ = page
    server, done = serve(folder, 0, rounds=200)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        for step in range(12):
            assert browser.find_element(By.ID, "progress").text == f"{step + 1} / 12"
            assert browser.execute_script("return document.getElementById('image').complete")
            browser.find_element(By.ID, "real").click()
        WebDriverWait(browser, 20).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "saved"))
        shown = json.loads(browser.find_element(By.ID, "results").text)
    finally:
        browser.quit()
        server.shutdown()
    assert done.is_set()
    saved = json.loads((folder / "hype_results.json").read_text())
    for scores in (shown, saved):  # the page's own scoring and the server's agree
        assert scores["hype_infinity"] == 0.5 and scores["error_on_fakes"] == 1.0 and scores["error_on_reals"] == 0.0
    assert len(saved["judgments"]) == 12 and saved["ci95"]["error_on_fakes"] == [1.0, 1.0]
