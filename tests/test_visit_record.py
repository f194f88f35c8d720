"""The visit record a clinician files: patient context, the body map, printed reports and follow-up dates,
clicked through in the built site in headless Chromium."""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

import icalendar
import pandas as pd
import pytest
from pypdf import PdfReader

from export.browser import serve
from tests.conftest import ROOT
from tests.test_history import (
    DB, HIGH_RISK, LOW_RISK, READ_DATABASE, back_to_patients, classify_and_save, confirm, database_names, dated_photo,
    export_file, import_file, open_history, open_lesion, open_patient, saved_history,
)
from tests.test_one_lesion import ONE_LESION, OVERFLOWING, choose, one_lesion_on
from tests.test_site import INPUT, open_app
from tests.test_site_modes import serious_violations

pytestmark = pytest.mark.browser
# window.print() opens a dialog a headless test cannot close: count the calls instead, then print with page.pdf()
NO_PRINT_DIALOG = "window.print = () => { window.printed = (window.printed || 0) + 1; };"
BACK_LEFT_UPPER_ARM = "#patient-map .figure[data-view=back] [data-part='left upper arm']"


def metadata() -> dict:
    return json.loads((ROOT / "site" / "model" / "metadata.json").read_text())


@pytest.fixture
def page(page):
    page.add_init_script(NO_PRINT_DIALOG)
    return page


def set_context(page, age: str, sex: str) -> None:
    page.fill("#patient-age", age)
    page.select_option("#patient-sex", sex)
    page.locator(BACK_LEFT_UPPER_ARM).click()


def printed_text(page, tmp_path: Path, paper: str = "A4", calls: int = 1) -> tuple[str, int]:
    """Wait for the page's ``calls``-th print call, print the page as the print dialog would (print media, the
    page's own stylesheet) through Chromium's page.pdf(), which ends the print as the dialog would (afterprint);
    the PDF's text, whitespace and ligatures normalised, and its number of pages."""
    page.wait_for_function("(n) => window.printed === n", arg=calls)
    page.emulate_media(media="print")
    path = tmp_path / f"report-{paper}.pdf"
    page.pdf(path=str(path), format=paper, print_background=True)
    page.emulate_media(media="screen")
    reader = PdfReader(path)
    text = unicodedata.normalize("NFKC", " ".join(p.extract_text() for p in reader.pages))
    return " ".join(text.split()), len(reader.pages)


def squash(text: str) -> str:
    return " ".join(text.split())


def test_a_printed_result_holds_what_the_card_shows_and_the_patient_context(page, site_url, tmp_path):
    open_app(page, site_url)
    set_context(page, "54", "female")
    page.set_input_files(INPUT, str(dated_photo(HIGH_RISK, tmp_path, "2025-06-01")))
    card = page.locator(".result").first
    card.wait_for()
    assert squash(card.locator(".context-line").inner_text()) == (
        "Patient: age 54 years, sex female · body site: upper extremity (left upper arm)")
    values = card.locator(".bars li .value").all_inner_texts()
    assert len(values) == 7
    m = metadata()
    for calls, paper in enumerate(("A4", "Letter"), start=1):
        card.locator(".print-entry").click()
        text, pages = printed_text(page, tmp_path, paper, calls)
        assert pages <= 2
        assert squash(card.locator("h3").inner_text()).split(" (")[0] in text  # the top class
        for row in card.locator(".bars li").all():  # every probability as the card shows it, by class
            code, value = row.get_attribute("data-code"), row.locator(".value").inner_text()
            assert re.search(rf"{code} .{{0,90}}? {re.escape(value)}", text), (code, value)
        assert squash(card.locator(".risk").inner_text()) in text
        assert f"Model {m['model_version']}, weights sha256 {m['weights_sha256'][:12]}" in text
        assert "Age 54 years Sex female Body site upper extremity (left upper arm) Date taken 2025-06-01" in text
        assert "Decision support, not a diagnosis" in text and "REFER" in text
        op = m["operating_point"]
        assert f"{100 * op['validation_sensitivity']:.1f}% {100 * op['validation_specificity']:.1f}%" in text
        assert "Guard: recognised as a skin-lesion close-up" in text
    # the screen stays the page, the report shows only on paper, and after printing the page prints as itself
    assert page.locator("#print-report").is_hidden() and page.locator("#results").is_visible()
    assert not page.evaluate("() => document.body.classList.contains('printing')")
    assert not page.console_errors


def test_a_one_lesion_report_holds_the_combined_result_and_the_photo_count(page, site_url, tmp_path):
    open_app(page, site_url)
    one_lesion_on(page)
    choose(page, ONE_LESION, 3)
    combined = page.locator("#combined .result.combined")
    combined.locator(".print-visit").click()
    text, _ = printed_text(page, tmp_path)
    spread = re.search(r"range from (\d\.\d{3}) to (\d\.\d{3})", combined.locator(".combined-spread").inner_text())
    assert f"Combined answer of 3 photos of one lesion, by the mean of their logits; the single photos' malignancy " \
           f"scores range from {spread[1]} to {spread[2]}" in text
    for row in combined.locator(".bars li").all():
        code, value = row.get_attribute("data-code"), row.locator(".value").inner_text()
        assert re.search(rf"{code} .{{0,90}}? {re.escape(value)}", text), (code, value)
    assert text.count("· taken ") == 3
    # each photo beside its heatmap and the lesion outline the shipped model draws
    assert page.locator("#print-report .report-photo img").count() == 9
    assert "Age not given Sex not given Body site not given" in text


def test_a_visit_report_shows_the_previous_visit_its_change_flag_and_the_next_check(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    open_lesion(page, "Mole on the back")
    page.click(".follow-up-pick[data-months='6']")
    page.wait_for_function("() => /Next check of/.test(document.getElementById('history-status').textContent)")
    due = page.locator("#next-check").input_value()
    page.locator("#timeline .visit").first.locator(".print-visit").click()
    text, pages = printed_text(page, tmp_path)
    # a visit report also carries the outline, its measures and the size against the previous visit (#46)
    assert pages <= 3
    assert "LesionLens visit report" in text and "Lesion Mole on the back" in text
    assert "Date taken 2025-06-01" in text and f"Next check {due}" in text
    assert "Previous visit 2025-03-01:" in text
    assert "CHANGE FLAG: a reason to refer to a dermatologist: the later visit crossed the referral threshold" in text
    assert "recomputed on this device from the stored copy" in text
    # the earlier visit's report has no previous visit
    page.locator("#timeline .visit").nth(1).locator(".print-visit").click()
    page.wait_for_function("() => window.printed === 2")
    assert "Previous visit" not in page.locator("#print-report").inner_text()
    assert not page.console_errors


def test_the_map_and_the_list_agree_and_a_saved_lesion_is_a_dot_that_opens_it(page, site_url):
    open_app(page, site_url)
    page.locator(BACK_LEFT_UPPER_ARM).click()
    assert page.input_value("#patient-site") == "upper extremity"
    clicked = page.get_attribute("#patient-map", "data-point")
    assert clicked.startswith("back ")
    assert page.locator("#patient-map .marker").count() == 1
    # the reverse: the list, by keyboard, picks the site on the map (every region of it) and forgets the point
    page.focus("#patient-site")
    page.select_option("#patient-site", "face")
    assert page.locator("#patient-map .region.picked").evaluate_all("(rs) => rs.map((r) => r.dataset.site)") == ["face"]
    assert page.get_attribute("#patient-map", "data-point") == "" and page.locator("#patient-map .marker").count() == 0
    page.locator(BACK_LEFT_UPPER_ARM).click()
    classify_and_save(page, [LOW_RISK], lesion="Arm mole", site="upper extremity")
    records = json.loads(page.evaluate(READ_DATABASE, DB))
    point = records["lesions"][0]["mapPoint"]
    assert f"{point['view']} {point['x']} {point['y']}" == clicked

    open_history(page, site_url)
    open_patient(page)
    dot = page.locator("#lesion-map .dot")
    assert dot.count() == 1 and "Arm mole" in dot.get_attribute("aria-label")
    assert serious_violations(page) == []
    dot.focus()  # keyboard only: the dot is a link
    page.keyboard.press("Enter")
    page.locator("#lesion-view").wait_for()
    assert page.locator("#lesion-title").inner_text() == "Arm mole"
    # the lesion form's map shows the same point, and moving it there saves the new site
    page.click("#lesion-edit summary")
    assert page.get_attribute("#edit-map", "data-point") == clicked
    page.locator("#edit-map .figure[data-view=front] [data-part='chest']").click()
    page.click("#lesion-form button[type=submit]")
    page.wait_for_function("() => /Lesion details saved/.test(document.getElementById('history-status').textContent)")
    assert "Body site chest" in page.locator("#lesion-meta").inner_text()
    assert serious_violations(page) == []
    assert not page.console_errors


def test_the_map_works_by_touch_on_a_360_px_phone(browser, site_url):
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    open_app(page, site_url)
    assert page.evaluate(OVERFLOWING) == []
    page.locator(BACK_LEFT_UPPER_ARM).tap()
    assert page.input_value("#patient-site") == "upper extremity"
    classify_and_save(page, [LOW_RISK], lesion="Arm mole", site="upper extremity")
    open_history(page, site_url)
    assert page.evaluate(OVERFLOWING) == []
    page.locator("#patient-list a").first.tap()
    page.locator("#patient-view").wait_for()
    assert page.evaluate(OVERFLOWING) == []
    page.locator("#lesion-map .dot").tap()
    page.locator("#lesion-view").wait_for()
    assert page.evaluate(OVERFLOWING) == []
    context.close()


def test_a_lesion_due_for_its_check_is_listed_first_and_its_date_goes_to_a_calendar(page, site_url, tmp_path):
    page.clock.install(time=dt.datetime(2026, 1, 10, 12, 0))
    open_app(page, site_url)
    classify_and_save(page, [LOW_RISK], lesion="Mole on the back", site="back")
    classify_and_save(page, [HIGH_RISK], lesion="Spot on the chest", site="chest")
    open_history(page, site_url)
    assert page.locator("#due").is_hidden() and page.locator("#calendar-row").is_hidden()
    for name, months in (("Mole on the back", "3"), ("Spot on the chest", "12")):
        open_lesion(page, name)
        page.click(f".follow-up-pick[data-months='{months}']")
        page.wait_for_function("() => /Next check of/.test(document.getElementById('history-status').textContent)")
        page.click("#crumbs a[href='#unassigned']")  # back to the patient's lesions (here: of no patient)
        page.locator("#patient-view").wait_for()
    assert page.locator("#due").is_hidden()

    page.clock.set_system_time(dt.datetime(2026, 4, 12, 9, 0))  # past the 3-month check of 2026-04-10
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    due = page.locator("#due-list li")
    assert due.count() == 1 and squash(due.inner_text()) == "Mole on the back — back: check overdue since 2026-04-10"
    # "due" comes before the list of all lesions
    assert page.evaluate("() => Boolean(document.getElementById('due').compareDocumentPosition("
                         "document.getElementById('lesion-list')) & Node.DOCUMENT_POSITION_FOLLOWING)")

    back_to_patients(page)  # the calendar file holds every patient's checks
    with page.expect_download() as download:
        page.click("#export-calendar")
    assert download.value.suggested_filename.endswith(".ics")
    calendar = icalendar.Calendar.from_ical(Path(download.value.path()).read_bytes())
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    # the overdue check is an event on the next day whose 9:00 reminder is still ahead (#44), not one in the past
    assert set(events) == {"Skin check overdue since 2026-04-10: Mole on the back", "Skin check: Spot on the chest"}
    assert events["Skin check overdue since 2026-04-10: Mole on the back"].decoded("DTSTART") == dt.date(2026, 4, 13)
    assert events["Skin check: Spot on the chest"].decoded("DTSTART") == dt.date(2027, 1, 10)
    assert len({str(e["UID"]) for e in events.values()}) == 2
    assert not page.console_errors


def test_context_round_trips_through_csv_export_import_and_the_lock(page, site_url, tmp_path):
    open_app(page, site_url)
    set_context(page, "54", "female")
    photos = [dated_photo(LOW_RISK, tmp_path, "2025-03-01"), dated_photo(HIGH_RISK, tmp_path, "2025-06-01")]
    classify_and_save(page, photos, lesion="Arm mole", site="upper extremity")
    with page.expect_download() as download:
        page.click("#download-csv")
    table = pd.read_csv(download.value.path())
    assert list(table["age"]) == [54, 54] and set(table["sex"]) == {"female"}
    assert set(table["body_site"]) == {"upper extremity"}

    open_history(page, site_url)
    exported = json.loads(export_file(page, tmp_path).read_text())
    [lesion] = exported["lesions"]
    assert lesion["sex"] == "female" and lesion["site"] == "upper extremity" and lesion["mapPoint"]["view"] == "back"
    assert [e["age"] for e in lesion["entries"]] == [54, 54]
    page.click("#delete-everything")
    confirm(page)
    page.wait_for_function("() => /Everything deleted/.test(document.getElementById('history-status').textContent)")
    assert "Imported 1 lesion(s) and 2 photo(s)" in import_file(page, tmp_path / "export.json")

    page.fill("#lock-passphrase", "correct horse battery")
    page.fill("#lock-confirm", "correct horse battery")
    page.click("#lock-form button[type=submit]")
    page.wait_for_function("() => /Locked/.test(document.getElementById('history-status').textContent)")
    at_rest = page.evaluate(READ_DATABASE, DB)
    assert "female" not in at_rest and "mapPoint" not in at_rest and '"age"' not in at_rest
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.fill("#unlock-passphrase", "correct horse battery")
    page.click("#unlock-form button[type=submit]")
    page.locator("#list-view").wait_for()
    open_lesion(page, "Arm mole")
    assert "sex female" in page.locator("#lesion-meta").inner_text()
    assert page.locator(".entry-age").evaluate_all("(inputs) => inputs.map((i) => i.value)") == ["54", "54"]
    back_to_patients(page)
    restored = json.loads(export_file(page, tmp_path).read_text())
    strip = lambda data: [{**l, "entries": sorted(l["entries"], key=lambda e: e["hash"])} for l in data["lesions"]]
    assert strip(restored) == strip(exported)

    # a file with an impossible age is refused whole
    lesion["entries"][0]["age"] = 250
    bad = tmp_path / "bad-age.json"
    bad.write_text(json.dumps(exported))
    assert "age at the photo, a whole number of years from 0 to 120" in import_file(page, bad)
    assert strip(json.loads(export_file(page, tmp_path).read_text())) == strip(restored)


@pytest.mark.parametrize("age", ["250", "-3", "abc"])
def test_a_bad_age_gets_a_message_beside_its_field_and_nothing_is_kept(page, site_url, age):
    open_app(page, site_url)
    page.fill("#patient-age", age)
    error = page.locator("#patient-age-error")
    assert error.is_visible() and "whole number of years from 0 to 120" in error.inner_text()
    assert page.get_attribute("#patient-age", "aria-invalid") == "true"
    page.set_input_files(INPUT, str(LOW_RISK))
    card = page.locator(".result").first
    card.wait_for()
    assert "cannot be kept" in card.locator(".context-line").inner_text()
    assert serious_violations(page) == []
    card.locator(".save-entry").click()
    page.wait_for_function("() => /^Nothing saved: Age/.test(document.getElementById('status').textContent)")
    assert page.locator("#save-dialog").is_hidden() and DB not in database_names(page)
    card.locator(".print-entry").click()
    page.wait_for_function("() => /^Nothing printed: Age/.test(document.getElementById('status').textContent)")
    assert page.evaluate("() => window.printed") is None
    assert page.evaluate("() => document.activeElement.id") == "patient-age"
    # corrected, everything works again
    page.fill("#patient-age", "")
    assert error.is_hidden()
    card.locator(".print-entry").click()
    page.wait_for_function("() => window.printed === 1")


def test_an_age_in_my_lesions_is_checked_and_a_conflicting_sex_is_refused(page, site_url, tmp_path):
    open_app(page, site_url)
    set_context(page, "40", "male")
    classify_and_save(page, [LOW_RISK], lesion="Arm mole", site="upper extremity")
    open_history(page, site_url)
    open_lesion(page, "Arm mole")
    age = page.locator(".entry-age").first
    age.fill("abc")
    age.press("Enter")  # change
    alert = page.locator(".entry .field-error").first
    alert.wait_for()
    assert "Nothing was saved" in alert.inner_text()
    assert json.loads(page.evaluate(READ_DATABASE, DB))["entries"][0]["age"] == 40
    age.fill("41")
    age.press("Enter")
    page.wait_for_function("() => /Age at this photo saved: 41/.test(document.getElementById('history-status').textContent)")
    assert json.loads(page.evaluate(READ_DATABASE, DB))["entries"][0]["age"] == 41

    # the same lesion, saved again from a page that says another sex: refused with the reason, nothing added
    open_app(page, site_url)
    page.select_option("#patient-sex", "female")
    page.set_input_files(INPUT, str(HIGH_RISK))
    page.locator(".result .save-entry").click()
    page.locator("#save-dialog").wait_for()
    page.wait_for_function("() => document.getElementById('save-lesion').options.length === 2")
    page.click("#save-confirm")
    message = page.locator("#save-errors [role=alert]")
    message.wait_for()
    assert "recorded with sex male, but the page says female" in message.inner_text()
    assert len(json.loads(page.evaluate(READ_DATABASE, DB))["entries"]) == 1


def test_printing_and_the_map_make_no_request(page, site_url, tmp_path, request_log):
    log = request_log(page)
    open_app(page, site_url)
    mark = len(log.urls)
    set_context(page, "54", "female")
    page.set_input_files(INPUT, str(dated_photo(HIGH_RISK, tmp_path, "2025-06-01")))
    page.locator(".result .print-entry").click()
    page.wait_for_function("() => window.printed === 1")
    assert [u for u in log.since(mark) if not u.startswith(("blob:", "data:"))] == []

    page.evaluate("() => { window.printed = 0; }")
    page.locator(".result .save-entry").click()
    page.locator("#save-dialog").wait_for()
    page.fill("#new-lesion-name", "Arm mole")
    page.click("#save-confirm")
    page.locator("#status a").wait_for()
    open_history(page, site_url)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    mark = len(log.urls)
    open_patient(page)
    page.locator("#lesion-map .dot").click()
    page.locator("#lesion-view").wait_for()
    page.locator(".print-visit").click()
    page.wait_for_function("() => window.printed === 1")
    page.click(".follow-up-pick[data-months='3']")
    page.wait_for_function("() => /Next check of/.test(document.getElementById('history-status').textContent)")
    assert [u for u in log.since(mark) if not u.startswith(("blob:", "data:"))] == []


@pytest.mark.parametrize("where", ["file", "sub-path"])
def test_the_report_and_the_map_work_from_disk_and_under_a_sub_path(page, built_site, where):
    def run() -> None:
        set_context(page, "54", "female")
        page.set_input_files(INPUT, str(LOW_RISK))
        page.locator(".result .print-entry").click()
        page.wait_for_function("() => window.printed === 1")
        report = page.locator("#print-report").inner_text()
        assert "Age\t54 years" in report or "54 years" in report
        assert page.locator("#print-report .report-photo img").count() == 3  # photo, heatmap, outline

    if where == "file":
        page.goto((built_site / "index.html").as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        run()
    else:
        with serve(built_site, prefix="/some/prefix/") as url:
            open_app(page, url)
            run()
    assert not page.console_errors
