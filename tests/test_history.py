"""The on-device lesion history ("My lesions"), clicked through in headless Chromium."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from export.browser import serve
from tests.conftest import HAM_FIXTURES
from tests.test_site import INPUT, open_app
from tests.test_site_modes import serious_violations

pytestmark = pytest.mark.browser
# a nevus far below the operating point and an actinic keratosis far above it (shipped model: 0.003, 0.985)
LOW_RISK = HAM_FIXTURES / "images" / "ISIC_0024309.jpg"
HIGH_RISK = HAM_FIXTURES / "images" / "ISIC_0024450.jpg"
DB = "lesionlens-history"
# every record of the history's IndexedDB, binary fields as their length, as one JSON text (the database the
# page finds now: the lock moves the history to a fresh one, history-store.js; ``name`` is not used)
READ_DATABASE = """async (name) => {
  const db = await (await import('./js/records/history-store.js')).currentDatabase();
  const all = async (store) => new Promise((ok) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result); });
  const out = { patients: await all('patients'), lesions: await all('lesions'), entries: await all('entries'),
    meta: await all('meta') };
  db.close();
  return JSON.stringify(out, (k, v) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? `<${v.byteLength} bytes>` : v));
}"""


def dated_photo(source: Path, folder: Path, day: str) -> Path:
    """A copy of ``source`` whose EXIF says it was taken on ``day`` (YYYY-MM-DD)."""
    image = Image.open(source)
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9003] = day.replace("-", ":") + " 10:30:00"  # DateTimeOriginal
    out = folder / f"{day}-{source.name}"
    image.save(out, exif=exif, quality=95)
    return out


def classify_and_save(page, photos: list[Path], lesion: str | None = "Mole on the back", site: str = "back") -> None:
    """Classify ``photos`` on the classify page and save them all to a new lesion (or, with ``lesion`` None,
    to the one the dialog proposes)."""
    # Results from earlier photos stay on the page (newest first), and so does the last save's link: wait
    # for these photos' own cards and for the status to move on, or a slow machine clicks the old ones.
    before = page.locator(".result").count()
    page.set_input_files(INPUT, [str(p) for p in photos])
    page.wait_for_function("(n) => document.querySelectorAll('.result').length === n && "
                           "/^Classified/.test(document.getElementById('status').textContent)",
                           arg=before + len(photos))
    page.click("#save-all" if len(photos) > 1 else ".result .save-entry")
    page.locator("#save-dialog").wait_for()
    if lesion:
        page.select_option("#save-lesion", "new")
        page.fill("#new-lesion-name", lesion)
        page.select_option("#new-lesion-site", site)
    page.click("#save-confirm")
    page.locator("#status a[href^='history.html#lesion/']").wait_for()


def open_history(page, url: str) -> None:
    page.goto(url + "history.html")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)


def open_patient(page, label: str = "Unassigned") -> None:
    """From the list of patients (My lesions' first view), one patient's lesions: ``label`` is their patient ID, or
    "Unassigned" for the lesions saved without one."""
    page.click(f"#patient-list a:text-is('{label}')")
    page.locator("#patient-view").wait_for()


def open_lesion(page, name: str, patient: str = "Unassigned") -> None:
    """The lesion ``name`` of ``patient``, from the list of patients or from the patient's own view."""
    if page.locator("#list-view").is_visible():
        open_patient(page, patient)
    page.click(f"#lesion-list a:text-is('{name}')")
    page.locator("#lesion-view").wait_for()


def back_to_patients(page) -> None:
    """The list of patients, by the trail at the top of a patient's, lesion's or comparison's view."""
    page.click("#crumbs a:text-is('All patients')")
    page.locator("#list-view").wait_for()


def saved_history(page, tmp_path: Path, url: str) -> list[Path]:
    """Two dated photos of one lesion saved from the classify page: low risk in March, high risk in June."""
    open_app(page, url)
    photos = [dated_photo(LOW_RISK, tmp_path, "2025-03-01"), dated_photo(HIGH_RISK, tmp_path, "2025-06-01")]
    classify_and_save(page, photos)
    return photos


def export_file(page, folder: Path) -> Path:
    with page.expect_download() as download:
        page.click("#export")
    path = folder / "export.json"
    download.value.save_as(path)
    return path


def import_file(page, path: Path) -> str:
    page.set_input_files("#import-file", str(path))
    page.wait_for_function("() => /Imported|not a LesionLens|damaged|edited|version/.test("
                           "document.getElementById('history-status').textContent + document.getElementById('history-errors').textContent)")
    return page.locator("#history-errors").inner_text() or page.locator("#history-status").inner_text()


# every database of the site, by name: the default storage's, and each storage bucket's with the bucket's own name
# (where the browser has buckets, the history lives in one of its own: history-store.js)
DATABASE_NAMES = """async () => {
  const names = (await indexedDB.databases()).map((d) => d.name);
  for (const bucket of navigator.storageBuckets ? await navigator.storageBuckets.keys() : []) {
    names.push(bucket, ...(await (await navigator.storageBuckets.open(bucket)).indexedDB.databases()).map((d) => d.name));
  }
  return names;
}"""


def database_names(page) -> list[str]:
    return page.evaluate(DATABASE_NAMES)


def watch_status(page, pattern: str) -> None:
    """When the history's status line first matches ``pattern``, take a snapshot of the view at that very
    moment (in a MutationObserver, before any later rendering): what someone who reads the status meets.
    Read it with ``seen_at_status``."""
    page.evaluate("""(pattern) => {
      window.seenAtStatus = undefined;
      const status = document.getElementById('history-status');
      new MutationObserver((_, observer) => {
        if (!new RegExp(pattern).test(status.textContent)) return;
        const first = document.querySelector('#timeline .entry');
        window.seenAtStatus = {
          photos: document.querySelectorAll('#timeline .entry').length,
          firstPhotoResults: first ? first.querySelectorAll('.entry-results li').length : 0,
          title: document.getElementById('lesion-title').textContent,
          listShown: !document.getElementById('list-view').hidden,
        };
        observer.disconnect();
      }).observe(status, { childList: true, characterData: true, subtree: true });
    }""", pattern)


def seen_at_status(page) -> dict:
    page.wait_for_function("() => window.seenAtStatus !== undefined")
    return page.evaluate("() => window.seenAtStatus")


def confirm(page) -> None:
    page.locator("#confirm-dialog").wait_for()
    page.click("#confirm-dialog button[value=confirm]")


def test_saved_photos_survive_a_reload_and_the_comparison_flags_the_crossing(page, site_url, tmp_path):
    photos = saved_history(page, tmp_path, site_url)
    later = page.locator(f".result[aria-label='Result for {photos[1].name}'] .bars li").first
    later_top = float(later.get_attribute("data-probability"))
    open_history(page, site_url)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    open_patient(page)
    assert "Mole on the back" in page.locator("#lesion-list").inner_text()
    open_lesion(page, "Mole on the back")
    entries = page.locator("#timeline .entry")
    assert entries.count() == 2
    # newest first, dates from the photos' EXIF
    assert [entries.nth(i).locator("input[type=date]").input_value() for i in range(2)] == ["2025-06-01", "2025-03-01"]
    assert "from the photo" in entries.first.inner_text()
    assert "above the referral threshold: refer" in entries.first.inner_text() and "below the referral threshold" in entries.nth(1).inner_text()
    assert f"{later_top * 100:.1f}%" in entries.first.inner_text()  # the result the card showed
    assert page.locator("#chart svg circle.score-line").count() == 2
    assert page.locator("#chart svg line.operating-point").count() == 1

    for i in range(2):
        entries.nth(i).locator(".compare-pick").check()
    page.click("#compare-button")
    summary = page.locator("#change-summary .change")
    summary.wait_for()
    assert summary.get_attribute("data-flagged") == "true"
    assert float(summary.get_attribute("data-delta")) > 0.5
    text = summary.inner_text()
    assert "reason to refer to a dermatologist" in text and "crossed the referral threshold" in text.lower()
    assert "Top class changed" in text
    assert page.locator(".compare-pane").count() == 2 and page.locator(".compare-pane .bars").count() == 2
    sizes = page.locator(".compare-image").evaluate_all("(els) => els.map((e) => [e.clientWidth, e.clientHeight])")
    assert sizes[0] == sizes[1]
    assert "cannot measure size or growth" in page.locator("#size-caveat").inner_text()
    assert not page.console_errors


def test_export_delete_import_restores_identical_data_and_twice_adds_nothing(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    exported = json.loads(export_file(page, tmp_path).read_text())
    assert [len(l["entries"]) for l in exported["lesions"]] == [2]
    page.click("#delete-everything")
    confirm(page)
    page.wait_for_function("() => /Everything deleted/.test(document.getElementById('history-status').textContent)")

    assert "Imported 1 lesion(s) and 2 photo(s)" in import_file(page, tmp_path / "export.json")
    restored = json.loads(export_file(page, tmp_path).read_text())
    strip = lambda data: [{**l, "entries": sorted(l["entries"], key=lambda e: e["hash"])} for l in data["lesions"]]
    assert strip(restored) == strip(exported)  # same ids, hashes, images and results

    assert "Imported 0 lesion(s) and 0 photo(s); 2 photo(s) were already here" in import_file(page, tmp_path / "export.json")
    open_lesion(page, "Mole on the back")
    assert page.locator("#timeline .entry").count() == 2


@pytest.mark.parametrize("content,message", [
    ("this is not json", "not a LesionLens history export"),
    (json.dumps({"name": "some other app", "items": []}), "not a LesionLens history export"),
    ("TAMPER", "does not match its content hash"),
])
def test_a_malformed_or_foreign_import_is_refused_and_changes_nothing(page, site_url, tmp_path, content, message):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    before = export_file(page, tmp_path).read_text()
    if content == "TAMPER":  # one result edited by hand, image hash no longer matching another image
        data = json.loads(before)
        entries = data["lesions"][0]["entries"]
        entries[0]["image"], entries[1]["image"] = entries[1]["image"], entries[0]["image"]
        content = json.dumps(data)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert message in import_file(page, bad)
    after = json.loads(export_file(page, tmp_path).read_text())
    assert after["lesions"] == json.loads(before)["lesions"]


def test_delete_everything_leaves_no_indexeddb_data(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    assert DB in database_names(page)
    page.click("#delete-everything")
    confirm(page)
    page.wait_for_function("() => /Everything deleted/.test(document.getElementById('history-status').textContent)")
    assert DB not in database_names(page)
    assert page.locator("#patients-empty").is_visible()
    page.reload()  # visiting the page again does not create an empty database either
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert DB not in database_names(page)


def test_the_lock_encrypts_at_rest_and_refuses_a_wrong_passphrase(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    plain = page.evaluate(READ_DATABASE, DB)
    assert "Mole on the back" in plain and "data:image/jpeg" in plain  # readable before the lock
    assert "600,000" in page.locator("#lock-set").inner_text() and "cannot be recovered" in page.locator("#lock-set").inner_text()
    page.fill("#lock-passphrase", "correct horse battery")
    page.fill("#lock-confirm", "correct horse battery")
    page.click("#lock-form button[type=submit]")
    page.wait_for_function("() => /Locked/.test(document.getElementById('history-status').textContent)")

    at_rest = page.evaluate(READ_DATABASE, DB)
    for secret in ("Mole on the back", "back", "data:image", "probabilities", "2025-06-01", "malignancyScore"):
        assert secret not in at_rest.replace('"lesionId"', "")
    assert json.loads(at_rest)["entries"][0].keys() == {"id", "lesionId", "sealed"}

    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.locator("#unlock-view").is_visible() and page.locator("#list-view").is_hidden()
    page.fill("#unlock-passphrase", "wrong horse")
    page.click("#unlock-form button[type=submit]")
    alert = page.locator("#history-errors [role=alert]")
    alert.wait_for()
    assert "Wrong passphrase" in alert.inner_text()
    assert page.locator("#list-view").is_hidden()
    page.fill("#unlock-passphrase", "correct horse battery")
    page.click("#unlock-form button[type=submit]")
    page.locator("#list-view").wait_for()
    open_lesion(page, "Mole on the back")
    assert page.locator("#timeline .entry").count() == 2

    # saving from the classify page asks for the passphrase, and what it adds is encrypted too
    open_app(page, site_url)
    page.set_input_files(INPUT, str(HAM_FIXTURES / "images" / "ISIC_0024334.jpg"))
    page.click(".result .save-entry")
    page.locator("#save-unlock").wait_for()
    page.fill("#save-passphrase", "wrong")
    page.click("#save-unlock-button")
    page.locator("#save-errors [role=alert]").wait_for()
    assert "Wrong passphrase" in page.locator("#save-errors").inner_text()
    page.fill("#save-passphrase", "correct horse battery")
    page.click("#save-unlock-button")
    page.wait_for_function("() => document.getElementById('save-lesion').options.length === 2")
    page.click("#save-confirm")
    page.locator("#status a").wait_for()
    records = json.loads(page.evaluate(READ_DATABASE, DB))
    assert len(records["entries"]) == 3 and all(set(e) == {"id", "lesionId", "sealed"} for e in records["entries"])


def test_rescoring_with_a_new_model_keeps_both_results(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    data = json.loads(export_file(page, tmp_path).read_text())
    for entry in data["lesions"][0]["entries"]:
        entry["results"][0]["modelVersion"] = "2025-01-01-oldmodel"
    data["lesions"][0]["id"] = "imported-lesion"
    data["lesions"][0]["name"] = "Old model lesion"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    import_file(page, old)
    open_lesion(page, "Old model lesion")
    button = page.locator("#rescore")
    assert "Re-score 2 photo(s)" in button.inner_text()
    watch_status(page, "Re-scored 2")
    button.click()
    # the status is announced after the view it describes: whoever reads it meets both results
    assert seen_at_status(page)["firstPhotoResults"] == 2
    first = page.locator("#timeline .entry").first
    lines = first.locator(".entry-results li")
    assert lines.count() == 2
    assert "2025-01-01-oldmodel" in lines.first.inner_text()
    version = page.evaluate("() => fetch('model/metadata.json').then((r) => r.json()).then((m) => m.model_version)")
    assert version in lines.nth(1).inner_text()
    assert page.locator("#rescore").is_hidden()


def test_history_actions_make_no_request_online_or_offline(page, site_url, tmp_path, request_log):
    log = request_log(page)
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)

    def history_actions() -> None:
        mark = len(log.urls)
        open_lesion(page, "Mole on the back")
        for i in range(2):
            page.locator("#timeline .entry").nth(i).locator(".compare-pick").check()
        page.click("#compare-button")
        page.locator("#change-summary .change").wait_for()
        page.go_back()
        page.locator("#lesion-view").wait_for()
        page.go_back()
        page.locator("#patient-view").wait_for()
        page.go_back()
        page.locator("#list-view").wait_for()
        path = export_file(page, tmp_path)
        import_file(page, path)
        local = ("blob:", "data:")
        assert [u for u in log.since(mark) if not u.startswith(local)] == [], log.since(mark)

    history_actions()
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    history_actions()
    open_lesion(page, "Mole on the back")
    assert page.locator("#timeline .entry").count() == 2


def test_history_works_under_a_sub_path(page, built_site, tmp_path):
    with serve(built_site, prefix="/some/prefix/") as url:
        saved_history(page, tmp_path, url)
        page.click("#status a")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.locator("#lesion-view").wait_for()
        assert page.url.startswith(url + "history.html#lesion/")
        assert page.locator("#timeline .entry").count() == 2


def test_history_from_disk_works(page, built_site, tmp_path):
    page.goto((built_site / "index.html").as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    classify_and_save(page, [dated_photo(LOW_RISK, tmp_path, "2025-03-01")])
    page.goto((built_site / "history.html").as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    open_lesion(page, "Mole on the back")
    assert page.locator("#timeline .entry").count() == 1
    assert not page.console_errors


def test_nothing_is_wider_than_a_360_px_phone_and_touch_works(browser, site_url, tmp_path):
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    overflowing = """() => [...document.querySelectorAll('body *')].filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && (r.right > innerWidth + 0.5 || r.left < -0.5);
      }).map((e) => `${e.tagName}#${e.id}.${e.className}`)"""
    saved_history(page, tmp_path, site_url)
    assert page.evaluate(overflowing) == []
    rows = page.locator(".result").first.locator(".bars li meter").evaluate_all(
        "(ms) => ms.map((m) => m.getBoundingClientRect().left)")
    assert max(rows) - min(rows) < 1  # the probability rows line up
    open_history(page, site_url)
    assert page.evaluate(overflowing) == []
    page.locator("#patient-list a").first.tap()
    page.locator("#patient-view").wait_for()
    assert page.evaluate(overflowing) == []
    page.locator("#lesion-list a").first.tap()
    page.locator("#lesion-view").wait_for()
    assert page.evaluate(overflowing) == []
    for i in range(2):
        page.locator("#timeline .entry").nth(i).locator(".compare-pick").tap()
    page.locator("#compare-button").tap()
    page.locator("#change-summary .change").wait_for()
    assert page.evaluate(overflowing) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    context.close()


def test_history_views_are_accessible_and_work_by_keyboard(page, site_url, tmp_path):
    open_app(page, site_url)
    page.set_input_files(INPUT, str(dated_photo(LOW_RISK, tmp_path, "2025-03-01")))
    page.locator(".result .save-entry").focus()
    page.keyboard.press("Enter")
    page.locator("#save-dialog").wait_for()
    assert serious_violations(page) == []
    page.locator("#new-lesion-name").focus()
    page.keyboard.type("Mole on the back")
    page.keyboard.press("Tab")  # to the body site
    page.keyboard.press("End")  # the last site ("unknown")
    page.locator("#save-confirm").focus()
    page.keyboard.press("Enter")
    page.locator("#status a").wait_for()
    classify_and_save(page, [dated_photo(HIGH_RISK, tmp_path, "2025-06-01")], lesion=None)

    open_history(page, site_url)
    assert serious_violations(page) == []
    page.locator("#patient-list a").first.focus()
    page.keyboard.press("Enter")
    page.locator("#patient-view").wait_for()
    assert serious_violations(page) == []
    page.locator("#lesion-list a").first.focus()
    page.keyboard.press("Enter")
    page.locator("#lesion-view").wait_for()
    assert "unknown" in page.locator("#lesion-meta").inner_text()
    assert serious_violations(page) == []
    for i in range(2):
        page.locator(".compare-pick").nth(i).focus()
        page.keyboard.press("Space")
    page.locator("#compare-button").focus()
    page.keyboard.press("Enter")
    page.locator("#change-summary .change").wait_for()
    assert serious_violations(page) == []
    page.locator(".compare-pane .align").first.focus()
    page.keyboard.press("Enter")
    page.locator("#crop-dialog").wait_for()
    page.keyboard.press("+")
    page.keyboard.press("Escape")  # cancelling the alignment leaves the image as it was
    assert page.locator("#crop-dialog").is_hidden()

    page.goto(site_url + "history.html")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.locator("#lock-passphrase").focus()
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")  # submits the lock form
    page.wait_for_function("() => /Locked/.test(document.getElementById('history-status').textContent)")
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.evaluate("() => document.activeElement.id") == "unlock-passphrase"
    assert serious_violations(page) == []
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    page.locator("#list-view").wait_for()


def test_a_full_disk_gets_a_clear_message_and_loses_nothing(page, site_url, tmp_path):
    """A full disk, as the browser reports it: IndexedDB raising QuotaExceededError on a write. (Chromium's
    DevTools quota override is not enforced on a database that is already open, so the exception is injected.)"""
    open_app(page, site_url)
    classify_and_save(page, [dated_photo(LOW_RISK, tmp_path, "2025-03-01")])
    # the photo's write fails, as the largest one would; a new lesion's own record alone would still fit
    page.evaluate("""() => { const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (...args) {
        if (this.name === 'entries') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return put.apply(this, args); }; }""")
    page.set_input_files(INPUT, str(HIGH_RISK))
    page.locator(".result").nth(1).wait_for()
    page.locator(".result .save-entry").first.click()
    page.click("#save-confirm")  # into the lesion the dialog proposes
    alert = page.locator("#save-errors [role=alert]")
    alert.wait_for()
    assert "no room left" in alert.inner_text() and "still there" in alert.inner_text()
    assert page.locator("#save-dialog").is_visible()  # the user can cancel, free space, try again
    page.select_option("#save-lesion", "new")  # a new lesion fails with its photo: no empty lesion is left
    page.fill("#new-lesion-name", "Mole on the arm")
    page.select_option("#new-lesion-site", "upper extremity")
    page.click("#save-confirm")
    page.wait_for_function("() => document.querySelectorAll('#save-errors [role=alert]').length === 1 && "
                           "/no room left/.test(document.getElementById('save-errors').textContent)")
    page.click("#save-dialog button[value=cancel]")
    open_history(page, site_url)
    open_patient(page)
    assert page.locator("#lesion-list li").count() == 1
    open_lesion(page, "Mole on the back")
    assert page.locator("#timeline .entry").count() == 1
    assert not page.console_errors


def test_editing_a_lesion_and_deleting_a_photo_or_a_lesion_asks_first(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    open_lesion(page, "Mole on the back")
    page.locator("#timeline .entry .delete-entry").first.click()
    page.click("#confirm-dialog button[value=cancel]")  # changing one's mind deletes nothing
    assert page.locator("#timeline .entry").count() == 2
    page.locator("#timeline .entry .delete-entry").first.click()
    assert "2025-06-01" in page.locator("#confirm-dialog .confirm-message").inner_text()
    watch_status(page, "Photo deleted")
    confirm(page)
    assert seen_at_status(page)["photos"] == 1
    assert page.locator("#timeline .entry input[type=date]").input_value() == "2025-03-01"
    page.click("#lesion-edit summary")
    page.fill("#edit-name", "Mole on the left shoulder")
    page.select_option("#edit-site", "upper extremity")
    watch_status(page, "Lesion details saved")
    page.click("#lesion-form button[type=submit]")
    assert seen_at_status(page)["title"] == "Mole on the left shoulder"
    assert "upper extremity" in page.locator("#lesion-meta").inner_text()
    watch_status(page, "deleted")
    page.click("#delete-lesion")
    confirm(page)
    assert seen_at_status(page)["listShown"]  # its patient (Unassigned) has no lesion left: the list of patients
    assert page.locator("#patients-empty").is_visible()
    records = json.loads(page.evaluate(READ_DATABASE, DB))
    assert records["lesions"] == [] and records["entries"] == []
