"""One source for every figure (#44): the classify page, its printed report and the model card quote the test
figures metadata.json ships, equal to the last digit; the model card reads on a phone (contents, no figure broken
across lines)."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT
from tests.test_history import LOW_RISK
from tests.test_report_print import printed_pages
from tests.test_site import open_app
from tests.test_one_lesion import choose
from tests.test_visit_record import NO_PRINT_DIALOG

pytestmark = pytest.mark.browser
METRICS = ("malignant_sensitivity", "malignant_specificity", "melanoma_sensitivity")


def shipped() -> dict:
    return json.loads((ROOT / "site" / "model" / "metadata.json").read_text())


def figure(m: dict, metric: str) -> float:
    group, key = metric.rsplit("_", 1)
    return m[group][key]


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def test_the_page_the_report_and_the_model_card_quote_equal_figures(page, site_url, tmp_path):
    metadata = shipped()
    test = {c: m for c, m in metadata["metrics"]["test"].items() if m.get("malignant")}
    assert set(test) == {"low", "sharp", "external"}

    page.goto(site_url + "model-card.html")
    columns = page.locator("#headline-figures thead th[data-condition]").evaluate_all(
        "(ths) => ths.map((th) => th.dataset.condition)")
    assert columns == list(test)
    card = {}
    for column, condition in enumerate(columns):
        for metric in METRICS:
            cell = page.locator(f"#headline-figures tr[data-metric={metric}] td").nth(column).locator(".figure")
            assert float(cell.get_attribute("data-value")) == figure(test[condition], metric)
            card[condition, metric] = cell.inner_text()
            assert card[condition, metric] == pct(figure(test[condition], metric))
    balanced = page.get_by_role("row", name=re.compile("^balanced accuracy")).locator("td").all_inner_texts()
    assert [b.split(" ")[0] for b in balanced[:3]] == [f"{test[c]['balanced_accuracy']:.3f}" for c in columns]
    limits = page.locator(".headline p:has-text('Known limits') .figure").first.inner_text()
    assert limits == card["external", "melanoma_sensitivity"]

    page.add_init_script(NO_PRINT_DIALOG)
    open_app(page, site_url)
    choose(page, [LOW_RISK], 1)
    result = page.locator("#results .result").first
    # the page words what the threshold misses from the condition that caught the fewest melanomas
    worst = min(test, key=lambda c: test[c]["melanoma"]["sensitivity"])
    assert f"missed {pct(1 - test[worst]['melanoma']['sensitivity'])}" in result.locator(".risk").inner_text()
    result.locator(".print-entry").click()
    printed = " ".join(printed_pages(page, tmp_path))
    rows = page.locator("#print-report table.evidence tbody tr").all_inner_texts()
    assert len(rows) == 1 + len(test)
    for condition, row in zip(test, rows[1:]):
        for metric in METRICS:
            assert card[condition, metric] in row, (condition, metric, row)
            assert card[condition, metric] in printed


def test_the_model_card_on_a_phone_has_contents_and_no_figure_breaks_across_lines(browser, site_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(site_url + "model-card.html")
    links = page.locator("nav.contents a")
    sections = page.locator("main h2").evaluate_all("(hs) => hs.map((h) => h.id)")
    targets = [link.split("#")[1] for link in links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")]
    assert len(targets) >= 10 and set(targets) <= set(sections)
    # every number in the card sits on one line: a range over its digits has a single line box
    broken = page.evaluate("""() => {
      const out = [];
      const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.data.matchAll(/\\d[\\d.,]*\\d%?/g)) {
          const range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          if (lines.size > 1) out.push(m[0]);
        }
      }
      return out;
    }""")
    assert broken == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    links.filter(has_text="Results by skin tone").click()
    page.wait_for_url("**#skin-tone-heading")
    context.close()
