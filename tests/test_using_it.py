"""Using the classify page (#44): the new result is where the user looks; while the model loads the form works,
progress shows and chosen photos wait their turn. Clicked through in the built site in headless Chromium."""
from __future__ import annotations

import pytest

from tests.test_history import HIGH_RISK, LOW_RISK
from tests.test_site import INPUT, open_app

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_the_new_result_gets_the_focus_in_view_and_is_announced(browser, site_url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    open_app(page, site_url)
    for photo in (HIGH_RISK, LOW_RISK):  # the second photo's card is focused in turn, though the first is above it
        page.set_input_files(INPUT, str(photo))
        page.wait_for_function("(name) => document.activeElement?.getAttribute('aria-label') === `Result for ${name}`",
                               arg=photo.name)
        box = page.evaluate("() => { const r = document.activeElement.getBoundingClientRect(); return [r.top, r.bottom]; }")
        assert 0 <= box[0] < height / 4, box  # the card starts at the top of the window
        status = page.locator("#status")
        assert status.get_attribute("aria-live") == "polite"
        assert status.inner_text().startswith("Classified") and f"{photo.name}: " in status.inner_text()
    assert "below the referral threshold" in page.locator("#status").inner_text()
    context.close()


def test_while_the_model_loads_the_form_works_and_a_chosen_photo_is_classified_when_ready(page, site_url):
    held = []
    # the weights wait until the test lets them through: a slow link, as long as the test needs
    page.route("**/model/*.bin", lambda route: held.append(route))
    page.goto(site_url + "index.html")
    while not held:
        page.wait_for_timeout(100)
    assert page.get_attribute("body", "data-ready") is None
    progress = page.locator("#model-progress")
    assert progress.is_visible()
    # the form works at once: sex and body-site lists filled, a bad age flagged, the map picks its site
    page.wait_for_function("() => document.getElementById('patient-site').options.length > 5")
    assert page.locator("#patient-sex option").count() == 3
    page.fill("#patient-age", "250")
    assert "whole number of years from 0 to 120" in page.locator("#patient-age-error").inner_text()
    page.fill("#patient-age", "54")
    page.locator("#patient-map .figure[data-view=back] .region[data-site='back']").first.click()
    assert page.input_value("#patient-site") == "back"
    # a photo chosen now waits, and the page says so
    page.set_input_files(INPUT, str(HIGH_RISK))
    page.wait_for_function("() => /1 photo\\(s\\) chosen/.test(document.getElementById('status').textContent)")
    assert page.locator("#errors").inner_text() == ""
    held[0].continue_()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    card = page.locator(f"#results .result[aria-label='Result for {HIGH_RISK.name}']")
    card.wait_for()
    page.wait_for_function("() => /^Classified 1 image/.test(document.getElementById('status').textContent)")
    assert progress.is_hidden() and page.locator("#errors").inner_text() == ""
    assert "age 54 years" in card.locator(".context-line").inner_text() and "back" in card.locator(".context-line").inner_text()
    assert page.locator("#results .result").count() == 1
    assert not page.console_errors


LEFT_FOREARM = "#patient-map .figure[data-view=back] .region[data-part='left forearm']"


def test_left_forearm_survives_the_card_csv_print_save_and_my_lesions(page, site_url, tmp_path):
    import pandas as pd

    from tests.test_history import classify_and_save, open_history, open_lesion
    from tests.test_report_print import printed_pages
    from tests.test_visit_record import NO_PRINT_DIALOG

    page.add_init_script(NO_PRINT_DIALOG)
    open_app(page, site_url)
    page.locator(LEFT_FOREARM).click()
    assert page.input_value("#patient-site") == "upper extremity"
    # the picked region lights up alone, not the site's eight arm regions
    assert page.locator("#patient-map .region.picked").evaluate_all("(rs) => rs.map((r) => r.dataset.part)") == [
        "left forearm"]
    classify_and_save(page, [LOW_RISK, HIGH_RISK], lesion="Forearm mole", site="upper extremity")
    card = page.locator("#results .result").first
    assert "body site: upper extremity (left forearm)" in card.locator(".context-line").inner_text()
    with page.expect_download() as download:
        page.click("#download-csv")
    table = pd.read_csv(download.value.path())
    assert list(table["body_site"]) == ["upper extremity"] * 2 and list(table["body_part"]) == ["left forearm"] * 2
    card.locator(".print-entry").click()
    assert "Body site upper extremity (left forearm)" in " ".join(printed_pages(page, tmp_path, 1))

    page.evaluate("() => { window.printed = 0; }")
    open_history(page, site_url)
    open_lesion(page, "Forearm mole")
    assert "Body site upper extremity (left forearm)" in page.locator("#lesion-meta").inner_text()
    page.locator("#timeline .visit .print-visit").first.click()
    text = " ".join(printed_pages(page, tmp_path, 1))
    assert "Body site upper extremity (left forearm)" in text and "Lesion: Forearm mole" in text
    assert not page.console_errors


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844), (360, 740)])
def test_every_map_region_is_a_24_px_target_reached_by_keyboard(browser, site_url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    open_app(page, site_url)
    boxes = page.locator("#patient-map .region").evaluate_all(
        "(rs) => rs.map((r) => { const b = r.getBoundingClientRect(); return [r.dataset.part, b.width, b.height]; })")
    assert len(boxes) == 38  # 20 regions on the front figure, 18 on the back
    small = [b for b in boxes if b[1] < 24 or b[2] < 24]
    assert small == []
    # every region is a Tab stop, and Enter or Space picks it with its side and part
    assert page.locator("#patient-map .region:not([tabindex='0'])").count() == 0
    page.focus("#patient-site")
    page.keyboard.press("Tab")
    first = page.evaluate("() => document.activeElement.dataset.part")
    assert first == "scalp"
    hand = page.locator("#patient-map .figure[data-view=front] .region[data-part='left hand']")
    hand.focus()
    page.keyboard.press("Enter")
    assert page.input_value("#patient-site") == "hand"
    assert page.get_attribute("#patient-map", "data-part") == "left hand"
    assert hand.get_attribute("aria-pressed") == "true"
    page.locator("#patient-map .figure[data-view=back] .region[data-part='right lower leg']").focus()
    page.keyboard.press(" ")
    assert page.input_value("#patient-site") == "lower extremity"
    assert page.get_attribute("#patient-map", "data-part") == "right lower leg"
    context.close()


def test_the_same_file_twice_is_said_and_counted_once_in_a_combined_answer(page, site_url):
    from tests.test_one_lesion import ONE_LESION, one_lesion_on

    open_app(page, site_url)
    one_lesion_on(page)
    first, second = ONE_LESION[:2]
    for shown, photo in enumerate((first, second, first), start=1):
        page.set_input_files(INPUT, str(photo))
        page.wait_for_function("(n) => document.querySelectorAll('#results .result').length === n && "
                               "/^Classified/.test(document.getElementById('status').textContent)", arg=shown)
    notes = page.locator("#results .repeat-note")
    assert notes.count() == 1 and f"The same file as {first.name}" in notes.inner_text()
    assert page.locator("#results .result").first.locator(".repeat-note").count() == 1  # on the repeat's own card
    combined = page.locator("#combined .result.combined")
    assert combined.get_attribute("data-photos") == "2"
    assert "the same file as an earlier photo, so left out" in combined.locator(".left-out").inner_text()
