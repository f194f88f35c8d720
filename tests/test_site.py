"""Click through the real built page in headless Chromium."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import HAM_FIXTURES, ROOT, SHARP_FIXTURES, shipped_keras_probabilities

pytestmark = pytest.mark.browser
IMAGES = sorted((HAM_FIXTURES / "images").glob("*.jpg"))
INPUT = "#file-input"


@pytest.fixture(scope="module")
def keras_probs() -> dict[str, dict[str, float]]:
    """Keras' probabilities for the first fixture images, by file name and class."""
    from train.data.loading import CLASSES

    probs = shipped_keras_probabilities([str(p) for p in IMAGES[:6]])
    return {p.name: dict(zip(CLASSES, map(float, row))) for p, row in zip(IMAGES[:6], probs)}


def open_app(page, url: str) -> None:
    """Open the classify page and wait until the model is loaded and (over http) the service worker has
    finished precaching, so later requests can only come from the user's actions."""
    page.goto(url + "index.html")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    if url.startswith("http"):
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")


def card_probabilities(card) -> dict[str, float]:
    items = card.locator(".bars li")
    return {items.nth(i).get_attribute("data-code"): float(items.nth(i).get_attribute("data-probability"))
            for i in range(items.count())}


def shown_probabilities(page, n_results: int = 1) -> dict[str, float]:
    page.locator(".result").nth(n_results - 1).wait_for()
    return card_probabilities(page.locator(".result").first)


def check_result(page, image: Path, keras_probs: dict[str, dict[str, float]], n_results: int = 1) -> None:
    probs = shown_probabilities(page, n_results)
    assert len(probs) == 7
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    # Keras' top class, or (float16 weights move probabilities by ~0.01) one within 0.02 of it: image 3 is a near-tie
    keras = keras_probs[image.name]
    assert keras[max(probs, key=probs.get)] >= max(keras.values()) - 0.02
    assert page.locator(".result .risk").first.inner_text().strip()


def send_file_event(page, image: Path, event: str) -> None:
    """Build a File in the page and dispatch a drop on the drop zone or a paste on the document."""
    data = base64.b64encode(image.read_bytes()).decode()
    page.evaluate(
        """([data, name, kind]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], name, {type: 'image/jpeg'}));
          if (kind === 'drop') {
            document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
          } else {
            document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
          }
        }""",
        [data, image.name, event],
    )


def test_upload_classifies_like_keras(page, site_url, keras_probs):
    open_app(page, site_url)
    page.set_input_files(INPUT, str(IMAGES[0]))
    check_result(page, IMAGES[0], keras_probs)
    assert not page.console_errors


def test_drag_and_drop_classifies_like_keras(page, site_url, keras_probs):
    open_app(page, site_url)
    send_file_event(page, IMAGES[1], "drop")
    check_result(page, IMAGES[1], keras_probs)


def test_paste_classifies_like_keras(page, site_url, keras_probs):
    open_app(page, site_url)
    send_file_event(page, IMAGES[2], "paste")
    check_result(page, IMAGES[2], keras_probs)


def test_a_sharp_photo_passes_the_guard_and_matches_its_200x150_twin(page, site_url):
    sharp = sorted(SHARP_FIXTURES.glob("*.jpg"))[0]
    low = HAM_FIXTURES / "images" / sharp.name
    open_app(page, site_url)
    page.set_input_files(INPUT, str(low))
    low_probs = shown_probabilities(page)
    page.set_input_files(INPUT, str(sharp))
    sharp_probs = shown_probabilities(page, n_results=2)  # the newest card comes first
    assert page.locator(".result.rejected").count() == 0
    # the same top class, or (as in the parity test) one within 0.02 of the twin's top probability
    assert low_probs[max(sharp_probs, key=sharp_probs.get)] >= max(low_probs.values()) - 0.02
    assert not page.console_errors


def test_several_images_fill_table_and_csv(page, site_url):
    open_app(page, site_url)
    page.set_input_files(INPUT, [str(p) for p in IMAGES[:3]])
    page.locator(".result").nth(2).wait_for()
    assert page.locator("#summary-table tbody tr").count() == 3
    with page.expect_download() as download:
        page.click("#download-csv")
    table = pd.read_csv(download.value.path())
    assert list(table["image"]) == [p.name for p in IMAGES[:3]]
    probs = table[[c for c in table.columns if c.startswith("p_")]].to_numpy()
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert not table["out_of_distribution"].any() and (table["ood_distance"] > 0).all()


def test_no_request_leaves_the_origin_and_none_after_choosing(page, site_url, request_log):
    log = request_log(page)
    open_app(page, site_url)
    mark = len(log.urls)
    page.set_input_files(INPUT, [str(p) for p in IMAGES[:3]])
    page.locator(".result").nth(2).wait_for()
    origin = site_url.split("/", 3)[:3]
    assert log.origins() == {"/".join(origin)}
    # blob: URLs of the user's own images are local object URLs, not network requests
    assert [u for u in log.since(mark) if not u.startswith("blob:")] == []


def test_the_offline_copy_is_made_after_the_page_has_its_model(page, site_url, request_log):
    # on a first visit the service worker's precache would otherwise share a slow link with the page's own
    # model download (reports/bench.json: first result 41.6 s instead of 34.7 s at 1.6 Mbit/s)
    log = request_log(page)
    open_app(page, site_url)  # waits for the service worker too
    urls = [u.split("?")[0] for u in log.urls]
    weights = [i for i, u in enumerate(urls) if u.endswith(".bin")]
    assert urls.index(site_url + "sw.js") > weights[0]
    shards = len(json.loads((ROOT / "site" / "model" / "model.json").read_text())["weightsManifest"][0]["paths"])
    assert len(weights) >= 2 * shards  # the page's own shards, then the precache's (revalidated from the HTTP cache)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.txt", b"just some text\n", "not an image"),
        ("renamed.jpg", b"plain text pretending to be a JPEG\n", "not an image"),
        ("empty.jpg", b"", "empty"),
        ("truncated.jpg", (HAM_FIXTURES / "images").glob("*.jpg").__next__().read_bytes()[:300], "not an image"),
    ],
)
def test_bad_input_gets_a_message_and_page_stays_usable(page, site_url, keras_probs, tmp_path, name, content,
                                                         message):
    bad = tmp_path / name
    bad.write_bytes(content)
    open_app(page, site_url)
    page.set_input_files(INPUT, str(bad))
    alert = page.locator("[role=alert]")
    alert.first.wait_for()
    assert message in alert.first.inner_text()
    page.set_input_files(INPUT, str(IMAGES[0]))
    check_result(page, IMAGES[0], keras_probs)


def test_keyboard_only_crop_then_classify(page, site_url):
    open_app(page, site_url)
    page.focus("#crop-first")
    page.keyboard.press("Space")
    assert page.is_checked("#crop-first")
    page.set_input_files(INPUT, str(IMAGES[0]))
    dialog = page.locator("#crop-dialog")
    dialog.wait_for()
    page.keyboard.press("+")  # canvas has focus: zoom in, then pan
    page.keyboard.press("ArrowRight")
    assert float(page.input_value("#crop-dialog input[type=range]")) == 1.25
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the zoom slider to "Classify this crop"
    assert page.evaluate("() => document.activeElement.textContent") == "Classify this crop"
    page.keyboard.press("Enter")
    probs = shown_probabilities(page)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    # the crop is the zoomed square: 150 / 1.25 = 120 px
    assert "120x120 px" in page.locator(".result .small").first.inner_text()


def test_keyboard_reaches_the_file_picker_with_a_visible_focus(page, site_url):
    open_app(page, site_url)
    page.focus("main")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "file-input":
            break
    assert page.evaluate("() => document.activeElement.id") == "file-input"
    outline = page.evaluate("() => getComputedStyle(document.querySelector('label[for=file-input]')).outlineStyle")
    assert outline == "solid"


def test_live_camera_shutter_classifies_a_frame(page, site_url):
    page.context.grant_permissions(["camera"])
    open_app(page, site_url)
    page.click("#camera-button")
    page.wait_for_function("() => document.getElementById('camera-video').readyState >= 2")
    page.click("#shutter")
    # Chromium's synthetic camera shows a test pattern, not a lesion: the guard says so first
    page.locator(".result.rejected .ood-message").wait_for()
    page.click(".result.rejected .classify-anyway")
    probs = shown_probabilities(page)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert page.locator(".result").first.get_attribute("aria-label") == "Result for camera photo"
    assert page.is_hidden("#camera")


def test_a_wasm_visit_downloads_only_the_runtime_it_runs(page, site_url, request_log):
    # TF.js core + converter + the WASM backend; the WebGL and CPU kernels are fetched only by a browser that
    # falls back to them (or later, by the offline copy)
    log = request_log(page)
    open_app(page, site_url)
    assert "backend wasm" in page.locator("#status").inner_text()
    urls = [u.split("?")[0] for u in log.urls]
    before_offline_copy = [u.rsplit("/", 1)[-1] for u in urls[:urls.index(site_url + "sw.js")]]
    assert {"tf-core.es2017.min.js", "tf-converter.es2017.min.js", "tf-backend-wasm.es2017.min.js"} <= set(
        before_offline_copy)
    assert not {"tf-backend-webgl.es2017.min.js", "tf-backend-cpu.es2017.min.js"} & set(before_offline_copy)


@pytest.mark.parametrize("backend", ["webgl", "cpu"])
def test_the_fallback_backends_load_their_own_kernels_and_classify(page, site_url, keras_probs, request_log, backend):
    log = request_log(page)
    page.goto(f"{site_url}index.html?backend={backend}")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert f"backend {backend}" in page.locator("#status").inner_text()
    assert any(u.split("?")[0].endswith(f"tf-backend-{backend}.es2017.min.js") for u in log.urls)
    page.set_input_files(INPUT, str(IMAGES[0]))
    check_result(page, IMAGES[0], keras_probs)
