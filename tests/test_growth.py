"""Growth in My lesions (#46): each visit's size (longest diameter, area) in millimetres from its photos' scale and
outline measures, plotted over time with the unscaled visits named; the compare view and the printed visit report
state the change in mm and % and flag growth beyond the repeatability limit, or say why sizes cannot be compared;
a saved photo's scale is typed (and removed) in My lesions, checked as the reader checks it. Clicked through in the
built site in headless Chromium, with histories imported from crafted export files."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import math
import unicodedata
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import HAM_FIXTURES, ROOT
from tests.test_history import DB, READ_DATABASE, confirm, export_file, import_file, open_history, open_lesion
from tests.test_report_print import printed_pages
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser
METADATA = json.loads((ROOT / "site" / "model" / "metadata.json").read_text())
PHOTOS = sorted((HAM_FIXTURES / "images").glob("*.jpg"))
WIDTH_PX = 600  # the crafted photos' width: the measures' pixels are of a photo this wide
FIELD_MM = 15.0  # mm across the photo: 0.025 mm per pixel
# the first visit's outline: 200 px (5.0 mm) across, 31,416 px (19.6 mm²: no rounding tie at any factor below)
DIAMETER_PX = 200.0
AREA_PX = 31_416
LESION = "Growing mole"
# Every classification on the page outlines a disc (cx, cy, r in pixels of the photo): the shipped model may draw no
# outline, and a model's outline of a photo is no fixed shape.
DISC_OUTLINE = """([cx, cy, r]) => {
  const classify = lesionlens.classify;
  lesionlens.classify = async (photo) => {
    const size = lesionlens.metadata.preprocessing.size;
    const side = Math.min(photo.width, photo.height);
    const left = (photo.width - side) / 2;
    const top = (photo.height - side) / 2;
    const data = new Float32Array(size * size).map((_, k) => {
      const d = Math.hypot(left + ((k % size + 0.5) * side) / size - cx, top + ((Math.floor(k / size) + 0.5) * side) / size - cy);
      return 1 / (1 + Math.exp((d - r) / 2));
    });
    return { ...(await classify(photo)), outline: { size, data } };
  };
}"""


def data_url(source: Path) -> str:
    image = Image.open(source).convert("RGB").resize((WIDTH_PX, WIDTH_PX * 3 // 4))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def result(area_factor: float | None) -> dict:
    """A result of the shipped model (a nevus below the referral threshold) whose outline covers AREA_PX x
    ``area_factor`` pixels, its diameter grown alike (a similar shape); None: a result without measures."""
    classes = [c["code"] for c in METADATA["classes"]]
    probabilities = [0.9 if c == "nv" else 0.1 / (len(classes) - 1) for c in classes]
    score = sum(p for c, p in zip(classes, probabilities) if c in METADATA["operating_point"]["classes"])
    kept = {"modelVersion": METADATA["model_version"], "scoredAt": "2025-01-01T10:00:00.000Z", "classes": classes,
            "probabilities": probabilities, "topClass": "nv", "malignancyScore": score,
            "threshold": METADATA["operating_point"]["threshold"], "flagged": False}
    if area_factor is None:
        return kept
    return {**kept, "measures": {"widthPx": WIDTH_PX, "areaPx": round(AREA_PX * area_factor),
                                 "diameterPx": DIAMETER_PX * math.sqrt(area_factor), "asymmetry": 0.12,
                                 "compactness": 1.3, "colours": ["dark brown"]}}


def entry(number: int, day: str, area_factor: float | None, scaled: bool = True) -> dict:
    image = data_url(PHOTOS[number])
    raw = base64.b64decode(image.split(",", 1)[1])
    return {"id": f"photo-{number}", "hash": hashlib.sha256(raw).hexdigest(), "name": f"photo-{number}.jpg",
            "taken": day, "takenSource": "exif", "added": f"{day}T10:00:00.000Z", "image": image,
            "results": [result(area_factor)], **({"scale": {"mmAcross": FIELD_MM, "source": "field"}} if scaled else {})}


def history_file(folder: Path, entries: list[dict]) -> Path:
    data = {"format": "lesionlens-history", "version": 2, "exported": dt.datetime.now(dt.UTC).isoformat(),
            "patients": [], "lesions": [{"id": "growing", "name": LESION, "site": "back", "entries": entries}]}
    path = folder / "growth.json"
    path.write_text(json.dumps(data))
    return path


def lesion_with(page, site_url, folder: Path, entries: list[dict]) -> None:
    """My lesions with the lesion of ``entries`` imported, its view open."""
    open_history(page, site_url)
    assert "Imported 1 lesion(s)" in import_file(page, history_file(folder, entries))
    open_lesion(page, LESION)


def stored_entries(page) -> dict:
    return {e["id"]: e for e in json.loads(page.evaluate(READ_DATABASE, DB))["entries"]}


def compare_visits(page, *days: str):
    for day in days:
        page.check(f"#visit-pick-{day}")
    page.click("#compare-button")
    page.locator("#compare-view").wait_for()
    return page.locator("#change-summary .size-change")


@pytest.mark.parametrize(("factor", "flagged", "diameter", "area"), [
    (1.20, True, "Longest diameter 5.0 mm → 5.5 mm (+9.5%)", "Area 19.6 mm² → 23.6 mm² (+20%)"),
    (1.02, False, "Longest diameter 5.0 mm → 5.0 mm (+1.0%)", "Area 19.6 mm² → 20.0 mm² (+2.0%)"),
])
def test_growth_beyond_the_repeatability_limit_is_flagged_and_within_it_is_not(
        page, site_url, tmp_path, factor, flagged, diameter, area):
    lesion_with(page, site_url, tmp_path, [entry(0, "2025-03-01", 1.0), entry(1, "2025-09-01", factor)])
    size = compare_visits(page, "2025-03-01", "2025-09-01")
    expect(size).to_have_attribute("data-flagged", str(flagged).lower())
    lines = size.locator("li").all_inner_texts()
    assert lines == [f"{diameter}.", f"{area}."]
    growth = size.locator(".growth-line").inner_text()
    # one plain line: the verdict, the figure, the meaning and the source of the limit
    assert "Gutkowicz-Krusin et al., Melanoma Research 2000" in growth and "16.6%" in growth and "8.3%" in growth
    if flagged:
        assert growth.startswith("Growth flagged: area +20% (limit 16.6%), longest diameter +9.5% (limit 8.3%).")
        assert "Growth since the earlier visit beyond what repeated photos of an unchanged lesion differ by." in growth
    else:
        assert growth.startswith("No growth beyond the repeatability limit (area 16.6%, longest diameter 8.3%).")
        assert "not proof" in growth
    # the same words for two single photos
    page.click("#compare-back")
    page.locator("#lesion-view").wait_for()
    page.check("#pick-photo-0")
    page.check("#pick-photo-1")
    page.click("#compare-button")
    expect(page.locator("#compare-title")).to_have_text("Compare two photos")
    photos = page.locator("#change-summary .size-change")
    expect(photos).to_have_attribute("data-flagged", str(flagged).lower())
    assert photos.locator("li").all_inner_texts() == lines
    assert not page.console_errors


def test_a_visit_without_a_scale_or_measures_is_named_on_the_chart_and_cannot_be_compared(page, site_url, tmp_path):
    lesion_with(page, site_url, tmp_path, [
        entry(0, "2025-03-01", 1.0), entry(1, "2025-06-01", 1.1, scaled=False), entry(2, "2025-09-01", 1.21),
        entry(3, "2025-12-01", None),
        # two photos of one visit: its size is their median, and the chart says from how many photos
        entry(4, "2026-02-01", 1.44), entry(5, "2026-02-01", None)])
    chart = page.locator("#size-chart")
    panels = chart.locator("svg.size-panel")
    expect(panels).to_have_count(2)
    assert panels.first.get_attribute("aria-label") == (
        "Longest diameter in mm at 3 visit(s): 5.0 mm on 2025-03-01, 5.5 mm on 2025-09-01, 6.0 mm on 2026-02-01.")
    assert panels.nth(1).get_attribute("aria-label").startswith("Area in mm² at 3 visit(s): 19.6 mm² on 2025-03-01,")
    assert panels.first.locator(".size-value").all_text_contents() == ["5.0", "5.5", "6.0"]
    assert chart.locator(".size-unplotted").inner_text() == (
        "Not plotted: 2025-06-01 (no scale); 2025-12-01 (no outline measures).")
    assert chart.locator(".size-partly").inner_text() == (
        "Sized from some photos only: 2026-02-01 (median of 1 of its 2 photos).")
    assert "median over its photos that have both a scale" in page.locator("#size-chart-figure figcaption").inner_text()
    # every visit is still in the timeline
    expect(page.locator("#timeline .visit")).to_have_count(5)

    size = compare_visits(page, "2025-03-01", "2025-06-01")
    expect(size).to_have_attribute("data-comparable", "false")
    text = size.inner_text()
    assert "Sizes cannot be compared: the later visit has no scale." in text
    assert "No scale: sizes are in pixels of this photo and cannot be compared between photos." in text
    assert "%" not in text and "mm →" not in text and size.locator("li").count() == 0

    page.click("#compare-back")
    page.locator("#lesion-view").wait_for()
    size = compare_visits(page, "2025-09-01", "2025-12-01")
    assert "Sizes cannot be compared: the later visit has no outline measures." in size.inner_text()
    assert "%" not in size.inner_text()
    assert not page.console_errors


HOSTILE = ["0", "-1", "abc", "1e999", "", "5000", "   ", "0x10", "12 mm"]


def test_the_scale_field_refuses_hostile_values_beside_it_and_keeps_a_good_one(page, site_url, tmp_path):
    lesion_with(page, site_url, tmp_path, [entry(0, "2025-03-01", 1.0, scaled=False)])
    field = page.locator("#scale-photo-0")
    message = page.locator("#scale-photo-0-error")
    expect(page.locator("#timeline .entry .entry-size")).to_contain_text("200 px across (no scale)")
    for typed in HOSTILE:
        page.evaluate("() => document.getElementById('scale-photo-0-error')?.replaceChildren()")
        field.fill(typed)
        field.dispatch_event("change")
        expect(message).to_have_text(
            "Enter the field of view as a number of millimetres across the whole photo, above 0 and at most 1000 (a "
            "dermatoscope sees about 10-25 mm), e.g. 18 or 18.5. Nothing was saved.")
        expect(field).to_have_attribute("aria-invalid", "true")
        assert "scale" not in stored_entries(page)["photo-0"], typed

    field.fill(" 18.5 ")
    field.press("Enter")
    expect(page.locator("#history-status")).to_have_text("Scale of the photo of 2025-03-01 saved: 18.5 mm across the photo.")
    kept = stored_entries(page)["photo-0"]
    assert kept["scale"] == {"mmAcross": 18.5, "source": "field"}
    # the record passes the schema the reader applies
    problem = page.evaluate("async (e) => (await import('./js/records/history-schema.js')).entryProblem(e)", kept)
    assert problem is None
    expect(page.locator("#timeline .entry .entry-size")).to_contain_text("longest diameter 6.2 mm, area 29.9 mm²")

    page.reload()  # the address still names the lesion
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#lesion-view").wait_for()
    expect(page.locator("#scale-photo-0")).to_have_value("18.5")
    page.click("#timeline .entry .remove-scale")
    expect(page.locator("#history-status")).to_contain_text("Scale of the photo of 2025-03-01 removed")
    expect(page.locator("#scale-photo-0")).to_have_value("")
    assert "scale" not in stored_entries(page)["photo-0"]
    assert not page.console_errors


def test_export_and_import_keep_the_scale_and_the_measures(page, site_url, tmp_path):
    entries = [entry(0, "2025-03-01", 1.0), entry(1, "2025-09-01", 1.2, scaled=False)]
    lesion_with(page, site_url, tmp_path, entries)
    page.click("#crumbs a:text-is('All patients')")
    page.locator("#list-view").wait_for()
    exported = json.loads(export_file(page, tmp_path).read_text())
    kept = {e["id"]: e for e in exported["lesions"][0]["entries"]}
    for original in entries:
        assert kept[original["id"]].get("scale") == original.get("scale")
        assert kept[original["id"]]["results"][0]["measures"] == original["results"][0]["measures"]
    page.click("#delete-everything")
    confirm(page)
    expect(page.locator("#history-status")).to_contain_text("Everything deleted")
    assert "Imported 1 lesion(s) and 2 photo(s)" in import_file(page, tmp_path / "export.json")
    back = stored_entries(page)
    assert back["photo-0"]["scale"] == {"mmAcross": FIELD_MM, "source": "field"} and "scale" not in back["photo-1"]
    assert back["photo-1"]["results"][0]["measures"] == entries[1]["results"][0]["measures"]
    open_lesion(page, LESION)
    expect(page.locator("#size-chart .size-unplotted")).to_have_text("Not plotted: 2025-09-01 (no scale).")


def test_the_printed_visit_report_states_the_growth_against_the_earlier_visit(page, site_url, tmp_path):
    page.add_init_script(NO_PRINT_DIALOG)
    lesion_with(page, site_url, tmp_path, [entry(0, "2025-03-01", 1.0), entry(1, "2025-09-01", 1.2)])
    page.evaluate(DISC_OUTLINE, [300, 225, 100])  # the outline the printed photo shows
    page.locator("#timeline .visit[data-day='2025-09-01'] .print-visit").click()
    text = " ".join(printed_pages(page, tmp_path))  # NFKC: "mm²" reads "mm2"
    # the photo's outline (recomputed from the stored copy) and its stored measures in mm with its scale
    expect(page.locator("#print-report img[alt='Lesion outline of photo-1.jpg']")).to_have_count(1)
    assert "Outline measures of photo-1.jpg" in text and "Scale: 15 mm across the photo (field of view)." in text
    assert unicodedata.normalize("NFKC", "Longest diameter 5.0 mm → 5.5 mm (+9.5%). Area 19.6 mm² → 23.6 mm² (+20%).") in text
    assert "Growth flagged: area +20% (limit 16.6%), longest diameter +9.5% (limit 8.3%)." in text
    assert not page.console_errors



def test_rescoring_measures_the_stored_copy_and_keeps_the_measures(page, site_url, tmp_path):
    old = [entry(0, "2025-03-01", None), entry(1, "2025-09-01", None)]
    for photo in old:
        photo["results"][0]["modelVersion"] = "2025-01-01-oldmodel"
    lesion_with(page, site_url, tmp_path, old)
    expect(page.locator("#size-chart .size-unplotted")).to_have_text(
        "Not plotted: 2025-03-01 (no outline measures); 2025-09-01 (no outline measures).")
    page.evaluate(DISC_OUTLINE, [300, 225, 100])
    page.click("#rescore")
    expect(page.locator("#history-status")).to_contain_text("Re-scored 2 photo(s)")
    for kept in stored_entries(page).values():
        assert "measures" not in kept["results"][0]
        measures = kept["results"][1]["measures"]
        assert measures["widthPx"] == WIDTH_PX  # pixels of the stored copy
        assert abs(measures["diameterPx"] - 200) < 4 and abs(measures["areaPx"] / (math.pi * 100 ** 2) - 1) < 0.03
    # both photos have a scale: the chart plots both visits, at 5.0 mm across
    expect(page.locator("#size-chart svg.size-panel")).to_have_count(2)
    assert page.locator("#size-chart svg.size-panel").first.locator(".size-value").all_text_contents() == ["5.0", "5.0"]
    assert page.locator("#size-chart p").count() == 0
    assert not page.console_errors
