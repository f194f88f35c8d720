"""My lesions' small items (#44): the whole list is not read as due, the status line describes the view it sits
on, and the lock section never shows an empty heading. Clicked through in the built site in headless Chromium."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.test_history import LOW_RISK, classify_and_save, open_history, open_lesion, open_patient, saved_history
from tests.test_site import open_app
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser


def test_the_whole_list_has_its_own_heading_below_the_due_list(page, site_url):
    page.clock.install(time=dt.datetime(2026, 1, 10, 12, 0))
    open_app(page, site_url)
    classify_and_save(page, [LOW_RISK], lesion="Mole on the back", site="back")
    open_history(page, site_url)
    open_lesion(page, "Mole on the back")
    page.click(".follow-up-pick[data-months='3']")
    page.wait_for_function("() => /Next check of/.test(document.getElementById('history-status').textContent)")
    page.clock.set_system_time(dt.datetime(2026, 4, 12, 9, 0))  # past the check
    open_history(page, site_url)
    open_patient(page)
    page.locator("#due-list li").wait_for()
    heading = page.locator("#all-lesions-heading")
    assert heading.is_visible() and heading.inner_text() == "All lesions"
    # due list, then the heading, then the whole list
    order = page.evaluate("""() => ['due', 'all-lesions-heading', 'lesion-list'].map((id) => document.getElementById(id))
      .every((e, i, all) => i === 0 || (all[i - 1].compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING))""")
    assert order


def test_the_status_line_describes_the_compare_view_not_the_last_print(page, site_url, tmp_path):
    page.add_init_script(NO_PRINT_DIALOG)
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    open_lesion(page, "Mole on the back")
    page.locator("#timeline .visit").first.locator(".print-visit").click()
    page.wait_for_function("() => /print dialog/.test(document.getElementById('history-status').textContent)")
    for i in range(2):
        page.locator("#timeline .visit").nth(i).locator(".visit-pick").check()
    page.click("#compare-button")
    page.locator("#change-summary .change").wait_for()
    status = page.locator("#history-status").inner_text()
    assert "print dialog" not in status and status.startswith("Compare two visits")


def test_while_locked_the_lock_section_says_what_to_do(page, site_url, tmp_path):
    saved_history(page, tmp_path, site_url)
    open_history(page, site_url)
    page.fill("#lock-passphrase", "correct horse battery")
    page.fill("#lock-confirm", "correct horse battery")
    page.click("#lock-form button[type=submit]")
    page.wait_for_function("() => /Locked/.test(document.getElementById('history-status').textContent)")
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.locator("#unlock-view").is_visible() and page.locator("#manage-view").is_visible()
    # the text that follows the "Passphrase lock" heading, up to the next heading, as shown
    shown = page.evaluate("""() => {
      const heading = [...document.querySelectorAll('#manage-view h3')].find((h) => h.textContent === 'Passphrase lock');
      let text = '';
      for (let e = heading.nextElementSibling; e && e.tagName !== 'H3'; e = e.nextElementSibling) text += e.checkVisibility() ? e.innerText : '';
      return text.trim();
    }""")
    assert "unlock it with its passphrase" in shown
