"""Render templates/ + site/ into a deployable static folder (dist/ by default); --serve serves it.

Every URL in the output is relative, so the folder works at / and under a sub-path (GitHub Pages).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parent
PAGES = ("index.html", "history.html", "classes.html", "model-card.html", "privacy.html")
# ES-module entry point of a page -> the classic-script bundle its page runs when opened from file://
FILE_BUNDLES = {"app.js": "app.file.js", "history.js": "history.file.js"}
REPORTS = ROOT / "reports"
# evaluation conditions `make reports` writes under reports/test/<runtime>/, and how the pages name them
CONDITIONS = {"low": "200x150 copies", "sharp": "sharp crops", "external": "other clinics (ISIC Archive)"}
# (report file, caption) shown on the model card when present
FIGURES = (
    ("test/browser/low/confusion_matrix.png", "Confusion matrix on the test split, 200x150 copies (shipped model, in the browser)"),
    ("test/browser/sharp/confusion_matrix.png", "Confusion matrix on the test split, sharp 224 px crops of the originals (in the browser)"),
    ("test/browser/low/classification_report.png", "Per-class precision, recall, F1 and AUC on the test split, 200x150 copies"),
    ("test/browser/sharp/classification_report.png", "Per-class precision, recall, F1 and AUC on the test split, sharp crops"),
    ("training/learning_curve.png", "Learning curve of the shipped run: loss, validation balanced accuracy and learning rate per epoch"),
    ("eda/class_distribution.png", "HAM10000 class distribution: two thirds of the images are nevi"),
    ("eda/localization_by_class.png", "Body site by class in the training data"),
    ("explain/examples.png", "Heatmaps of the predicted class on test images, correct and wrong, with the lesion mask"),
    ("ood/ood_scores.png", "OOD distance of test lesions (both sources), transformed lesions and non-lesion images"),
    ("backbones/pareto.png", "Backbones: validation balanced accuracy against in-browser latency"),
    ("skin_tone/training_ita.png", "Skin tone (ITA) around the lesion in the training split, with the Del Bino groups"),
    ("segmentation/browser/low/worst_cases.png", "The lesion outline's worst test images, 200x150 copies, in the "
     "browser: HAM10000's mask (green) and the model's outline (magenta)"),
    ("segmentation/browser/sharp/worst_cases.png", "The lesion outline's worst test images, sharp crops, in the browser"),
)
# JSON reports the model card quotes when present (key -> file under reports/)
SUMMARIES = {"explain": "explain/explain.json", "ood": "ood/ood.json", "tta": "tta.json", "bench": "bench.json",
             "overfitting": "training/overfitting.json", "quantization_test": "quantization_test.json",
             "backbones": "backbones/backbones.json", "skin_segmentation": "skin_tone/segmentation.json",
             "context_validation": "context/validation.json"}


# Malignancy scores and the referral threshold, with the decimals the pages' scripts use (site/js/ui.js score()).
SCORE_DECIMALS = 3


def score_text(value: float) -> str:
    return f"{value:.{SCORE_DECIMALS}f}"


class BuildError(RuntimeError):
    pass


def known_site(sites: list[str]):
    """The body map's filter: a region's site must be one of the model's (HAM10000's localisation names), so
    that the map and the training data agree."""
    def check(name: str) -> str:
        if name not in sites:
            raise BuildError(f"the body map names the site {name!r}, which metadata.json's dataset.localizations "
                             f"lacks ({', '.join(sites)}): rename the region in templates/body-map.html.j2.")
        return name
    return check


SECTION = re.compile(r'<h2(?: id="([^"]+)")?>(.*?)</h2>', re.S)
CONTENTS_MARK = "<!-- contents -->"


def with_contents(html: str) -> str:
    """``html`` with a table of contents at its CONTENTS_MARK: a link to every <h2> after the mark, each given an id
    where it has none. The model card is dozens of screens on a phone; the contents follow its sections as they
    are rendered, optional ones included."""
    head, mark, tail = html.partition(CONTENTS_MARK)
    if not mark:
        return html
    links = []

    def anchor(match: re.Match) -> str:
        ident = match[1] or "section-" + re.sub(r"[^a-z0-9]+", "-", re.sub(r"&[^;]*;|<[^>]*>", "", match[2]).lower()).strip("-")
        links.append(f'<li><a href="#{ident}">{match[2]}</a></li>')
        return f'<h2 id="{ident}">{match[2]}</h2>'

    tail = SECTION.sub(anchor, tail)
    nav = (f'<nav class="contents" aria-labelledby="contents-heading"><p id="contents-heading"><strong>Contents</strong></p>'
           f'<ol>{"".join(links)}</ol></nav>')
    return head + nav + tail


def load_metadata(site: Path) -> dict:
    path = site / "model" / "metadata.json"
    if not path.is_file():
        raise BuildError(f"{path} not found: export a model first (python -m export), or restore site/model from git.")
    return json.loads(path.read_text())


def test_reports(reports: Path, shipped: dict | None = None) -> dict[str, dict]:
    """The shipped model's test-split metrics in each evaluation condition. ``shipped`` (metadata.json's
    metrics.test) names the evaluation export shipped, which the classify page and the printed report quote: the
    report with its figures is chosen, so that the model card quotes the same ones. Otherwise the browser
    evaluation, else the Keras one."""
    found = {}
    for condition in CONDITIONS:
        runs = [json.loads(path.read_text()) for runtime in ("browser", "keras")
                if (path := reports / "test" / runtime / condition / "metrics.json").is_file()]
        quoted = (shipped or {}).get(condition)
        same = [m for m in runs if quoted and all(m.get(k) == quoted.get(k) for k in ("n_images", "balanced_accuracy"))]
        if runs:
            found[condition] = (same or runs)[0]
    return found


def segmentation_reports(reports: Path) -> dict:
    """The outline's scores against HAM10000's masks (train.evaluation.segmentation) by runtime and condition, and
    the measures study (train.studies.lesion_measures) by condition, as `make segmentation` writes them."""
    folder = reports / "segmentation"
    scores = {runtime: {condition: json.loads(path.read_text()) for condition in CONDITIONS
                        if (path := folder / runtime / condition / "metrics.json").is_file()}
              for runtime in ("browser", "keras")}
    measures = {condition: json.loads(path.read_text()) for condition in CONDITIONS
                if (path := folder / f"measures_{condition}.json").is_file()}
    return {"scores": {k: v for k, v in scores.items() if v}, "measures": measures}


def summaries(reports: Path) -> dict[str, dict | None]:
    return {key: json.loads((reports / rel).read_text()) if (reports / rel).is_file() else None
            for key, rel in SUMMARIES.items()}


def consistency_trials(reports: Path) -> dict:
    """train.studies.paired's reports of the same-lesion consistency runs (make consistency-trials), by seed, and
    of their control (make pairs-only-trial)."""
    paired = reports / "paired"
    seeds = {int(path.stem.removeprefix("consistency-seed")): path for path in paired.glob("consistency-seed*.json")}
    trials = {f"seed {seed}": json.loads(seeds[seed].read_text()) for seed in sorted(seeds)}
    if trials and (control := paired / "pairs-only-seed7.json").is_file():
        trials["control: the same pairs, no pair term (seed 7)"] = json.loads(control.read_text())
    return {"n_seeds": len(seeds), "runs": trials} if trials else {}


def copy_figures(reports: Path, out: Path) -> list[dict]:
    figures = []
    for rel, caption in FIGURES:
        if (reports / rel).is_file():
            target = out / "reports" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(reports / rel, target)
            figures.append({"src": f"reports/{rel}", "alt": caption})
    return figures


FILE_MODE_ONLY = ("model/model-bundle.js", *(f"js/{bundle}" for bundle in FILE_BUNDLES.values()))
IMPORT_LINE = re.compile(r"^import \{[^}]*\} from '(\.\.?/[\w/-]+\.js)';\n", re.M)


def module_bundle(entry: Path) -> str:
    """The ES module ``entry`` and its relative imports as one classic script, for file:// pages (which
    refuse module scripts). Dependencies come first; import lines and ``export`` keywords are dropped."""
    ordered: list[Path] = []

    def visit(path: Path) -> None:
        for dep in IMPORT_LINE.findall(path.read_text()):
            if (path.parent / dep).resolve() not in ordered:
                visit((path.parent / dep).resolve())
        if path not in ordered:
            ordered.append(path)

    visit(entry.resolve())
    bodies = [re.sub(r"^export (?=(async |class |const |function ))", "", IMPORT_LINE.sub("", p.read_text()), flags=re.M)
              for p in ordered]
    guard = "if (location.protocol === 'file:') {\n"
    sources = ", ".join(p.relative_to(entry.resolve().parent).as_posix() for p in ordered)
    return f"// Generated by build.py from {sources}\n" + guard + "\n".join(bodies) + "}\n"


def model_bundle(model_dir: Path, metadata: dict) -> str:
    """metadata + model.json + base64 weights as a script, since file:// pages cannot fetch."""
    model_json = json.loads((model_dir / "model.json").read_text())
    paths = [p for group in model_json["weightsManifest"] for p in group["paths"]]
    weights = {p: base64.b64encode((model_dir / p).read_bytes()).decode() for p in paths}
    bundle = {"metadata": metadata, "modelJson": model_json, "weights": weights}
    return f"globalThis.LESIONLENS_MODEL_BUNDLE = {json.dumps(bundle)};\n"


def precache_list(out: Path) -> list[str]:
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return ["./", *(f for f in files if f not in FILE_MODE_ONLY and f != "sw.js")]


def build(out: Path, site: Path = ROOT / "site", templates: Path = ROOT / "templates",
          reports: Path = REPORTS) -> Path:
    """Copy the static assets and render every page; returns the output folder."""
    metadata = load_metadata(site)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(site, out, ignore=shutil.ignore_patterns("refresh.sh"))
    figures = copy_figures(reports, out)
    env = Environment(loader=FileSystemLoader(templates), autoescape=True, undefined=StrictUndefined)
    env.filters["score"] = score_text
    env.filters["condition"] = lambda name: CONDITIONS.get(name, name)
    env.filters["basename"] = lambda path: Path(path).name
    env.filters["site"] = known_site(metadata["dataset"]["localizations"])
    # inlined: the browser re-requests a linked icon on every in-page navigation (the history's views)
    favicon = "data:image/png;base64," + base64.b64encode((site / "icons" / "icon-192.png").read_bytes()).decode()
    results = test_reports(reports, (metadata.get("metrics") or {}).get("test"))
    context = {"metadata": metadata, "results": results, "figures": figures, "favicon": favicon,
               "skin_tone": {name: r["skin_tone"] for name, r in results.items() if "skin_tone" in r},
               "consistency": consistency_trials(reports), "segmentation": segmentation_reports(reports),
               **summaries(reports)}
    for page in PAGES:
        (out / page).write_text(with_contents(env.get_template(f"{page}.j2").render(**context)))
    (out / "model" / "model-bundle.js").write_text(model_bundle(site / "model", metadata))
    for entry, bundle in FILE_BUNDLES.items():
        (out / "js" / bundle).write_text(module_bundle(site / "js" / entry))
    files = precache_list(out)
    digest = hashlib.sha256(b"".join((out / f).read_bytes() for f in files[1:])).hexdigest()
    cache_name = f"lesionlens-{metadata['weights_sha256'][:12]}-{digest[:12]}"
    (out / "sw.js").write_text(env.get_template("sw.js.j2").render(cache_name=cache_name, files=files))
    return out


SCREENSHOT_PHOTO = ROOT / "tests" / "fixtures" / "ham10000" / "images" / "ISIC_0024323.jpg"


def screenshot(site: Path, out: Path, photo: Path = SCREENSHOT_PHOTO) -> Path:
    """A PNG of the built classify page with one fixture photo classified (the README's picture)."""
    from playwright.sync_api import sync_playwright

    from export.browser import launch_options, serve

    with serve(site) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        page = browser.new_page(viewport={"width": 1100, "height": 1500})
        page.goto(url + "index.html")
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        page.set_input_files("#file-input", str(photo))
        page.locator(".result").wait_for()
        out.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".result").first.screenshot(path=str(out))
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python build.py", description=__doc__)
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    p.add_argument("--serve", action="store_true", help="serve the built folder on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--screenshot", type=Path, default=None, metavar="PNG",
                   help="also save a picture of the classify page with a fixture photo classified (docs/classify-page.png)")
    args = p.parse_args(argv)
    try:
        out = build(args.out)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"built {out}")
    if args.screenshot:
        print(f"screenshot {screenshot(out, args.screenshot)}")
    if args.serve:
        from export.browser import serve

        with serve(out, port=args.port) as url:
            print(f"serving {out} at {url} (Ctrl+C to stop)", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
