"""The patient level of My lesions (#44): a Patient ID (with an optional name and year of birth) given on the
classify page or in the save dialog files the photos in that patient's record; My lesions lists patients first,
searchable by ID or name, with an age from the year of birth; one patient or all export and import back, and an
export from before patients imports under "Unassigned"; the CSV, every printed page and (only when asked) the
calendar carry the patient ID; an overdue check's calendar event still alerts; "examined by" is printed on the
visit report; the lock seals the patient records; every bad value gets its message. Clicked through in the built
site in headless Chromium."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import icalendar
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.conftest import HAM_FIXTURES
from tests.test_history import (
    DB, HIGH_RISK, LOW_RISK, READ_DATABASE, back_to_patients, classify_and_save, confirm, database_names, dated_photo,
    export_file, import_file, open_history, open_lesion, open_patient,
)
from tests.test_history_robust import import_text
from tests.test_one_lesion import ONE_LESION, OVERFLOWING, choose, one_lesion_on
from tests.test_report_print import printed_pages
from tests.test_site import INPUT, open_app
from tests.test_site_modes import serious_violations
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser
THIRD_PHOTO = HAM_FIXTURES / "images" / "ISIC_0024334.jpg"
LEFT_FOREARM = "#patient-map .figure[data-view=back] .region[data-part='left forearm']"
TODAY = dt.datetime(2026, 1, 10, 12, 0)  # the page's clock: a year of birth of 1970 is 55-56 years


def fill_patient(page, patient_id: str = "", name: str = "", birth_year: str = "", examined_by: str = "") -> None:
    """The classify page's patient fields."""
    page.fill("#patient-id", patient_id)
    page.fill("#patient-name", name)
    page.fill("#patient-birth-year", birth_year)
    page.fill("#examined-by", examined_by)


def status(page) -> str:
    return page.locator("#history-status").inner_text()


def imported(page, path: Path) -> str:
    """Imports ``path`` and returns what the page says; the status is cleared first, so that the last import's
    words are not read as this one's."""
    page.evaluate("() => { document.getElementById('history-status').textContent = ''; }")
    return import_file(page, path)


def status_says(page, pattern: str) -> None:
    page.wait_for_function("(p) => new RegExp(p).test(document.getElementById('history-status').textContent)", arg=pattern)


def shown_patients(page) -> list[str]:
    """The patient IDs (or "Unassigned") the list shows now, in order."""
    return page.locator("#patient-list li:not([hidden]) .patient-link").all_inner_texts()


def search(page, text: str) -> list[str]:
    page.fill("#patient-search", text)  # the list is filtered as the text is typed (no database read)
    return shown_patients(page)


def stored(page) -> dict:
    return json.loads(page.evaluate(READ_DATABASE, DB))


def download_json(page, button: str) -> dict:
    with page.expect_download() as download:
        page.click(button)
    return json.loads(Path(download.value.path()).read_text())


def without_times(data: dict) -> dict:
    """An export file's patients and lesions, photos in a fixed order (what a round trip must keep)."""
    lesions = lambda ls: sorted(({**l, "entries": sorted(l["entries"], key=lambda e: e["hash"])} for l in ls),
                                key=lambda l: l["id"])
    return {"patients": sorted(({**p, "lesions": lesions(p["lesions"])} for p in data["patients"]), key=lambda p: p["id"]),
            "lesions": lesions(data["lesions"])}


def test_a_patient_given_on_the_classify_page_is_filed_listed_first_found_by_id_or_name_and_aged(
        page, site_url, request_log):
    page.clock.install(time=TODAY)
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    page.set_input_files(INPUT, str(LOW_RISK))
    card = page.locator(".result").first
    card.wait_for()
    assert card.locator(".context-line").inner_text().startswith("Patient P-1001 (Jane Doe, born 1970): age not given")
    card.locator(".save-entry").click()
    page.locator("#save-dialog").wait_for()
    # the dialog starts with the page's patient, says it is new, and offers no other patient's lesion
    assert page.input_value("#save-patient-id") == "P-1001" and page.input_value("#save-patient-name") == "Jane Doe"
    assert page.locator("#save-patient-match").inner_text() == "A new patient: P-1001 (Jane Doe, born 1970)."
    assert page.locator("#save-lesion option").evaluate_all("(os) => os.map((o) => o.value)") == ["new"]
    page.fill("#new-lesion-name", "Back mole")
    page.select_option("#new-lesion-site", "back")
    page.click("#save-confirm")
    page.locator("#status a").wait_for()
    assert "to “Back mole” of patient P-1001" in page.locator("#status").inner_text()

    fill_patient(page, "P-2002", "Miriam Cohen")
    classify_and_save(page, [HIGH_RISK], lesion="Arm spot", site="upper extremity")
    # back to the first patient (by ID alone): the dialog knows them and lists their lesion only
    fill_patient(page, "p-1001")
    page.locator(".result .save-entry").first.click()
    page.locator("#save-dialog").wait_for()
    assert page.locator("#save-patient-match").inner_text() == (
        "Patient P-1001 (Jane Doe, born 1970), kept on this device, with 1 lesion(s).")
    options = page.locator("#save-lesion option").all_inner_texts()
    assert [o.replace("\u2068", "").replace("\u2069", "") for o in options] == ["A new lesion…", "Back mole (back)"]
    page.click("#save-dialog button[value=cancel]")

    log = request_log(page)
    open_history(page, site_url)
    mark = len(log.urls)
    # patients first: the list of patients, no lesion yet
    assert page.locator("#list-view").is_visible() and page.locator("#lesion-list").is_hidden()
    items = page.locator("#patient-list li").all_inner_texts()
    assert [" ".join(i.split()) for i in items] == ["P-1001 Jane Doe — born 1970, 55–56 years old · 1 lesion(s)",
                                                   "P-2002 Miriam Cohen — 1 lesion(s)"]
    assert serious_violations(page) == []
    assert search(page, "doe") == ["P-1001"]
    assert page.locator("#patient-search-count").inner_text() == "1 of 2 patient(s) shown."
    assert search(page, "COHEN") == ["P-2002"]
    assert search(page, "2002") == ["P-2002"]
    assert search(page, "p-1001") == ["P-1001"]
    assert search(page, "nobody") == [] and page.locator("#patient-search-none").is_visible()
    assert search(page, "") == ["P-1001", "P-2002"]

    open_patient(page, "P-1001")
    assert page.locator("#patient-title").inner_text() == "P-1001 (Jane Doe, born 1970)"
    assert page.locator("#patient-meta").inner_text() == "born 1970, 55–56 years old · 1 lesion(s)"
    assert page.locator("#lesion-list a").all_inner_texts() == ["Back mole"]
    assert page.locator("#lesion-map .dot").count() == 1
    assert serious_violations(page) == []
    open_lesion(page, "Back mole")
    crumbs = " ".join(page.locator("#crumbs").inner_text().split())
    assert crumbs == "All patients › Patient P-1001 (Jane Doe, born 1970) › Back mole"
    assert [u for u in log.since(mark) if not u.startswith(("blob:", "data:"))] == []
    assert not page.console_errors


def test_one_patient_or_all_export_and_import_back_and_an_old_file_lands_under_unassigned(page, site_url, tmp_path):
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    classify_and_save(page, [dated_photo(LOW_RISK, tmp_path, "2025-03-01")], lesion="Back mole")
    fill_patient(page, "P-2002")
    classify_and_save(page, [HIGH_RISK], lesion="Arm spot", site="upper extremity")
    fill_patient(page)
    classify_and_save(page, [THIRD_PHOTO], lesion="Unfiled mole")
    open_history(page, site_url)
    assert shown_patients(page) == ["P-1001", "P-2002", "Unassigned"]

    open_patient(page, "P-1001")
    one = download_json(page, "#export-patient")
    assert one["version"] == 2 and one["lesions"] == []
    [patient] = one["patients"]
    assert (patient["patientId"], patient["name"], patient["birthYear"]) == ("P-1001", "Jane Doe", 1970)
    assert [l["name"] for l in patient["lesions"]] == ["Back mole"] and len(patient["lesions"][0]["entries"]) == 1
    assert "patient" not in patient["lesions"][0]  # the file nests a lesion under its patient
    back_to_patients(page)
    everything = json.loads(export_file(page, tmp_path).read_text())
    assert [p["patientId"] for p in everything["patients"]] == ["P-1001", "P-2002"]
    assert [l["name"] for l in everything["lesions"]] == ["Unfiled mole"]

    page.click("#delete-everything")
    confirm(page)
    status_says(page, "Everything deleted")
    text = imported(page, tmp_path / "export.json")
    assert "Imported 3 lesion(s) and 3 photo(s), of 2 patient(s) (2 new)" in text
    assert without_times(json.loads(export_file(page, tmp_path).read_text())) == without_times(everything)
    one_path = tmp_path / "one.json"
    one_path.write_text(json.dumps(one))
    assert "Imported 0 lesion(s) and 0 photo(s), of 1 patient(s) (0 new); 1 photo(s) were already here" in imported(
        page, one_path)

    # an export from before patients (version 1): its lesions of no patient land under "Unassigned"; one already
    # filed under a patient here stays there
    old_lesion = {**patient["lesions"][0], "id": "old-export-lesion", "name": "Old export mole",
                  "entries": [{**patient["lesions"][0]["entries"][0], "id": "old-export-photo"}]}
    old = {"format": "lesionlens-history", "version": 1, "exported": "2025-01-01T00:00:00.000Z",
           "lesions": [old_lesion, patient["lesions"][0]]}
    old_path = tmp_path / "old.json"
    old_path.write_text(json.dumps(old))
    text = imported(page, old_path)
    assert "Imported 1 lesion(s) and 1 photo(s)" in text and "under “Unassigned”" in text
    open_patient(page, "Unassigned")
    assert page.locator("#lesion-list a").all_inner_texts() == ["Old export mole", "Unfiled mole"]
    back_to_patients(page)
    open_patient(page, "P-1001")
    assert page.locator("#lesion-list a").all_inner_texts() == ["Back mole"]
    assert not page.console_errors


def test_csv_rows_carry_the_patient_id_and_a_formula_typed_in_it_stays_text(page, site_url):
    open_app(page, site_url)
    choose(page, [LOW_RISK, HIGH_RISK], 2)
    for patient_id, cell in (("P-1001", "P-1001"), ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0")):
        fill_patient(page, patient_id)
        with page.expect_download() as download:
            page.click("#download-csv")
        table = pd.read_csv(download.value.path(), dtype=str)
        assert list(table["patient_id"]) == [cell, cell]
        assert list(table.columns[-6:]) == ["patient_id", "age", "sex", "body_site", "body_part", "model_version"]
    fill_patient(page)
    with page.expect_download() as download:
        page.click("#download-csv")
    assert pd.read_csv(download.value.path())["patient_id"].isna().all()  # no ID: an empty cell, never a guess


def calendar_file(page) -> tuple[str, list]:
    with page.expect_download() as download:
        page.click("#export-calendar")
    text = Path(download.value.path()).read_text()
    return text, icalendar.Calendar.from_ical(text).walk("VEVENT")


def test_the_calendar_names_no_patient_unless_asked_and_an_overdue_check_still_alerts(page, site_url):
    page.clock.install(time=TODAY)
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    classify_and_save(page, [LOW_RISK], lesion="Jane back mole", site="back")
    classify_and_save(page, [HIGH_RISK], lesion="Spot on the chest", site="chest")
    open_history(page, site_url)
    for name, months in (("Jane back mole", "3"), ("Spot on the chest", "12")):
        open_lesion(page, name, patient="P-1001")
        page.click(f".follow-up-pick[data-months='{months}']")
        status_says(page, "Next check of")
        back_to_patients(page)

    now = dt.datetime(2026, 4, 12, 15, 30)  # after the 9:00 reminder, two days after the 3-month check (2026-04-10)
    page.clock.set_system_time(now)
    open_history(page, site_url)
    assert "Calendars that sync" in page.locator("#calendar-row").inner_text()
    text, events = calendar_file(page)
    unfolded = text.replace("\r\n ", "")
    for private in ("P-1001", "Jane", "Doe"):
        assert private not in unfolded, private
    summaries = {str(e["SUMMARY"]): e for e in events}
    # the lesion named after the patient is named by its body site; the overdue check is tomorrow, titled as overdue
    assert set(summaries) == {"Skin check overdue since 2026-04-10: back", "Skin check: Spot on the chest"}
    overdue = summaries["Skin check overdue since 2026-04-10: back"]
    assert overdue.decoded("DTSTART") == dt.date(2026, 4, 13)
    for event in events:  # every reminder is still ahead of the export
        [alarm] = event.walk("VALARM")
        fires = dt.datetime.combine(event.decoded("DTSTART"), dt.time()) + alarm.decoded("TRIGGER")
        assert fires > now, (str(event["SUMMARY"]), fires)

    page.check("#calendar-include-id")
    text, events = calendar_file(page)
    assert sorted(str(e["SUMMARY"]) for e in events) == [
        "Skin check overdue since 2026-04-10: back (patient P-1001)", "Skin check: Spot on the chest (patient P-1001)"]
    assert "Jane" not in text and "Doe" not in text  # the ID only, never the name
    status_says(page, "carries its patient's ID")


def test_the_patient_id_is_on_every_printed_page_and_examined_by_on_the_visit_report(page, site_url, tmp_path):
    page.add_init_script(NO_PRINT_DIALOG)
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970", examined_by="Dr Ana Rivera")
    one_lesion_on(page)
    choose(page, ONE_LESION, 3)
    combined = page.locator("#combined .result.combined")
    combined.locator(".print-visit").click()
    pages = printed_pages(page, tmp_path)
    assert len(pages) >= 2
    for text in pages:
        assert "Patient: P-1001 (Jane Doe, born 1970)" in text and "no patient ID" not in text, text[:200]
    text = " ".join(pages)
    assert "Patient ID P-1001 Name Jane Doe Year of birth 1970" in text and "Examined by Dr Ana Rivera" in text

    combined.locator(".save-visit").click()
    page.locator("#save-dialog").wait_for()
    page.fill("#new-lesion-name", "Shoulder mole")
    page.select_option("#new-lesion-site", "back")
    page.click("#save-confirm")
    page.locator("#status a").wait_for()
    open_history(page, site_url)
    open_lesion(page, "Shoulder mole", patient="P-1001")
    examiner = page.locator("#timeline .visit .visit-examiner").first
    assert examiner.input_value() == "Dr Ana Rivera"
    examiner.fill("Dr B. Okafor")
    examiner.press("Enter")
    status_says(page, "examined by Dr B. Okafor")
    page.locator("#timeline .visit .print-visit").first.click()
    pages = printed_pages(page, tmp_path)
    assert len(pages) >= 2
    for text in pages:
        assert "Patient: P-1001 (Jane Doe, born 1970) · Lesion: Shoulder mole" in text, text[:200]
    assert "Examined by Dr B. Okafor" in " ".join(pages)
    assert all(e.get("examinedBy") == "Dr B. Okafor" for e in stored(page)["entries"])
    assert not page.console_errors


def test_the_lock_seals_patient_records_and_a_locked_history_shows_no_patient(page, site_url):
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    classify_and_save(page, [LOW_RISK], lesion="Back mole")
    open_history(page, site_url)
    assert "Jane Doe" in page.evaluate(READ_DATABASE, DB)  # readable before the lock
    page.fill("#lock-passphrase", "correct horse battery")
    page.fill("#lock-confirm", "correct horse battery")
    page.click("#lock-form button[type=submit]")
    status_says(page, "Locked")
    at_rest = page.evaluate(READ_DATABASE, DB)
    for secret in ("P-1001", "Jane", "Doe", "1970", "patientId", "birthYear"):
        assert secret not in at_rest, secret
    records = json.loads(at_rest)
    assert [set(p) for p in records["patients"]] == [{"id", "sealed"}]
    assert [set(l) for l in records["lesions"]] == [{"id", "sealed"}]  # which patient a lesion is of: sealed too

    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.locator("#unlock-view").is_visible() and page.locator("#list-view").is_hidden()
    shown = page.locator("body").inner_text()
    assert "P-1001" not in shown and "Jane" not in shown
    page.goto(site_url + "history.html#patient/" + records["patients"][0]["id"])  # not by its address either
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.locator("#patient-view").is_hidden() and "Jane" not in page.locator("body").inner_text()
    page.fill("#unlock-passphrase", "correct horse battery")
    page.click("#unlock-form button[type=submit]")
    page.locator("#patient-view").wait_for()
    assert page.locator("#patient-title").inner_text() == "P-1001 (Jane Doe, born 1970)"


# (field's input, value typed, what its message says); every other field holds a value that can be kept
HOSTILE_FIELDS = [
    ("#patient-id", "P" * 41, "is 41 characters long; at most 40 are kept"),
    ("#patient-id", "P-10\u202e01", "invisible or control character (U+202E)"),
    ("#patient-id", "\u200b\u200b", "invisible or control character (U+200B)"),
    ("#patient-id", "P-1\t001", "invisible or control character (U+0009)"),
    ("#patient-name", "N" * 101, "is 101 characters long; at most 100 are kept"),
    ("#patient-name", "Jane\x07Doe", "invisible or control character (U+0007)"),
    ("#patient-name", "Jane \u202eeoD", "invisible or control character (U+202E)"),
    ("#patient-birth-year", "2090", "Year of birth 2090 is in the future"),
    ("#patient-birth-year", "1899", "Year of birth 1899 is before 1900"),
    ("#patient-birth-year", "19a0", "is not a year: type its four digits"),
    ("#patient-birth-year", "-1970", "is not a year"),
    ("#examined-by", "E" * 101, "is 101 characters long; at most 100 are kept"),
]


def test_hostile_values_in_the_patient_fields_are_refused_beside_them_and_nothing_is_kept(page, site_url):
    page.clock.install(time=TODAY)
    open_app(page, site_url)
    page.set_input_files(INPUT, str(LOW_RISK))
    card = page.locator(".result").first
    card.wait_for()
    for selector, value, message in HOSTILE_FIELDS:
        fill_patient(page, "P-1001", "Jane Doe", "1970")
        page.fill(selector, value)
        box = page.locator(f"#{page.get_attribute(selector, 'aria-describedby').split()[-1]}")
        assert message in box.inner_text(), (selector, value, box.inner_text())
        assert page.get_attribute(selector, "aria-invalid") == "true"
        assert "cannot be kept" in card.locator(".context-line").inner_text()
        card.locator(".save-entry").click()
        page.wait_for_function("() => /^Nothing saved: /.test(document.getElementById('status').textContent)")
        assert message in page.locator("#status").inner_text() and page.locator("#save-dialog").is_hidden()
        page.evaluate("() => { document.getElementById('status').textContent = ''; }")
    # values that only other fields make wrong: a name without an ID, an age the year of birth rules out
    for fields, age, message in ((("", "Jane Doe", ""), "", "without a patient ID"),
                                 (("P-1001", "", "1970"), "80", "more than a patient born in 1970 can be")):
        fill_patient(page, *fields)
        page.fill("#patient-age", age)
        card.locator(".save-entry").click()
        page.wait_for_function("(m) => document.getElementById('status').textContent.includes(m)", arg=message)
        assert page.locator("#save-dialog").is_hidden()
        page.evaluate("() => { document.getElementById('status').textContent = ''; }")
    assert DB not in database_names(page)  # nothing was kept anywhere


def test_html_and_right_to_left_text_in_patient_fields_stays_text_on_a_phone(browser, site_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.console_errors = []
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_app(page, site_url)
    tag = "<img src=x onerror=alert(1)>"
    rtl = "\u05de\u05e8\u05d9\u05dd \u05db\u05d4\u05df <b>x</b>"  # a Hebrew name, and markup after it
    fill_patient(page, tag, rtl, "1970", examined_by="=cmd|' /C calc'!A0")
    classify_and_save(page, [LOW_RISK], lesion="Back mole")
    open_history(page, site_url)
    assert page.locator("#patient-list .patient-link").inner_text() == tag
    assert page.locator("#patient-list .patient-name").inner_text() == rtl
    assert page.locator("#patient-list img, #patient-list b").count() == 0
    assert page.locator("#patient-list .patient-name").evaluate("(s) => getComputedStyle(s).unicodeBidi") == "isolate"
    assert page.evaluate(OVERFLOWING) == []
    page.locator("#patient-list a").first.click()
    page.locator("#patient-view").wait_for()
    assert page.locator("#patient-title").inner_text() == f"{tag} ({rtl}, born 1970)"
    assert page.evaluate(OVERFLOWING) == []
    open_lesion(page, "Back mole")
    assert page.locator("#crumbs img").count() == 0 and page.evaluate(OVERFLOWING) == []
    assert page.locator(".visit-examiner").input_value() == "=cmd|' /C calc'!A0"
    assert dialogs == [] and not page.console_errors
    context.close()


def each_refused_beside_its_field(page, defaults: dict[str, str], cases, submit) -> list[str]:
    """For each (field, value, message): the form's fields at ``defaults`` but ``field`` at ``value``, submitted,
    is refused with ``message`` beside that field; returns the messages shown."""
    texts = []
    for field, value, message in cases:
        for selector, default in defaults.items():
            page.fill(selector, default)
        page.fill(field, value)
        submit()
        expect(page.locator(f"{field}-error")).to_contain_text(message)  # waits: the same field may repeat
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
        texts.append(page.locator(f"{field}-error").inner_text())
    return texts


def test_the_save_dialog_refuses_a_bad_or_conflicting_patient_beside_its_field(page, site_url):
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    classify_and_save(page, [LOW_RISK], lesion="Back mole")
    page.set_input_files(INPUT, str(HIGH_RISK))
    page.wait_for_function("() => document.querySelectorAll('.result').length === 2")
    page.locator(".result .save-entry").first.click()
    page.locator("#save-dialog").wait_for()
    texts = each_refused_beside_its_field(
        page, {"#save-patient-id": "P-1001", "#save-patient-name": "Jane Doe", "#save-patient-birth-year": "1970"},
        (("#save-patient-id", "Q" * 41, "at most 40 are kept"),
         ("#save-patient-name", "John Roe", "kept with the name “Jane Doe”, not “John Roe”"),
         ("#save-patient-birth-year", "1971", "kept with the year of birth “1970”"),
         ("#save-patient-birth-year", "3000", "is in the future")),
        lambda: page.click("#save-confirm"))
    assert all("Nothing was saved" in text for text in texts), texts
    assert page.locator("#save-dialog").is_visible()
    assert len(stored(page)["entries"]) == 1
    # a new patient's ID typed in the dialog: a new patient, with none of the first patient's lesions offered
    page.fill("#save-patient-id", "P-3003")
    page.fill("#save-patient-name", "")
    page.fill("#save-patient-birth-year", "")
    assert page.locator("#save-lesion option").count() == 1
    page.fill("#new-lesion-name", "Chest spot")
    page.select_option("#new-lesion-site", "chest")
    page.click("#save-confirm")
    page.locator("#status a").wait_for()
    assert page.input_value("#patient-id") == "P-3003"  # the page names the patient the photo went to
    records = stored(page)
    assert sorted(p["patientId"] for p in records["patients"]) == ["P-1001", "P-3003"]


def test_my_lesions_patient_form_and_import_refuse_bad_patients(page, site_url, tmp_path):
    page.clock.install(time=TODAY)
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    classify_and_save(page, [LOW_RISK], lesion="Back mole")
    fill_patient(page, "P-2002")
    classify_and_save(page, [HIGH_RISK], lesion="Arm spot", site="upper extremity")
    open_history(page, site_url)
    base = json.loads(export_file(page, tmp_path).read_text())
    open_patient(page, "P-1001")
    page.click("#patient-edit summary")
    each_refused_beside_its_field(
        page, {"#edit-patient-code": "P-1001", "#edit-patient-name": "Jane Doe", "#edit-patient-birth-year": "1970"},
        (("#edit-patient-birth-year", "2090", "is in the future"),
         ("#edit-patient-code", "p-2002", "Another patient has the ID P-2002"),
         ("#edit-patient-code", "", "A patient needs an ID"),
         ("#edit-patient-name", "x\u202e", "(U+202E)")),
        lambda: page.evaluate("() => document.getElementById('patient-form').requestSubmit()"))
    page.fill("#edit-patient-code", "P-1001")
    page.fill("#edit-patient-name", "Jane Smith-Doe")
    page.fill("#edit-patient-birth-year", "1970")
    page.evaluate("() => document.getElementById('patient-form').requestSubmit()")
    status_says(page, "Patient P-1001 \\(Jane Smith-Doe, born 1970\\) saved")
    assert page.locator("#patient-title").inner_text() == "P-1001 (Jane Smith-Doe, born 1970)"

    back_to_patients(page)
    crafted = {
        "year of birth in the future": ("birthYear", 2090, "a year of birth from 1900 to this year"),
        "over-long ID": ("patientId", "P" * 41, "a patient ID of 1 to 40 characters"),
        "control character in the name": ("name", "Jane\x1bDoe", "a name of 1 to 100 characters"),
        "stray field": ("ssn", "123", "no such field"),
    }
    for what, (field, value, message) in crafted.items():
        data = json.loads(json.dumps(base))
        data["patients"][0][field] = value
        text = import_text(page, tmp_path, data)
        assert "Patient 1: the patient needs" in text and message in text and "Nothing was imported" in text, what
    twice = json.loads(json.dumps(base))
    twice["patients"][1]["patientId"] = "p-1001"
    assert "one patient is listed twice" in import_text(page, tmp_path, twice)
    filed = json.loads(json.dumps(base))
    filed["lesions"] = [{**filed["patients"][0]["lesions"][0], "id": "elsewhere", "patient": "x"}]
    assert "names a patient in “patient”" in import_text(page, tmp_path, filed)
    # the file's patient differs from the one kept (the name changed here since): refused whole, nothing added
    assert "kept with the name “Jane Smith-Doe”, not “Jane Doe”" in import_text(page, tmp_path, base)
    moved = json.loads(json.dumps(base))
    moved["patients"][0].pop("name")
    moved["patients"][1]["lesions"].append(moved["patients"][0]["lesions"].pop())
    assert "is filed under patient P-1001 here and under P-2002 in the file" in import_text(page, tmp_path, moved)
    assert [len(p["lesions"]) for p in json.loads(export_file(page, tmp_path).read_text())["patients"]] == [1, 1]


def test_the_body_part_is_stored_and_a_lesion_moves_from_unassigned_to_a_patient(page, site_url):
    open_app(page, site_url)
    page.locator(LEFT_FOREARM).click()
    classify_and_save(page, [LOW_RISK], lesion="Forearm mole", site="upper extremity")
    [lesion] = stored(page)["lesions"]
    assert lesion["bodyPart"] == "left forearm" and "patient" not in lesion
    # a record from before the part was stored: read back from its map point
    page.evaluate("""async () => {
      const db = await (await import('./js/records/history-store.js')).currentDatabase();
      const tx = db.transaction('lesions', 'readwrite');
      const store = tx.objectStore('lesions');
      const [lesion] = await new Promise((ok) => { const r = store.getAll(); r.onsuccess = () => ok(r.result); });
      delete lesion.bodyPart;
      store.put(lesion);
      await new Promise((ok) => { tx.oncomplete = ok; });
      db.close();
    }""")
    open_history(page, site_url)
    open_lesion(page, "Forearm mole")
    assert "Body site upper extremity (left forearm)" in page.locator("#lesion-meta").inner_text()
    page.click("#lesion-edit summary")
    page.fill("#edit-lesion-patient", "P-3003")
    page.click("#lesion-form button[type=submit]")
    status_says(page, "now filed under patient P-3003 \\(a new patient\\)")
    assert "Patient P-3003" in page.locator("#crumbs").inner_text()
    back_to_patients(page)
    assert shown_patients(page) == ["P-3003"]  # no lesion is left under Unassigned
    records = stored(page)
    [patient], [lesion] = records["patients"], records["lesions"]
    assert lesion["patient"] == patient["id"] and lesion["bodyPart"] == "left forearm"
    assert not page.console_errors


BREAK_PATIENT = """async () => {
  const db = await (await import('./js/records/history-store.js')).currentDatabase();
  const tx = db.transaction('patients', 'readwrite');
  const store = tx.objectStore('patients');
  const [patient] = await new Promise((ok) => { const r = store.getAll(); r.onsuccess = () => ok(r.result); });
  store.put({ ...patient, birthYear: 2090 });
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
  return patient.id;
}"""


def test_a_patient_record_that_cannot_be_read_keeps_its_lesions_in_view_to_repair_or_release(page, site_url, tmp_path):
    """A damaged patient record (a year of birth in the future, written behind the page) hides nothing: it and its
    lesion and photo are listed apart; repaired and imported, the patient is whole again; deleted, its lesion goes
    to Unassigned with its photo."""
    page.clock.install(time=TODAY)
    open_app(page, site_url)
    fill_patient(page, "P-1001", "Jane Doe", "1970")
    classify_and_save(page, [LOW_RISK], lesion="Back mole")
    open_history(page, site_url)
    patient_id = page.evaluate(BREAK_PATIENT)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#unreadable").wait_for()
    [lesion] = stored(page)["lesions"]
    listed = page.locator("#unreadable-list li")
    assert listed.evaluate_all("(li) => li.map((l) => l.dataset.id)")[:2] == [patient_id, lesion["id"]]
    assert "a year of birth from 1900 to this year" in listed.first.inner_text()
    assert "its patient" in listed.nth(1).inner_text() and listed.count() == 3  # the photo of that lesion too

    with page.expect_download() as download:
        page.click("#export-unreadable")
    repair = json.loads(Path(download.value.path()).read_text())
    [broken] = repair["patients"]
    assert [l["name"] for l in broken["lesions"]] == ["Back mole"] and len(broken["lesions"][0]["entries"]) == 1
    broken["birthYear"] = 1970
    assert "Imported 1 lesion(s) and 0 photo(s), of 1 patient(s) (1 new)" in imported(page, _saved(tmp_path, repair))
    page.locator("#unreadable").wait_for(state="hidden")
    assert shown_patients(page) == ["P-1001"]

    page.evaluate(BREAK_PATIENT)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.locator(f"#unreadable-list li[data-id='{patient_id}'] .delete-record").click()
    status_says(page, "its 1 readable lesion\\(s\\) are now under “Unassigned”")
    page.locator("#unreadable").wait_for(state="hidden")
    assert shown_patients(page) == ["Unassigned"]
    open_lesion(page, "Back mole")
    assert page.locator("#timeline .entry").count() == 1


def _saved(folder: Path, data: dict) -> Path:
    path = folder / "repaired.json"
    path.write_text(json.dumps(data))
    return path
