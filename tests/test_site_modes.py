"""Offline after one visit, straight from disk (file://), under a sub-path, and accessible on every page."""
from __future__ import annotations

import json
import re

import pytest

import build
from build import PAGES
from export.browser import serve
from tests.conftest import ROOT
from tests.test_site import IMAGES, INPUT, open_app, shown_probabilities

pytestmark = pytest.mark.browser
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# the test figures metadata.json ships: the build quotes the evaluation that has them (build.test_reports)
SHIPPED = json.loads((ROOT / "site" / "model" / "metadata.json").read_text())["metrics"]["test"]


def classify_one(page) -> None:
    page.set_input_files(INPUT, str(IMAGES[0]))
    probs = shown_probabilities(page)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)


def test_offline_reload_still_classifies(page, site_url):
    open_app(page, site_url)
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    classify_one(page)


def test_opened_from_disk_classifies(page, built_site):
    page.goto((built_site / "index.html").as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    classify_one(page)
    assert not page.console_errors


def test_works_under_a_sub_path(page, built_site):
    with serve(built_site, prefix="/some/prefix/") as url:
        open_app(page, url)
        classify_one(page)


def serious_violations(page) -> list[tuple]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `npm ci` (make test does).")
    if not page.evaluate("() => Boolean(globalThis.axe)"):
        page.evaluate(AXE.read_text())  # evaluated over the DevTools protocol, so the page's CSP does not block it
    violations = page.evaluate("() => axe.run().then((r) => r.violations)")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violations(page, site_url, name):
    page.goto(site_url + name)
    assert serious_violations(page) == []


def test_pages_link_to_each_other_and_show_the_model(page, site_url):
    page.goto(site_url + "model-card.html")
    text = page.locator("main").inner_text()
    assert "Not a diagnosis" in text and "sha256" in text and "CC BY-NC-SA 4.0" in text
    assert re.search(r"Balanced accuracy 0\.\d{3} \(95% CI 0\.\d{3}.0\.\d{3}\)", text)
    for name in PAGES:
        assert page.locator(f"nav a[href='{name}']").count() == 1


def test_model_card_shows_both_sources_overfitting_and_per_class_certainty(page, site_url):
    page.goto(site_url + "model-card.html")
    text = page.locator("main").inner_text()
    assert re.search(r"200x150 copies \(n=\d+\)", text) and re.search(r"sharp crops \(n=\d+\)", text)
    assert "Sources the model has seen" in text and "Not seen" in text
    section = page.locator("#overfitting")
    assert "Does it overfit?" in section.inner_text() and "training sample" in section.inner_text()
    curve = section.locator("img")
    assert curve.count() == 1 and curve.evaluate("(img) => img.complete && img.naturalWidth > 100")
    for condition in ("low", "sharp"):
        rows = page.locator(f"#per-class-{condition} tbody tr")
        assert rows.count() == 7
        # each value with its interval, e.g. "0.613 (0.49–0.73)"
        assert re.search(r"0\.\d{3} \(0\.\d{2}.[01]\.\d{2}\)", rows.first.inner_text())
    assert "too few images to judge" in text


def test_model_card_shows_other_clinics_beside_ham10000(page, site_url):
    page.goto(site_url + "model-card.html")
    external = build.test_reports(build.REPORTS, SHIPPED)["external"]  # the figures the build quotes: those metadata.json ships
    text = page.locator("main").inner_text()
    assert f"other clinics (ISIC Archive) (n={external['n_images']})" in text
    guard = page.get_by_role("row", name=re.compile('^turned away by the "not a lesion" guard')).inner_text()
    assert f"{100 * external['ood']['rejected_fraction']:.1f}%" in guard
    # per class only the three classes the ISIC part has
    rows = page.locator("#per-class-external tbody tr")
    assert sorted(rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())) == ["bkl", "mel", "nv"]


def test_model_card_says_how_stable_the_answer_is_and_how_the_weights_were_shrunk(page, site_url):
    page.goto(site_url + "model-card.html")
    metadata = json.loads((ROOT / "site" / "model" / "metadata.json").read_text())
    section = page.locator("#stability")
    text = section.inner_text()
    assert "How stable is the answer?" in text
    assert f"{metadata['change']['margin']:.3f}" in text and f"{100 * metadata['change']['crossing_rate']:.1f}%" in text
    # the combined visits' margins, and both seeds of the consistency trial with their intervals
    assert "two visits of 2 photos each, combined, derived" in text
    rows = section.locator("table").nth(1).locator("tbody tr")
    assert [rows.nth(i).locator("th").inner_text() for i in range(rows.count())] == [
        "seed 7", "seed 11", "control: the same pairs, no pair term (seed 7)"]
    weights = page.get_by_role("row", name=re.compile(rf"^Weights {metadata['quantization']}")).inner_text()
    assert f"{len(metadata['uint8_layers'])} of the backbone's pointwise convolutions stored in 8 bits" in weights


def test_the_model_card_headline_is_on_the_first_screen_with_the_reports_figures(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(site_url + "model-card.html")
    box = page.locator("#headline").bounding_box()
    assert box["y"] + box["height"] <= 800  # above the fold
    results = build.test_reports(build.REPORTS, SHIPPED)
    conditions = page.locator("#headline-figures thead th[data-condition]").evaluate_all(
        "(ths) => ths.map((th) => th.dataset.condition)")
    assert conditions == list(results)
    for column, (name, r) in enumerate(results.items()):
        for metric, value in (("malignant_sensitivity", r["malignant"]["sensitivity"]),
                              ("malignant_specificity", r["malignant"]["specificity"]),
                              ("melanoma_sensitivity", r["melanoma"]["sensitivity"])):
            cell = page.locator(f"#headline-figures tr[data-metric={metric}] td").nth(column)
            assert float(cell.locator(".figure").get_attribute("data-value")) == pytest.approx(value, abs=1e-12)
            low, high = r["confidence_intervals"][metric]
            assert squash(cell.inner_text()) == f"{100 * value:.1f}% ({100 * low:.0f}–{100 * high:.0f}%)"
    quarters = results["low"]["skin_tone"]["quarters"]
    shown = page.locator("#headline-skin-tone .figure").evaluate_all("(fs) => fs.map((f) => Number(f.dataset.value))")
    assert shown == [quarters["darkest quarter"]["balanced_accuracy"]["value"],
                     quarters["lightest quarter"]["balanced_accuracy"]["value"]]
    context.close()


def test_the_model_card_shows_results_by_skin_tone_in_every_condition(page, site_url):
    page.goto(site_url + "model-card.html")
    for name, r in build.test_reports(build.REPORTS, SHIPPED).items():
        tone = r["skin_tone"]
        rows = page.locator(f"#skin-tone-{name} tbody tr")
        assert rows.count() == len(tone["groups"]) + len(tone["quarters"])
        for group, figures in {**tone["groups"], **tone["quarters"]}.items():
            row = page.locator(f"#skin-tone-{name} tr[data-group='{group}']")
            assert row.locator("td").first.inner_text() == str(figures["n_images"])
            values = [figures[k] for k in ("balanced_accuracy", "malignant_sensitivity", "malignant_specificity",
                                           "melanoma_sensitivity", "guard_rejected")]
            # a figure the group cannot give (no melanoma in it) shows a dash; the others their mark where too wide
            assert row.inner_text().count("too few images") == sum(v["too_few_images"] for v in values if v["value"] is not None)
    assert "median Dice" in page.locator("main").inner_text()


def test_the_model_card_shows_the_outline_scores_and_measures_of_the_reports(page, site_url):
    page.goto(site_url + "model-card.html")
    segmentation = build.segmentation_reports(build.REPORTS)
    assert segmentation["scores"]["keras"] and segmentation["measures"]  # make segmentation's reports are committed
    for runtime, conditions in segmentation["scores"].items():
        for name, m in conditions.items():
            row = page.locator(f"#outline-scores tr[data-runtime='{runtime}'][data-condition='{name}']")
            assert float(row.locator(".figure").get_attribute("data-value")) == m["thresholded_jaccard"]["mean"]
            low, high = m["jaccard"]["ci95"]
            assert f"{m['jaccard']['mean']:.3f} ({low:.3f}–{high:.3f})" in squash(row.inner_text())
    for name, study in segmentation["measures"].items():
        auc = study["separation_melanoma_vs_nevus"]["outline"]["colours"]["auc"]
        assert f"{auc:.2f}" in page.locator(f"#outline-measures-{name} tr[data-measure='colours']").inner_text()
    assert "with a scale" in page.locator("#headline").inner_text()


def squash(text: str) -> str:
    return " ".join(text.split())
