"""Score image files with a TF.js model through the site's own inference module in headless Chromium.

What ships is what is scored: the same ``site/js/inference/classifier.js``, vendored runtime and model files.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from export.browser import launch_options, serve

SITE_DIR = Path(__file__).resolve().parent.parent / "site"
BATCH = 50
HARNESS = """<!doctype html><meta charset="utf-8"><title>scoring harness</title>
<script type="module">
import * as core from '/js/inference/classifier.js';
import { combineProbabilities } from '/js/inference/combine.js';
window.core = core;
window.classifierReady = core.loadClassifier({modelUrl: '/__model__/', vendorUrl: '/vendor/tfjs/',
  backends: %s}).then((c) => { window.classifier = c; return {backend: c.backend, simd: c.simd}; });
window.scoreUrls = async (urls, extras) => {
  const out = [];
  for (const url of urls) {
    const bitmap = await core.decodeImage(await (await fetch(url)).blob());
    const r = await window.classifier.classify(bitmap);
    out.push(extras ? {probabilities: r.probabilities, ood: r.oodDistance, cams: Array.from(r.cams.data),
                       shape: [r.cams.height, r.cams.width, r.cams.classes],
                       outline: r.outline && {size: r.outline.size, data: Array.from(r.outline.data)}}
                    : r.probabilities);
    bitmap.close();
  }
  return out;
};
// groups: lists of each lesion's photos' probabilities -> the site's combined probabilities for each lesion
window.combineGroups = (groups) => groups.map(
  (rows) => combineProbabilities(rows, window.classifier.metadata.combination.rule));
</script>"""


@contextmanager
def scoring_page(model_dir: Path, paths: list[str], backends: tuple[str, ...] = ("wasm", "webgl", "cpu"),
                 browser=None) -> Iterator:
    """A Playwright page with ``window.classifier`` loaded from ``model_dir``; image i is at /__images__/i.

    Pass ``browser`` to reuse a running Playwright browser (tests); otherwise one is launched here.
    """
    with _harness_dir(backends) as harness, serve(
        SITE_DIR,
        routes={"/__model__/": Path(model_dir).resolve(), "/__harness__.html": harness,
                **{f"/__images__/{i}": Path(p).resolve() for i, p in enumerate(paths)}},
    ) as base, _browser(browser) as running:
        context = running.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "__harness__.html")
        page.wait_for_function("window.classifierReady !== undefined")
        try:
            page.info = page.evaluate("window.classifierReady")
        except Exception as err:
            raise RuntimeError(f"The classifier did not load in Chromium: {err} {errors}") from err
        yield page
        context.close()


@contextmanager
def _browser(browser=None) -> Iterator:
    if browser is not None:
        yield browser
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(**launch_options())
        yield launched
        launched.close()


@contextmanager
def _harness_dir(backends: tuple[str, ...]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "harness.html"
        page.write_text(HARNESS % json.dumps(list(backends)))
        yield page


def _score(model_dir: Path, paths: list[str], browser, extras: bool, groups: list[str] | None = None) -> tuple[list, list | None]:
    """Each image's outputs and, with ``groups`` (a group per image), each image's group's combined
    probabilities from the site's combine.js."""
    with scoring_page(model_dir, paths, browser=browser) as page:
        rows: list = []
        for start in range(0, len(paths), BATCH):
            urls = [f"/__images__/{i}" for i in range(start, min(start + BATCH, len(paths)))]
            rows.extend(page.evaluate("([urls, extras]) => window.scoreUrls(urls, extras)", [urls, extras]))
        if groups is None:
            return rows, None
        members: dict[str, list[int]] = {}
        for i, group in enumerate(groups):
            members.setdefault(group, []).append(i)
        probs = [r["probabilities"] if extras else r for r in rows]
        combined = page.evaluate("(groups) => window.combineGroups(groups)",
                                 [[probs[i] for i in rows_of] for rows_of in members.values()])
    per_image: list = [None] * len(paths)
    for rows_of, result in zip(members.values(), combined):
        for i in rows_of:
            per_image[i] = result
    return rows, per_image


def score_in_browser(model_dir: Path, paths: list[str], browser=None) -> np.ndarray:
    """Calibrated class probabilities (N x classes) for every image, computed in Chromium."""
    return np.asarray(_score(model_dir, paths, browser, False)[0], dtype=np.float64)


def browser_outputs(model_dir: Path, paths: list[str], browser=None,
                    groups: list[str] | None = None) -> dict[str, np.ndarray]:
    """Probabilities, OOD distances, class activation maps (N, h, w, classes) and, from a model with a decoder, the
    outline (N, size, size), computed in Chromium; with ``groups`` (a lesion id per image) also ``combined``: each
    image's lesion's combined probabilities."""
    rows, combined = _score(model_dir, paths, browser, True, groups)
    out = {"probabilities": np.asarray([r["probabilities"] for r in rows], dtype=np.float64),
           "ood_distance": np.asarray([np.nan if r["ood"] is None else r["ood"] for r in rows], dtype=np.float64),
           "cams": np.stack([np.reshape(r["cams"], r["shape"]) for r in rows])}
    if rows and rows[0].get("outline"):
        out["outline"] = np.stack([np.reshape(r["outline"]["data"], (r["outline"]["size"],) * 2) for r in rows])
    if combined is not None:
        out["combined"] = np.asarray(combined, dtype=np.float64)
    return out
