"""My lesions against hostile files and damaged storage, and what its views must say (#31): the importer checks
every field against one schema, a bad stored record never bricks the page, the visit compare fits its panes,
a change of top class is a finding, no body site is saved unless picked, thumbnails enlarge."""
from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import HAM_FIXTURES
from tests.test_history import (
    DB, LOW_RISK, back_to_patients, classify_and_save, database_names, dated_photo, export_file, open_history,
    open_lesion, open_patient, saved_history,
)
from tests.test_one_lesion import ONE_LESION
from tests.test_site import INPUT, open_app

pytestmark = pytest.mark.browser
VASCULAR = HAM_FIXTURES / "images" / "ISIC_0025612.jpg"  # vasc 0.997, score 0.001: same side as LOW_RISK (nv)


def refusal(page) -> str:
    alert = page.locator("#history-errors [role=alert]")
    alert.wait_for()
    return alert.inner_text()


def import_text(page, tmp_path, data) -> str:
    bad = tmp_path / "crafted.json"
    bad.write_text(data if isinstance(data, str) else json.dumps(data))
    page.set_input_files("#import-file", str(bad))
    return refusal(page)


def crafted(base: dict, change: str) -> dict:
    data = copy.deepcopy(base)
    lesion = data["lesions"][0]
    entries = lesion["entries"]
    if change == "same day, no added":
        entries[1]["taken"] = entries[0]["taken"]
        for e in entries:
            del e["added"]
    elif change == "site object":
        lesion["site"] = {"evil": True}
    elif change == "note object":
        lesion["note"] = ["x"]
    elif change == "unknown class":
        result = entries[0]["results"][0]
        result["classes"] = [*result["classes"][:-1], "zzz"]
    elif change == "slash id":
        lesion["id"] = "a/b"
    elif change == "duplicate id":
        data["lesions"].append({**copy.deepcopy(lesion), "name": "Twin"})
    elif change == "probability text":
        entries[0]["results"][0]["probabilities"][0] = "0.5"
    elif change == "unknown site":
        lesion["site"] = "elbow pit"
    return data


CRAFTED = {
    "same day, no added": "“added”",
    "site object": "body site (text) in “site”",
    "note object": "note as text",
    "unknown class": "are not this model's",
    "slash id": "an id of 1-64 letters",
    "duplicate id": "has the id of another lesion",
    "probability text": "probabilities that add up to 1",
    "unknown site": "is not one of the model's",
}


@pytest.fixture
def export_base(page, site_url, tmp_path) -> dict:
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    return json.loads(export_file(page, tmp_path).read_text())


def test_crafted_history_files_are_refused_with_one_clear_message_each(page, site_url, tmp_path, export_base):
    for change, message in CRAFTED.items():
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        text = import_text(page, tmp_path, crafted(export_base, change))
        assert message in text and "Nothing was imported" in text, (change, text)
        assert page.locator("#history-errors [role=alert]").count() == 1
    # nothing was written by any of them, and the page still opens after a reload
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert json.loads(export_file(page, tmp_path).read_text())["lesions"] == export_base["lesions"]


@pytest.mark.parametrize("megabytes,message", [(101, "more than the 100 MB"), (50, "not JSON")])
def test_a_huge_file_is_refused_before_or_while_reading(page, site_url, tmp_path, megabytes, message):
    open_history(page, site_url)
    # a File built in the page: its size is real, its bytes zeros (no 100 MB transfer into the browser)
    page.evaluate("""(mb) => {
      const input = document.getElementById('import-file');
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(mb * 1e6)], 'huge.json', { type: 'application/json' }));
      input.files = dt.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
    }""", megabytes)
    assert message in refusal(page)
    assert DB not in database_names(page)


BREAK_RECORDS = """async (name) => {
  const db = await (await import('./js/records/history-store.js')).currentDatabase();
  const tx = db.transaction(['lesions', 'entries'], 'readwrite');
  const [lesion] = await new Promise((ok) => { const r = tx.objectStore('lesions').getAll(); r.onsuccess = () => ok(r.result); });
  const entries = tx.objectStore('entries');
  const [entry] = await new Promise((ok) => { const r = entries.getAll(); r.onsuccess = () => ok(r.result); });
  const { added, ...noAdded } = entry;
  entries.put({ ...noAdded, id: 'no-added', taken: entry.taken });
  entries.put({ ...entry, id: 'garbage-results', results: [{ nonsense: true }] });
  tx.objectStore('lesions').put({ id: 'object-site', name: 'Broken', site: { evil: true } });
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""


def test_a_database_holding_broken_records_still_opens_exports_and_deletes(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    page.evaluate(BREAK_RECORDS, DB)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    open_patient(page)
    assert page.locator("#lesion-list li").count() == 1  # the good lesion; the broken one is set apart
    open_lesion(page, "Mole on the back")
    assert page.locator("#timeline .entry").count() == 2
    back_to_patients(page)
    unreadable = page.locator("#unreadable-list li")
    assert sorted(unreadable.evaluate_all("(li) => li.map((l) => l.dataset.id)")) == [
        "garbage-results", "no-added", "object-site"]
    assert "“added”" in page.locator("#unreadable-list li[data-id=no-added]").inner_text()
    exported = json.loads(export_file(page, tmp_path).read_text())
    assert [len(l["entries"]) for l in exported["lesions"]] == [2]
    page.locator("#unreadable-list li[data-id=no-added] .delete-record").click()
    page.wait_for_function("() => document.querySelectorAll('#unreadable-list li').length === 2")
    page.click("#delete-everything")
    page.locator("#confirm-dialog").wait_for()
    page.click("#confirm-dialog button[value=confirm]")
    page.wait_for_function("() => /Everything deleted/.test(document.getElementById('history-status').textContent)")
    assert DB not in database_names(page)


OVERLAPS = """() => {
  const boxes = (root, sel) => [...root.querySelectorAll(sel)].map((e) => e.getBoundingClientRect()).filter((r) => r.width && r.height);
  const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const panes = [...document.querySelectorAll('.compare-pane')];
  const parts = 'img, figcaption, .bars, button';
  const footer = document.querySelector('footer').getBoundingClientRect();
  const problems = [];
  panes.forEach((pane, i) => {
    const other = panes[1 - i].getBoundingClientRect();
    for (const r of boxes(pane, parts)) {
      if (hit(r, other)) problems.push(`pane ${i} part overlaps pane ${1 - i}`);
      if (hit(r, footer)) problems.push(`pane ${i} part overlaps the footer`);
    }
    const own = pane.getBoundingClientRect();
    for (const r of boxes(pane, parts)) if (r.right > own.right + 0.5 || r.left < own.left - 0.5) problems.push(`pane ${i} part sticks out`);
  });
  return { problems, scrollWidth: document.documentElement.scrollWidth, innerWidth };
}"""


def test_comparing_a_one_photo_visit_with_a_three_photo_visit_keeps_every_box_in_its_pane(browser, site_url, tmp_path):
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        open_app(page, site_url)
        classify_and_save(page, [dated_photo(LOW_RISK, tmp_path, "2025-01-10")])
        classify_and_save(page, [dated_photo(p, tmp_path, "2025-06-01") for p in ONE_LESION], lesion=None)
        open_history(page, site_url)
        open_lesion(page, "Mole on the back")
        for pick in page.locator(".visit-pick").all():
            pick.check()
        page.click("#compare-button")
        page.locator("#compare-view").wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('.compare-pane img')].every((i) => i.complete)")
        layout = page.evaluate(OVERLAPS)
        assert layout["problems"] == [], (width, layout)
        assert layout["scrollWidth"] <= layout["innerWidth"], (width, layout)
        context.close()


def test_a_change_of_top_class_is_flagged_and_the_chart_breaks_its_class_line(page, site_url, tmp_path):
    open_app(page, site_url)
    classify_and_save(page, [dated_photo(LOW_RISK, tmp_path, "2025-03-01"), dated_photo(VASCULAR, tmp_path, "2025-06-01")])
    open_history(page, site_url)
    open_lesion(page, "Mole on the back")
    chart = page.locator("#chart svg")
    assert chart.get_attribute("data-class-runs") == "2" and "changed: nv → vasc" in chart.get_attribute("aria-label")
    assert chart.locator("polyline.top-line").count() == 2
    assert chart.locator("text.class-label").all_text_contents() == ["nv", "vasc"]
    for pick in page.locator(".compare-pick").all():
        pick.check()
    page.click("#compare-button")
    page.locator("#compare-view").wait_for()
    flag = page.locator(".change-flag")
    text = flag.inner_text()
    assert "reason to refer to a dermatologist" in text and "top class changed from Melanocytic nevus" in text
    assert "Vascular lesion" in text and page.locator(".change-steady").count() == 0


def test_no_body_site_is_saved_until_one_is_picked(page, site_url, tmp_path):
    open_app(page, site_url)
    page.set_input_files(INPUT, str(LOW_RISK))
    page.locator(".result .save-entry").click()
    page.locator("#save-dialog").wait_for()
    assert page.locator("#new-lesion-site").input_value() == ""
    page.select_option("#save-lesion", "new")
    page.fill("#new-lesion-name", "No site yet")
    page.click("#save-confirm")
    alert = page.locator("#save-errors [role=alert]")
    alert.wait_for()
    assert "Pick the body site" in alert.inner_text()
    assert page.locator("#save-dialog").is_visible()
    page.select_option("#new-lesion-site", "unknown")
    page.click("#save-confirm")
    page.locator("#status a[href^='history.html#lesion/']").wait_for()
    open_history(page, site_url)
    open_patient(page)
    assert "No site yet — unknown" in page.locator("#lesion-list").inner_text()


def test_a_timeline_thumbnail_enlarges_and_escape_closes_it(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    open_lesion(page, "Mole on the back")
    thumb = page.locator("#timeline .thumb-button").first
    shown = thumb.locator("img").bounding_box()["width"]
    thumb.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#photo-dialog")
    dialog.wait_for()
    page.wait_for_function("() => document.getElementById('photo-large').complete")
    large = page.locator("#photo-large").bounding_box()["width"]
    assert large > 2 * shown
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    # and back: its thumbnail still in the timeline
    assert page.locator("#timeline .thumb-button").count() == 2


def test_an_imported_photo_with_another_lesions_photo_id_does_not_overwrite_it(page, site_url, tmp_path, export_base):
    twin = copy.deepcopy(export_base)
    twin["lesions"][0].update(id="another-lesion", name="Same photos, other lesion")
    path = tmp_path / "twin.json"
    path.write_text(json.dumps(twin))
    page.set_input_files("#import-file", str(path))
    page.wait_for_function("() => /Imported 1 lesion/.test(document.getElementById('history-status').textContent)")
    for name in ("Mole on the back", "Same photos, other lesion"):
        page.goto(site_url + "history.html")
        page.wait_for_selector("body[data-ready=true]")
        open_lesion(page, name)
        assert page.locator("#timeline .entry").count() == 2, name
