"""Several photos of one lesion, one answer: the combined card on the classify page and visits in My lesions,
clicked through in headless Chromium."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from export.browser import serve
from tests.conftest import FIXTURES, HAM_FIXTURES, ROOT, shipped_keras_probabilities
from tests.test_history import dated_photo, open_history, open_lesion
from tests.test_site import INPUT, card_probabilities, open_app
from tests.test_site_modes import serious_violations

pytestmark = pytest.mark.browser
# three photos of one HAM10000 test-split dermatofibroma (HAM_0004036): on their own the shipped model puts
# one above the referral threshold (0.34) and two far below it (0.02, 0.01)
ONE_LESION = sorted((FIXTURES / "one_lesion").glob("*.jpg"))
CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
OVERFLOWING = """() => [...document.querySelectorAll('body *')].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > innerWidth + 0.5 || r.left < -0.5);
  }).map((e) => `${e.tagName}#${e.id}.${e.className}`)"""


@pytest.fixture
def odd_photos(tmp_path):
    """A natural photo that is not a lesion (scikit-image's cat) and a text file named like a photo."""
    import skimage.data

    cat = tmp_path / "cat.png"
    Image.fromarray(skimage.data.chelsea()).save(cat)
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    return cat, notes


def metadata() -> dict:
    return json.loads((ROOT / "site" / "model" / "metadata.json").read_text())


def one_lesion_on(page) -> None:
    """Tick "one lesion" by keyboard and wait until the page has taken it."""
    page.focus("#one-lesion")
    page.keyboard.press("Space")
    assert page.is_checked("#one-lesion")
    page.wait_for_function("() => /One lesion/.test(document.getElementById('status').textContent)")


def choose(page, paths, shown: int) -> None:
    """Choose ``paths`` at once and wait until ``shown`` result cards are there and the status says so."""
    page.set_input_files(INPUT, [str(p) for p in paths])
    page.wait_for_function("(n) => document.querySelectorAll('#results .result').length === n && "
                           "/^Classified/.test(document.getElementById('status').textContent)", arg=shown)


def single_probabilities(page, names) -> np.ndarray:
    return np.array([[card_probabilities(page.locator(f"#results .result[aria-label='Result for {n}']"))[c]
                      for c in CLASSES] for n in names])


def test_three_photos_of_one_lesion_give_one_answer_combined_as_in_python(page, site_url, request_log, tmp_path):
    from train.calibration.combine import combine

    log = request_log(page)
    open_app(page, site_url)
    one_lesion_on(page)
    mark = len(log.urls)
    choose(page, ONE_LESION, 3)
    card = page.locator("#combined .result.combined")
    assert card.get_attribute("data-photos") == "3"
    assert "combined" in page.locator(".result").first.get_attribute("class")  # first, above the single photos
    rule = metadata()["combination"]["rule"]
    singles = single_probabilities(page, [p.name for p in ONE_LESION])
    shown = card_probabilities(card)
    combined = np.array([shown[c] for c in CLASSES])
    np.testing.assert_allclose(combined, combine(singles, rule), atol=1e-3)
    # and the Keras model's own photos combined the same way, within the float16 weights' parity (reports/parity.json)
    keras = shipped_keras_probabilities([str(p) for p in ONE_LESION])
    np.testing.assert_allclose(combined, combine(keras, rule), atol=0.01)
    text = card.inner_text()
    assert "One lesion, 3 photos combined: Dermatofibroma" in text
    assert "Combines 3 photos" in text and "Below the referral threshold" in card.locator(".risk").inner_text()
    assert "different sides of the referral threshold: 1 of 3" in card.locator(".combined-disagree").inner_text()
    assert card.locator(".combined-classes").count() == 0  # all three single photos say dermatofibroma
    assert page.locator("#results .result .explanation").count() == 3  # per-photo cards and heatmaps stay
    assert [u for u in log.since(mark) if not u.startswith(("blob:", "data:"))] == []

    with page.expect_download() as download:
        page.click("#download-csv")
    path = tmp_path / "results.csv"
    download.value.save_as(path)
    columns, *rows = list(csv.reader(path.open()))
    last = rows[-1]
    assert len(rows) == 4 and last[0] == f"combined: one lesion, 3 photos ({'; '.join(p.name for p in ONE_LESION)})"
    np.testing.assert_allclose([float(last[columns.index(f"p_{c}")]) for c in CLASSES], combined, atol=1e-6)
    assert not page.console_errors


def test_a_photo_the_guard_flags_or_a_broken_file_is_left_out_and_said_so(page, site_url, odd_photos):
    cat, notes = odd_photos
    open_app(page, site_url)
    one_lesion_on(page)
    choose(page, [cat, notes], 1)
    none = page.locator("#combined .result.combined.none")
    assert "None of the 2 photo(s) could be used" in none.inner_text()
    page.click("#clear-results")
    page.wait_for_function("() => /cleared/.test(document.getElementById('status').textContent)")
    assert page.locator("#results .result").count() == 0 and page.locator("#combined *").count() == 0

    choose(page, [ONE_LESION[0], cat, ONE_LESION[1], notes], 3)
    card = page.locator("#combined .result.combined")
    assert card.get_attribute("data-photos") == "2"
    left_out = card.locator(".left-out").inner_text()
    assert "cat.png: not recognised as a skin-lesion close-up, so left out" in left_out
    assert "notes.jpg: could not be read as an image, so left out" in left_out
    # the user's call: classified anyway, the cat joins the combination (and the card says their classes differ)
    page.locator(".result.rejected .classify-anyway").click()
    page.wait_for_function("() => document.querySelector('#combined .result.combined')?.dataset.photos === '3'")
    card = page.locator("#combined .result.combined")
    assert "cat.png" not in card.locator(".left-out").inner_text()
    assert "cat.png" in card.locator(".combined-photos").inner_text()
    # unticking "one lesion" takes the combined answer away; the single photos stay
    page.click("#one-lesion")
    page.wait_for_function("() => !document.querySelector('#combined .result')")
    assert page.locator("#results .result:not(.rejected)").count() == 3


def save_visit(page, new_lesion: str | None, button: str = "#combined .save-visit") -> str:
    """Save the combined photos as one visit; returns the visit date the dialog proposed."""
    page.click(button)
    page.locator("#save-dialog").wait_for()
    assert page.is_visible("#save-visit") and page.locator("#save-items input[type=date]").count() == 0
    proposed = page.input_value("#save-visit-date")
    if new_lesion:
        page.select_option("#save-lesion", "new")
        page.fill("#new-lesion-name", new_lesion)
        page.select_option("#new-lesion-site", "back")
    page.click("#save-confirm")
    page.wait_for_function("() => /^Saved/.test(document.getElementById('status').textContent)")
    return proposed


def test_visits_are_saved_charted_and_compared_by_their_combined_answers(page, site_url, tmp_path):
    march = [dated_photo(p, tmp_path, "2025-03-01") for p in ONE_LESION]
    june = [dated_photo(HAM_FIXTURES / "images" / name, tmp_path, "2025-06-01")
            for name in ("ISIC_0024450.jpg", "ISIC_0024522.jpg")]  # two actinic keratoses: far above the threshold
    open_app(page, site_url)
    one_lesion_on(page)
    choose(page, march, 3)
    assert save_visit(page, "Spot on the back") == "2025-03-01"  # from the photos' EXIF
    page.click("#clear-results")
    choose(page, june, 2)
    # the batch's own save button saves one visit too while the photos are marked as one lesion
    assert save_visit(page, None, "#save-all") == "2025-06-01"  # to the lesion the dialog proposes: the one saved last

    open_history(page, site_url)
    open_lesion(page, "Spot on the back")
    visits = page.locator("#timeline .visit")
    assert visits.count() == 2
    assert [visits.nth(i).get_attribute("data-photos") for i in range(2)] == ["2", "3"]
    assert page.locator("#timeline .entry").count() == 5
    assert page.locator("#chart svg circle.score-line").count() == 2  # one point per visit, not per photo
    assert "Combined answer of 3 photos" in visits.nth(1).locator(".visit-result").inner_text()
    for i in range(2):
        visits.nth(i).locator(".visit-pick").check()
    page.click("#compare-button")
    summary = page.locator("#change-summary .change")
    summary.wait_for()
    assert page.locator("#compare-title").inner_text() == "Compare two visits"
    assert page.locator(".compare-pane").count() == 2 and page.locator(".compare-pane .bars").count() == 2
    assert page.locator(".compare-pane img").count() == 5
    derived = {row["photos"]: row["margin"] for row in metadata()["combination"]["visit_change"]}
    assert float(summary.get_attribute("data-margin")) == pytest.approx(derived[2])  # the smaller visit has 2
    assert summary.get_attribute("data-flagged") == "true"
    assert "the later visit crossed the referral threshold" in summary.inner_text()
    assert "Two visits of 2 photos each" in summary.locator(".noise").inner_text()
    assert not page.console_errors


def combined_three(page) -> None:
    one_lesion_on(page)
    choose(page, ONE_LESION, 3)
    assert page.locator("#combined .result.combined").get_attribute("data-photos") == "3"


@pytest.mark.parametrize("where", ["file", "sub-path", "offline"])
def test_combining_works_from_disk_under_a_sub_path_and_offline(page, built_site, site_url, where):
    if where == "file":
        page.goto((built_site / "index.html").as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        combined_three(page)
    elif where == "sub-path":
        with serve(built_site, prefix="/some/prefix/") as url:
            open_app(page, url)
            combined_three(page)
    else:
        open_app(page, site_url)
        page.context.set_offline(True)
        page.reload()
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        combined_three(page)
    assert not page.console_errors


def test_the_combined_card_fits_a_360_px_phone_and_works_by_touch(browser, site_url):
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    open_app(page, site_url)
    page.locator("#one-lesion").tap()
    page.wait_for_function("() => /One lesion/.test(document.getElementById('status').textContent)")
    choose(page, ONE_LESION, 3)
    page.locator("#combined .result.combined").wait_for()
    assert page.evaluate(OVERFLOWING) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.locator("#combined .save-visit").tap()
    page.locator("#save-dialog").wait_for()
    assert page.evaluate(OVERFLOWING) == []
    context.close()


def test_the_combined_card_is_accessible_and_its_save_is_reached_by_keyboard(page, site_url):
    open_app(page, site_url)
    combined_three(page)
    assert serious_violations(page) == []
    page.locator("#combined .save-visit").focus()
    page.keyboard.press("Enter")
    page.locator("#save-dialog").wait_for()
    assert serious_violations(page) == []
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('save-dialog').open")
