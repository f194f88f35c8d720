"""The words a clinician reads never soften a referral (#44): one vocabulary, "above / below the referral
threshold", on every page, list and report; a lesion above the threshold is referred whatever changed; a photo above
the threshold is the combined card's first words. Clicked through in the built site in headless Chromium."""
from __future__ import annotations

import re

import pytest
from PIL import Image, ImageOps

from tests.test_history import (
    HIGH_RISK, LOW_RISK, classify_and_save, dated_photo, open_history, open_lesion, open_patient,
)
from tests.test_one_lesion import ONE_LESION, choose, one_lesion_on
from tests.test_site import open_app

pytestmark = pytest.mark.browser
# phrases that turn "below the threshold" into an all-clear, or speak to the patient instead of the clinician
SOFTENING = re.compile(r"low[ -]risk|please see a|the patient or you|worries you", re.I)
PAGES = ("index.html", "history.html", "classes.html", "model-card.html", "privacy.html")


def test_no_built_page_or_script_softens_a_referral(built_site):
    files = [p for p in built_site.rglob("*") if p.suffix in (".html", ".js") and "vendor" not in p.parts]
    assert len(files) > 20
    found = {p.relative_to(built_site).as_posix(): m.group(0) for p in files
             if (m := SOFTENING.search(p.read_text(errors="ignore")))}
    assert found == {}


def test_every_page_says_referral_threshold_never_operating_point(page, site_url):
    for name in PAGES:
        page.goto(site_url + name)
        page.wait_for_load_state("load")
        assert "operating point" not in page.locator("body").inner_text().lower(), name
    open_app(page, site_url)
    choose(page, [HIGH_RISK, LOW_RISK], 2)
    text = page.locator("#results").inner_text().lower() + page.locator("#summary").inner_text().lower()
    assert "operating point" not in text and "refer to a dermatologist" in text
    assert page.locator("#summary-table tbody td:text-is('above the referral threshold: refer')").count() == 1
    assert page.locator("#summary-table tbody td:text-is('below the referral threshold (not an all-clear)')").count() == 1
    # one tag for the malignant classes: the cards' and the classes page's
    tags = set(page.locator(".result .tag.malignant").all_inner_texts())
    page.goto(site_url + "classes.html")
    assert tags == set(page.locator(".classes .tag.malignant").all_inner_texts()) == {"malignant"}


def test_my_lesions_list_says_below_the_referral_threshold_never_low_risk(page, site_url):
    open_app(page, site_url)
    classify_and_save(page, [LOW_RISK], lesion="Mole on the back", site="back")
    open_history(page, site_url)
    open_patient(page)
    row = page.locator("#lesion-list li").first
    row.wait_for()
    assert "below the referral threshold" in row.inner_text() and "low risk" not in row.inner_text().lower()


def test_two_visits_both_above_the_threshold_refer_and_never_say_keep_monitoring(page, site_url, tmp_path):
    # the same actinic keratosis, mirrored for the later visit: the same answer far above the threshold, no change
    mirrored = tmp_path / "mirrored.jpg"
    ImageOps.mirror(Image.open(HIGH_RISK)).save(mirrored, quality=95)
    photos = [dated_photo(HIGH_RISK, tmp_path, "2025-03-01"), dated_photo(mirrored, tmp_path, "2025-06-01")]
    open_app(page, site_url)
    classify_and_save(page, photos, lesion="Spot on the back", site="back")
    open_history(page, site_url)
    open_lesion(page, "Spot on the back")
    visits = page.locator("#timeline .visit")
    assert visits.count() == 2
    for i in range(2):
        visits.nth(i).locator(".visit-pick").check()
    page.click("#compare-button")
    summary = page.locator("#change-summary .change")
    summary.wait_for()
    assert summary.get_attribute("data-flagged") == "false"  # nothing changed beyond the noise...
    text = summary.inner_text()
    assert "keep monitoring" not in text.lower()  # ...but the latest visit refers
    assert "the later visit is above the referral threshold: refer to a dermatologist" in text
    assert "Stayed above the referral threshold" in text


def test_a_photo_above_the_threshold_is_the_combined_cards_first_words(page, site_url):
    open_app(page, site_url)
    one_lesion_on(page)
    choose(page, ONE_LESION, 3)  # one of the three photos above the threshold, the combined answer below it
    card = page.locator("#combined .result.combined")
    heading = " ".join(card.locator("h3").inner_text().split())
    assert heading.startswith("1 of 3 photos above the referral threshold; the combined answer is below it.")
    # the photo it counts is named right below the headline, before the combined answer's own message
    order = card.locator(":scope > *").evaluate_all("(els) => els.map((e) => e.className)")
    assert order.index("combined-disagree warning") < order.index("risk")
