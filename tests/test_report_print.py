"""The printed report a clinician files (#44): every page says whose it is, when it was printed and "page N of M";
the photos on the other side of the threshold are named as on the card; REFER reads without colour; the heatmap
has a legend that survives greyscale; undated photos say where their date came from. Printed to PDF by Chromium
and read back with pypdf."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.test_history import HIGH_RISK, LOW_RISK
from tests.test_one_lesion import ONE_LESION, choose, one_lesion_on
from tests.test_site import open_app
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser
PAGE_MARK = re.compile(r"page (\d+) of (\d+)")


@pytest.fixture
def page(page):
    page.add_init_script(NO_PRINT_DIALOG)
    return page


def printed_pages(page, tmp_path: Path, calls: int = 1) -> list[str]:
    """Wait for the ``calls``-th print call, print to PDF as the dialog would; each page's text, normalised."""
    page.wait_for_function("(n) => window.printed === n", arg=calls)
    page.emulate_media(media="print")
    path = tmp_path / f"report-{calls}.pdf"
    page.pdf(path=str(path), format="A4")
    page.emulate_media(media="screen")
    return [" ".join(unicodedata.normalize("NFKC", p.extract_text()).split()) for p in PdfReader(path).pages]


def test_every_printed_page_carries_the_patient_the_date_and_page_n_of_m(page, site_url, tmp_path):
    open_app(page, site_url)
    one_lesion_on(page)
    choose(page, ONE_LESION, 3)
    card = page.locator("#combined .result.combined")
    above = card.locator(".straddling li").all_inner_texts()
    assert len(above) == 1  # one photo above the threshold, the combined answer below it
    above_name = above[0].split(" (malignancy score")[0]
    card.locator(".print-visit").click()
    pages = printed_pages(page, tmp_path)
    printed = page.locator("#print-report .report").get_attribute("data-printed")
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert PAGE_MARK.findall(text) == [(str(number), str(len(pages)))], text[:200]
        assert "Patient: no patient ID" in text and f"printed {printed}" in text
    text = " ".join(pages)
    # the report names the photo the card names, with the score the card gives it
    assert f"1 of 3 photos above the referral threshold on their own: {above_name} (malignancy score" in text
    assert "The model analysed only the photo's centre square" in text
    assert "least evidence" in text and "most evidence" in text
    # the fixture photos carry no date: the report says whose day it is
    assert "(the day the photo was loaded: its file holds no date)" in text


def test_refer_and_below_differ_without_colour(page, site_url, tmp_path):
    open_app(page, site_url)
    choose(page, [LOW_RISK, HIGH_RISK], 2)
    frames = {}
    for path, verdict in ((HIGH_RISK, "refer"), (LOW_RISK, "below")):
        page.locator(f"#results .result[aria-label='Result for {path.name}'] .print-entry").click()
        text = " ".join(printed_pages(page, tmp_path, len(frames) + 1))
        page.emulate_media(media="print")
        box = page.locator(f"#print-report .report-verdict.{verdict}")
        frames[verdict] = box.evaluate("(b) => { const s = getComputedStyle(b); "
                                       "return [s.borderTopStyle, parseFloat(s.borderTopWidth)]; }")
        page.emulate_media(media="screen")
        assert ("REFER" in text) == (verdict == "refer")
    assert frames["refer"][0] == "double" and frames["refer"][1] >= 4
    assert frames["below"][0] == "dashed" and frames["below"][1] <= 1.5


def test_the_heatmap_has_a_legend_whose_colours_darken_in_order_in_greyscale(page, site_url):
    open_app(page, site_url)
    choose(page, [HIGH_RISK], 1)
    card = page.locator("#results .result").first
    assert "centre square" in card.locator(".explanation").inner_text()
    stops = card.locator(".heatmap-legend stop").evaluate_all(
        "(ss) => ss.map((s) => s.getAttribute('stop-color').match(/\\d+/g).map(Number))")
    assert len(stops) >= 3
    luma = [0.299 * r + 0.587 * g + 0.114 * b for r, g, b in stops]
    assert luma == sorted(luma) and len(set(luma)) == len(luma)  # least to most evidence: darker to lighter
