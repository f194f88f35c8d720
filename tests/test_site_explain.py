"""The explanation heatmap and the "not a lesion" guard, clicked through in the real built page."""
from __future__ import annotations

import pytest
from PIL import Image

from tests.conftest import HAM_FIXTURES
from tests.test_site import INPUT, open_app, shown_probabilities

pytestmark = pytest.mark.browser
LESION = sorted((HAM_FIXTURES / "images").glob("*.jpg"))[0]
CANVAS_SUM = "(c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.reduce((a, b) => a + b, 0)"


@pytest.fixture
def cat_photo(tmp_path):
    """A natural photo that is not a skin lesion (scikit-image's bundled cat)."""
    import skimage.data

    path = tmp_path / "cat.png"
    Image.fromarray(skimage.data.chelsea()).save(path)
    return path


def test_heatmap_overlay_is_drawn_on_device_with_opacity_and_class_choice(page, site_url, request_log):
    log = request_log(page)
    open_app(page, site_url)
    mark = len(log.urls)
    page.set_input_files(INPUT, str(LESION))
    probs = shown_probabilities(page)
    canvas = page.locator(".result canvas.heatmap").first
    canvas.wait_for()
    assert canvas.get_attribute("data-class-code") == max(probs, key=probs.get)
    x, y = (float(v) for v in canvas.get_attribute("data-peak").split(","))
    assert 0 < x < 1 and 0 < y < 1
    slider = page.locator(".result .explain-opacity").first
    slider.fill("0")
    plain = canvas.evaluate(CANVAS_SUM)
    slider.fill("1")
    full = canvas.evaluate(CANVAS_SUM)
    assert plain != full  # the overlay changes the pixels, in proportion to the opacity
    slider.fill("0.5")
    assert canvas.evaluate(CANVAS_SUM) not in (plain, full)
    other = next(c for c in probs if c != canvas.get_attribute("data-class-code"))
    page.locator(".result .explain-class").first.select_option(label=page.evaluate(
        "(code) => window.lesionlens.metadata.classes.find((c) => c.code === code).name", other))
    assert canvas.get_attribute("data-class-code") == other
    assert [u for u in log.since(mark) if not u.startswith("blob:")] == []
    assert not page.console_errors


def test_a_non_lesion_photo_gets_the_ood_message_and_classify_anyway_still_works(page, site_url, cat_photo):
    open_app(page, site_url)
    page.set_input_files(INPUT, str(cat_photo))
    card = page.locator(".result.rejected")
    card.wait_for()
    assert "does not look like a close-up of a skin lesion" in card.locator(".ood-message").inner_text()
    assert card.locator(".bars").count() == 0  # no diagnosis-like output before the user asks
    card.locator(".classify-anyway").click()
    probs = shown_probabilities(page)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    forced = page.locator(".result.forced")
    assert forced.locator("h3").inner_text().startswith("Unreliable:")
    assert "did not look like a close-up of a skin lesion" in forced.locator(".forced-note").inner_text()
    assert "unreliable" in page.locator("#summary-table tbody tr").first.text_content()


def test_a_lesion_photo_is_not_rejected(page, site_url):
    open_app(page, site_url)
    page.set_input_files(INPUT, str(LESION))
    shown_probabilities(page)
    assert page.locator(".result.rejected").count() == 0
    assert page.locator(".result.forced").count() == 0
    distance = page.evaluate("() => window.lesionlens.metadata.ood.threshold")
    assert distance > 0
