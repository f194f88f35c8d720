"""A long lesion name wraps in the printed report instead of running off the paper (#45: a 200-character name was
cut off in print)."""
from __future__ import annotations

import pytest

from tests.test_history import LOW_RISK, dated_photo, open_history, open_lesion
from tests.test_history_at_rest import save_with_note
from tests.test_site import open_app
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser
# 200 characters without a space: nothing to break at but the characters themselves
LONG_NAME = "Naevus" + "W" * 188 + "Ending"
A4_TEXT_WIDTH_PX = 688  # 210 mm less the page's 14 mm margins, at 96 px per inch

# What of the printed report reaches past its own right edge: [tag, text, right edge] for each such element.
OVERFLOWING = """() => {
  const report = document.querySelector('#print-report .report');
  const right = report.getBoundingClientRect().right;
  return [...report.querySelectorAll('*')].filter((e) => e.getBoundingClientRect().right > right + 1)
    .map((e) => [e.tagName, e.textContent.slice(0, 40), e.getBoundingClientRect().right]);
}"""


def test_a_long_lesion_name_wraps_in_the_printed_visit_report(page, site_url, tmp_path):
    page.add_init_script(NO_PRINT_DIALOG)
    open_app(page, site_url)
    save_with_note(page, dated_photo(LOW_RISK, tmp_path, "2025-03-01"), name=LONG_NAME, note="n" * 300)
    open_history(page, site_url)
    open_lesion(page, LONG_NAME)
    page.locator("#timeline .visit").first.locator(".print-visit").click()
    page.wait_for_function("() => window.printed === 1")
    page.set_viewport_size({"width": A4_TEXT_WIDTH_PX, "height": 1000})
    page.emulate_media(media="print")
    assert page.locator("#print-report .report").is_visible()
    assert LONG_NAME in page.locator("#print-report .report").inner_text().replace("\n", "")
    assert page.evaluate(OVERFLOWING) == []
    # the page-margin label repeats the name on every page: shortened there (the full name is in the report)
    label = page.evaluate("() => [...document.adoptedStyleSheets].map((s) => [...s.cssRules].map((r) => r.cssText).join(' ')).join(' ')")
    assert LONG_NAME not in label and LONG_NAME[:40] in label
