"""The lesion outline on the classify page's result card (#46): the "Show outline" toggle over the heatmap, the
outline measures with their meanings in pixels and, with a scale (field of view, a ruler or the saved default), in
millimetres; hostile scale values refused beside their field; the photo saved with its scale and measures; the
printed report with both.

The shipped model may not draw an outline yet (site/model without the decoder), and a model's outline of a
synthetic photo is no fixed shape: the tests give each result a known outline instead (a disc, as a probability
map over the classified square, replacing the model's), so that they check the page's measuring, scaling, saving
and printing against exact figures, whatever the model draws."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import HAM_FIXTURES, ROOT
from tests.test_lesion_measures import PX_PER_MM, ruler_photo
from tests.test_report_print import printed_pages
from tests.test_site import INPUT, open_app
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser
PHOTO = HAM_FIXTURES / "images" / "ISIC_0024309.jpg"  # 200 x 150: measured at its own resolution
DISC = (100, 75, 50)  # centre x, centre y and radius of the given outline in photo pixels (edges at whole numbers)

# Every result gets ``window.outlineFor(photo)`` as its outline: the model's own is replaced.
GIVE_OUTLINES = """() => {
  const classify = lesionlens.classify;
  lesionlens.classify = async (source) => ({ ...(await classify(source)), outline: window.outlineFor(source) });
}"""
# A disc (cx, cy, r in photo pixels) as a lesion probability map over the photo's centre square at the model's
# input size: a smooth edge, so that the page's bilinear resize puts the border where the circle is.
DISC_OUTLINE = """([cx, cy, r]) => {
  window.outlineFor = (photo) => {
    const size = lesionlens.metadata.preprocessing.size;
    const side = Math.min(photo.width, photo.height);
    const left = Math.floor((photo.width - side) / 2);
    const top = Math.floor((photo.height - side) / 2);
    const data = new Float32Array(size * size);
    for (let i = 0; i < size; i += 1) {
      for (let j = 0; j < size; j += 1) {
        const d = Math.hypot(left + ((j + 0.5) * side) / size - cx, top + ((i + 0.5) * side) / size - cy);
        data[i * size + j] = 1 / (1 + Math.exp((d - r) / 2));
      }
    }
    return { size, data };
  };
}"""
MEANINGS_JS = "async () => { const m = await import('./js/inference/lesion-measures.js'); " \
              "return { meanings: m.MEANINGS, scale: m.SCALE_MESSAGE, max: m.MAX_FIELD_MM }; }"


@pytest.fixture
def page(page):
    page.add_init_script(NO_PRINT_DIALOG)
    return page


def open_with_outline(page, site_url, disc=DISC) -> dict:
    """The classify page, every result outlined by ``disc`` (None: no outline, as a model without a decoder)."""
    open_app(page, site_url)
    page.evaluate(GIVE_OUTLINES)
    if disc is None:
        page.evaluate("() => { window.outlineFor = () => null; }")
    else:
        page.evaluate(DISC_OUTLINE, list(disc))
    return page.evaluate(MEANINGS_JS)


def classify(page, path: Path):
    """The card of ``path``, shown anyway when the guard turns a synthetic photo away (its own button)."""
    page.set_input_files(INPUT, str(path))
    card = page.locator(f"#results .result[aria-label='Result for {path.name}']")
    card.wait_for()
    page.wait_for_function("() => /^Classified/.test(document.getElementById('status').textContent)")
    if "rejected" in (card.get_attribute("class") or ""):
        card.locator(".classify-anyway").click()
        page.locator(f"#results .result:not(.rejected)[aria-label='Result for {path.name}']").wait_for()
    return card


def figures(card) -> dict:
    box = card.locator(".measure-figures")
    return {key: float(box.get_attribute(f"data-{key}")) for key in ("width-px", "area-px", "diameter-px")}


def apply_field(card, value: str, keep: bool = False) -> None:
    form = card.locator(".scale-form")
    form.locator("input[id$='-fov']").fill(value)
    form.locator("input[id$='-fov-default']").set_checked(keep)
    form.locator(".apply-field").click()


def heatmap_pixels(card) -> str:
    return card.locator("canvas.heatmap").evaluate("(c) => c.toDataURL()")


def test_a_model_without_an_outline_says_so_and_nothing_else(page, site_url):
    open_with_outline(page, site_url, disc=None)
    card = classify(page, PHOTO)
    block = card.locator(".outline-measures")
    assert block.inner_text().strip() == "This model draws no outline of the lesion, so there are no outline measures."
    for absent in (".show-outline", ".measure-list", ".scale-form"):
        assert card.locator(absent).count() == 0, absent


def test_show_outline_draws_the_contour_and_the_measures_are_in_pixels_without_a_scale(page, site_url, request_log):
    log = request_log(page)
    words = open_with_outline(page, site_url)
    mark = len(log.urls)
    card = classify(page, PHOTO)
    plain = heatmap_pixels(card)
    toggle = card.get_by_label("Show outline")
    toggle.check()
    page.wait_for_function("([c, before]) => c.toDataURL() !== before", arg=[card.locator("canvas.heatmap").element_handle(), plain])
    # the contour is white cased in black: both appear on the heatmap where the disc's border is
    on_border = card.locator("canvas.heatmap").evaluate("""(c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let white = 0; let black = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255) white += 1;
        if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0) black += 1;
      }
      return [white, black];
    }""")
    assert min(on_border) > 300, on_border
    toggle.uncheck()
    page.wait_for_function("([c, before]) => c.toDataURL() === before", arg=[card.locator("canvas.heatmap").element_handle(), plain])

    got = figures(card)
    _, _, r = DISC
    assert got["width-px"] == Image.open(PHOTO).width
    assert got["area-px"] == pytest.approx(math.pi * r * r, rel=0.01)
    assert got["diameter-px"] == pytest.approx(2 * r, rel=0.02)  # pixels count as unit squares: corner to corner
    text = card.locator(".outline-measures").inner_text()
    assert f"{round(got['area-px']):,} px (pixels of the photo at 200 px across)" in text
    assert not re.search(r"\bmm", card.locator(".measure-figures").inner_text())
    assert card.locator(".scale-line").inner_text() == words["meanings"]["unscaled"]
    assert card.locator(".outline-at-edge").count() == 0  # the disc lies inside the square
    for key in ("area", "diameter", "asymmetry", "compactness", "colours", "notAScore"):
        assert words["meanings"][key] in text, key
    assert re.search(r"\d+% across the main axis, \d+% across the second axis, mean \d+%", text)
    assert re.search(r"Border irregularity \(compactness\)\s+1\.0\d", text)
    assert [u for u in log.since(mark) if not u.startswith(("blob:", "data:"))] == []


def test_a_field_of_view_gives_millimetres_from_the_pixels(page, site_url):
    open_with_outline(page, site_url)
    card = classify(page, PHOTO)
    apply_field(card, "20")
    page.wait_for_function("(c) => c.querySelector('.measure-figures').dataset.mmAcross === '20'",
                           arg=card.element_handle())
    assert card.locator(".scale-line").inner_text() == "Scale: 20 mm across the photo (field of view)."
    got = figures(card)
    mm = 20 / got["width-px"]
    assert f"= {got['diameter-px'] * mm:.1f} mm" in card.locator(".measure-diameter").inner_text()
    assert f"= {got['area-px'] * mm * mm:.1f} mm²" in card.locator(".measure-area").inner_text()
    assert card.locator(".measure-diameter").inner_text().startswith(f"{round(got['diameter-px'])} px")


def test_a_large_photo_is_measured_at_the_resolution_my_lesions_keeps(page, site_url, tmp_path):
    path = tmp_path / "large.png"
    photo = Image.new("RGB", (1536, 1024), (215, 165, 170))
    ImageDraw.Draw(photo).ellipse((568, 312, 968, 712), fill=(90, 50, 30))
    photo.save(path)
    open_with_outline(page, site_url, disc=(768, 512, 200))
    card = classify(page, path)
    got = figures(card)  # the saved copy is 768 px wide: half the photo
    assert got["width-px"] == 768
    assert got["diameter-px"] == pytest.approx(200, rel=0.01)
    apply_field(card, "30")
    card.locator(".scale-line", has_text="30 mm").wait_for()
    assert f"= {got['diameter-px'] * 30 / 768:.1f} mm" in card.locator(".measure-diameter").inner_text()


def ruler_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "ruler.png"
    photo = ruler_photo()
    photo.save(path)
    ticks = np.flatnonzero(np.asarray(photo)[220, :, 0] < 100)  # where the ruler's ticks are
    assert len(ticks) == 21
    return path, ticks


def click_photo(canvas, x: int, y: int) -> None:
    """A click on photo pixel (x, y) of the ruler canvas, wherever the layout has scaled it."""
    k = canvas.evaluate("(c) => c.clientWidth") / 600
    canvas.click(position={"x": (x + 0.5) * k, "y": (y + 0.5) * k})


SIDE = round(6 * PX_PER_MM)  # ruler_photo's disc: pixels 300 to 300 + SIDE - 1, rows 30 to 30 + SIDE - 1
RULER_DISC = (300 + SIDE / 2, 30 + SIDE / 2, SIDE / 2)


def test_two_clicks_on_a_drawn_ruler_give_the_discs_diameter(page, site_url, tmp_path):
    path, ticks = ruler_file(tmp_path)
    open_with_outline(page, site_url, disc=RULER_DISC)
    card = classify(page, path)
    card.locator(".open-ruler").click()
    canvas = card.locator("canvas.ruler-photo[data-ready=true]")
    canvas.wait_for()
    click_photo(canvas, int(ticks[0]), 220)
    click_photo(canvas, int(ticks[10]), 220)
    assert card.locator(".ruler-points").inner_text() == f"Point 1: x {ticks[0]}, y 220; Point 2: x {ticks[10]}, y 220 (photo pixels)."
    card.locator("input[id$='-ruler']").fill("10")
    card.locator(".apply-ruler").click()
    card.locator(".scale-line", has_text="(ruler)").wait_for()
    assert re.fullmatch(r"Scale: [\d.]+ mm across the photo \(ruler\)\.", card.locator(".scale-line").inner_text())
    diameter = float(re.search(r"= ([\d.]+) mm", card.locator(".measure-diameter").inner_text())[1])
    assert diameter == pytest.approx(6, rel=0.02)

    # by keyboard: the cross starts in the middle of the photo, the arrows move it, Enter places a point
    canvas.focus()
    page.keyboard.press("Enter")
    for _ in range(10):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Enter")
    assert card.locator(".ruler-points").inner_text() == "Point 1: x 300, y 150; Point 2: x 400, y 150 (photo pixels)."
    card.locator("input[id$='-ruler']").fill("10")
    card.locator(".apply-ruler").click()
    card.locator(".scale-line", has_text="Scale: 60 mm across the photo (ruler).").wait_for()


HOSTILE = ["0", "-3", "abc", "1e999", "", "5000", "   ", "2 0", "0,0"]


def test_hostile_scale_values_are_refused_beside_their_field_and_apply_nothing(page, site_url, tmp_path):
    path, ticks = ruler_file(tmp_path)
    words = open_with_outline(page, site_url, disc=RULER_DISC)
    card = classify(page, path)
    unscaled = words["meanings"]["unscaled"]
    message = card.locator("[id$='-fov-error']")
    for value in HOSTILE:
        apply_field(card, value)
        expected = f"above {words['max']} mm" if value == "5000" else words["scale"]
        assert expected in message.inner_text(), value
        assert message.inner_text().endswith("Nothing was applied."), value
        assert card.locator("input[id$='-fov']").get_attribute("aria-invalid") == "true"
        assert card.locator(".scale-line").inner_text() == unscaled, value
        assert "mm²" not in card.locator(".measure-area").inner_text(), value
        assert card.locator(".measure-figures").get_attribute("data-mm-across") is None
    assert page.evaluate("() => localStorage.length") == 0  # nothing kept as a default either

    ruler_message = card.locator("[id$='-ruler-error']")
    card.locator(".open-ruler").click()
    canvas = card.locator("canvas.ruler-photo[data-ready=true]")
    canvas.wait_for()
    card.locator("input[id$='-ruler']").fill("10")
    card.locator(".apply-ruler").click()
    assert "Place two points" in ruler_message.inner_text()
    click_photo(canvas, int(ticks[0]), 220)
    click_photo(canvas, int(ticks[0]), 220)
    card.locator(".apply-ruler").click()
    assert "The two ruler points are the same pixel" in ruler_message.inner_text()
    click_photo(canvas, int(ticks[0]), 220)
    click_photo(canvas, int(ticks[10]), 220)
    for value in HOSTILE:
        card.locator("input[id$='-ruler']").fill(value)
        card.locator(".apply-ruler").click()
        expected = "above 1000 mm" if value == "5000" else words["scale"]
        assert expected in ruler_message.inner_text(), value
        assert card.locator(".scale-line").inner_text() == unscaled, value
    # a good value afterwards clears the message and applies
    apply_field(card, "12.5")
    card.locator(".scale-line", has_text="12.5 mm").wait_for()
    assert message.inner_text() == ""


def test_the_saved_default_field_of_view_survives_a_reload(page, site_url):
    open_with_outline(page, site_url)
    card = classify(page, PHOTO)
    apply_field(card, "15", keep=True)
    card.locator(".scale-line", has_text="15 mm").wait_for()
    open_with_outline(page, site_url)
    card = classify(page, PHOTO)
    assert card.locator(".scale-line").inner_text() == ("Scale: 15 mm across the photo (field of view, your saved "
                                                        "default for new photos).")
    assert card.locator(".scale-default-note").inner_text() == "Saved default for new photos: 15 mm across (field of view)."
    assert card.locator("input[id$='-fov-default']").is_checked()
    assert card.locator("input[id$='-fov']").input_value() == "15"
    assert " mm²" in card.locator(".measure-area").inner_text()
    # unticked and applied: new photos start without a scale again
    apply_field(card, "15", keep=False)
    card.locator(".scale-default-note", has_text="No saved default").wait_for()
    open_with_outline(page, site_url)
    assert classify(page, PHOTO).locator(".scale-line").inner_text().startswith("No scale")


SAVED_ENTRY = """async () => {
  const { openHistory } = await import('./js/records/history-store.js');
  const { entryProblem } = await import('./js/records/history-schema.js');
  const history = await openHistory({ create: false });
  const [lesion] = await history.lesions();
  const [{ lesionId, ...entry }] = await history.entries(lesion.id);
  return { scale: entry.scale, measures: entry.results[0].measures, problem: entryProblem(entry) };
}"""


def test_a_saved_photo_keeps_its_scale_and_measures_and_passes_the_schema(page, site_url):
    open_with_outline(page, site_url)
    card = classify(page, PHOTO)
    apply_field(card, "20")
    card.locator(".scale-line", has_text="20 mm").wait_for()
    got = figures(card)
    card.locator(".save-entry").click()
    page.locator("#save-dialog").wait_for()
    page.select_option("#save-lesion", "new")
    page.fill("#new-lesion-name", "Mole on the back")
    page.select_option("#new-lesion-site", "back")
    page.click("#save-confirm")
    page.locator("#status a[href^='history.html#lesion/']").wait_for()
    saved = page.evaluate(SAVED_ENTRY)
    assert saved["problem"] is None
    assert saved["scale"] == {"mmAcross": 20, "source": "field"}
    measures = saved["measures"]
    assert measures["widthPx"] == got["width-px"] and measures["areaPx"] == got["area-px"]
    assert measures["diameterPx"] == pytest.approx(got["diameter-px"])
    assert set(measures) == {"widthPx", "areaPx", "diameterPx", "asymmetry", "compactness", "colours"}


def test_the_printed_report_carries_the_outline_and_the_measures(page, site_url, tmp_path):
    words = open_with_outline(page, site_url)
    card = classify(page, PHOTO)
    apply_field(card, "20")
    card.locator(".scale-line", has_text="20 mm").wait_for()
    diameter = card.locator(".measure-diameter").inner_text()
    card.locator(".print-entry").click()
    text = " ".join(printed_pages(page, tmp_path))
    assert page.locator("#print-report img[alt^='Lesion outline of']").count() == 1
    assert f"Outline measures of {PHOTO.name}" in text
    assert "Scale: 20 mm across the photo (field of view)." in text
    assert " ".join(diameter.split()) in text and re.search(r"= [\d.]+ mm2 ", text)
    for key in ("area", "diameter", "asymmetry", "compactness", "colours", "notAScore"):
        assert " ".join(words["meanings"][key].split()) in text, key
    assert "Right: the lesion outline the model drew" in text


def test_the_shipped_models_own_outline_or_its_absence_is_on_the_card(page, site_url):
    outputs = json.loads((ROOT / "site" / "model" / "metadata.json").read_text())["outputs"]
    open_app(page, site_url)
    card = classify(page, PHOTO)
    if "outline" not in outputs:
        assert card.locator(".outline-measures").inner_text().strip().startswith("This model draws no outline")
        return
    # the model's own outline: measures, or the message that it marked nothing on this photo
    card.locator(".outline-measures h4").wait_for()
    assert card.locator(".measure-list").count() + card.locator(".outline-problem").count() == 1


def test_the_outline_card_works_straight_from_disk(page, built_site):
    page.goto((built_site / "index.html").as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.evaluate(GIVE_OUTLINES)
    page.evaluate(DISC_OUTLINE, list(DISC))
    card = classify(page, PHOTO)
    apply_field(card, "20")
    card.locator(".scale-line", has_text="Scale: 20 mm across the photo (field of view).").wait_for()
    assert " mm²" in card.locator(".measure-area").inner_text()


def test_an_outline_that_reaches_the_squares_edge_is_said_on_the_card_and_in_print(page, site_url, tmp_path):
    open_with_outline(page, site_url, disc=(100, 75, 90))  # wider than the 150 px centre square
    card = classify(page, PHOTO)
    warning = card.locator(".outline-at-edge").inner_text()
    assert warning.startswith("The outline reaches the edge of the square the model classified")
    card.locator(".print-entry").click()
    text = " ".join(printed_pages(page, tmp_path))
    assert " ".join(warning.split()) in text
