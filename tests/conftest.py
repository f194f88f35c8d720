"""Shared fixtures: paths, a built site served on loopback, headless Chromium, and a request recorder."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from export.browser import BrowserNotFound, launch_options, serve

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
HAM_FIXTURES = FIXTURES / "ham10000"
SHARP_FIXTURES = FIXTURES / "ham10000_sharp" / "images"  # sharp 224 px crops of 15 of the fixture images
SHARED_DATA = ROOT.parent / "shared" / "data" / "ham10000"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches our Chromium: its own if installed, else the system one. No browser at all
    is a failure with install instructions, never a skip."""
    try:
        options = launch_options()
    except BrowserNotFound as err:
        pytest.fail(str(err))
    # a synthetic camera, so the live-capture path can be clicked through without hardware or a prompt
    options["args"] = [*options["args"], "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    return {**browser_type_launch_args, **options}


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    from build import build

    return build(tmp_path_factory.mktemp("site") / "dist")


@pytest.fixture(scope="session")
def site_url(built_site):
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def fixture_evaluation(tmp_path_factory) -> Path:
    """``python -m train.evaluation.evaluate`` of the shipped run on the 28 fixture images, with their masks and
    their patient context: run once (a few minutes), read by several tests. Returns the output folder."""
    from train.evaluation import evaluate

    out = tmp_path_factory.mktemp("evaluation")
    labels = HAM_FIXTURES / "metadata.csv"
    assert evaluate.main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(labels), "--masks",
                          str(HAM_FIXTURES / "masks"), "--context", str(labels), "--out", str(out)]) == 0
    return out


@pytest.fixture
def page(page):
    """pytest-playwright's page, collecting uncaught page errors in ``page.console_errors``."""
    page.console_errors = []
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    return page


class RequestLog:
    """Every request a page makes, in order (URL and origin)."""

    def __init__(self, page):
        self.urls: list[str] = []
        # context-level, so the service worker's own fetches are recorded too
        page.context.on("request", lambda request: self.urls.append(request.url))

    def origins(self) -> set[str]:
        return {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in self.urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")}

    def since(self, mark: int) -> list[str]:
        return self.urls[mark:]


@pytest.fixture
def request_log():
    return RequestLog


def shipped_keras_probabilities(paths: list[str]):
    """Calibrated probabilities of the shipped run in Keras, with the layers the shipped export stores in uint8
    rounded alike (export/parity.py): what the page must reproduce up to float16 and runtime differences."""
    from export.parity import shipped_reference
    from train.calibration.calibrate import calibrated_probabilities
    from train.model.predict import run_logits

    run = shipped_reference(ROOT / "models" / "ham10000", ROOT / "site" / "model")
    return calibrated_probabilities(run_logits(run, paths), run.calibration)
