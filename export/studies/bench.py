"""python -m export.studies.bench --out FILE.json: in-browser speed, size and memory of the shipped model.

Drives the *built* site in headless Chromium for each TF.js backend that starts (wasm, webgl, cpu), and
times a reference in the same run through the same page and code: the stock MobileNetV2 alpha 1.0 at
224x224, float32 (random weights; timing does not depend on them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from build import build
from export.browser import Link, launch_options, serve
from export.tfjs import convert_model, deployable_model, model_file_digests, output_nodes, weight_bytes

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("wasm", "webgl", "cpu")
IMAGE = ROOT / "tests" / "fixtures" / "ham10000" / "images" / "ISIC_0024309.jpg"
WARM_RUNS = 30
# A clinician's phone on a poor mobile connection (Chrome DevTools' "Slow 3G"-like download, a typical RTT).
SLOW_NETWORK = {"down_mbit_s": 1.6, "round_trip_ms": 150}

# Timing waits until the service worker has precached the build (or 60 s): its install, started once the
# model is ready, would otherwise compete with the first warm runs for the CPU.
TIME_CLASSIFY = """async ([url, runs]) => {
  if (navigator.serviceWorker) {
    await Promise.race([navigator.serviceWorker.ready, new Promise((done) => setTimeout(done, 60000))]);
  }
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    await window.lesionlens.classify(bitmap);
    times.push(performance.now() - t0);
  }
  const mem = window.lesionlens.tf.memory();
  return {times, heap: performance.memory ? performance.memory.usedJSHeapSize : null,
          tf_bytes: mem.numBytes, tf_tensors: mem.numTensors, backend: window.lesionlens.backend};
}"""


def reference_model(work: Path, shipped_metadata: dict) -> Path:
    """Stock MobileNetV2 1.0 @ 224 + the same head and outputs (CAM, OOD score, the outline), float32, exported as the
    shipped model is (export.tfjs.deployable_model), with metadata the page accepts. Random weights and OOD
    statistics of the shipped shapes: timing does not depend on their values. The batch norms and the head's
    bias get random values too, as a trained network's are: a freshly built one's are an identity and zeros,
    which the converter drops, leaving the reference a graph (and a speed) no trained model has."""
    import keras
    import numpy as np

    from train.model.explained import OOD_LAYER
    from train.model.network import BACKBONE_NAME, build_classifier
    from train.segmentation.decoder import build_decoder

    out = work / "reference_model"
    classifier = build_classifier(1.0, 224, None, "keras")
    rng = np.random.default_rng(0)
    for layer in classifier.get_layer(BACKBONE_NAME).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n),
                               rng.uniform(0.5, 1.5, n)])
    head = classifier.get_layer("logits")
    head.bias.assign(rng.normal(0, 0.1, head.bias.shape))
    statistics = 2 * classifier.get_layer(BACKBONE_NAME).get_layer(OOD_LAYER).output.shape[-1]
    components = shipped_metadata["ood"]["components"]
    ood = {"projection": np.zeros((statistics, components), np.float32),
           "centres": np.zeros((len(shipped_metadata["classes"]), components), np.float32)}
    # the shipped graph's outline branch too, when it has one: the same kernels, random weights as above
    outline = build_decoder(classifier) if "outline" in shipped_metadata["outputs"] else None
    if outline is not None:
        outline.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in outline.get_weights()])
    convert_model(deployable_model(classifier, ood, outline), out, "float32")
    metadata = {**shipped_metadata, "preprocessing": {**shipped_metadata["preprocessing"], "size": 224},
                "quantization": "float32", "model_version": "reference-mobilenetv2-1.0-224",
                "outputs": output_nodes(out), "sha256": model_file_digests(out), "model_bytes": weight_bytes(out)}
    (out / "metadata.json").write_text(json.dumps(metadata))
    return out


def measure(browser, base: str, backend: str) -> dict | None:
    """Cold load (fresh context, no cache) then first and warm inference; None if the backend won't start."""
    context = browser.new_context()
    page = context.new_page()
    sizes: list[tuple[str, int]] = []
    # Content-Length as served: CDP's body sizes are missing (-1) for fetch() responses of the model files.
    page.on("response", lambda r: sizes.append((r.url, int(r.headers.get("content-length", 0)))))
    start = time.perf_counter()
    page.goto(f"{base}index.html?backend={backend}")
    try:
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    except Exception:  # noqa: BLE001 - a backend that cannot start in this browser is reported as absent
        context.close()
        return None
    ready_ms = (time.perf_counter() - start) * 1000
    page_bytes = sum(n for _, n in sizes)
    model_bytes = sum(n for url, n in sizes if "/model/" in url)
    runs = page.evaluate(TIME_CLASSIFY, ["__bench__/image.jpg", WARM_RUNS])
    context.close()
    warm = sorted(runs["times"][1:])
    return {"backend": runs["backend"], "ready_ms": round(ready_ms, 1), "page_bytes": page_bytes,
            "model_bytes_downloaded": model_bytes, "first_inference_ms": round(runs["times"][0], 2),
            "warm_median_ms": round(statistics.median(warm), 2),
            "warm_p95_ms": round(warm[min(len(warm) - 1, int(0.95 * len(warm)))], 2),
            "js_heap_bytes": runs["heap"], "tf_memory_bytes": runs["tf_bytes"], "tf_tensors": runs["tf_tensors"]}


def first_visit_on_a_slow_network(browser, dist: Path, routes: dict[str, Path]) -> dict:
    """A first visit (fresh profile, nothing cached) over ``SLOW_NETWORK``: time until the model is ready and
    until the first result is on screen (a photo chosen as soon as the page is ready). The server shapes every
    response, so the service worker's precaching competes for the same bandwidth as on a real first visit;
    ``transfer_floor_ms`` (bytes sent by then / bandwidth) checks that nothing bypassed the slow link."""
    link = Link(SLOW_NETWORK["down_mbit_s"] * 1e6 / 8, SLOW_NETWORK["round_trip_ms"] / 1000)
    with serve(dist, routes=routes, link=link) as base:
        context = browser.new_context()
        page = context.new_page()
        start = time.perf_counter()
        page.goto(f"{base}index.html", wait_until="commit")
        page.wait_for_selector("body[data-ready=true]", timeout=600_000)
        ready_ms = (time.perf_counter() - start) * 1000
        page.set_input_files("#file-input", str(IMAGE))
        page.locator(".result").first.wait_for(timeout=600_000)
        shown_ms = (time.perf_counter() - start) * 1000
        sent = link.bytes_sent
        context.close()
    floor_ms = sent / link.bytes_per_second * 1000
    return {**SLOW_NETWORK, "ms_to_ready": round(ready_ms), "ms_to_first_result": round(shown_ms),
            "bytes_sent_by_then": sent, "transfer_floor_ms": round(floor_ms),
            "throttling_covered_every_download": shown_ms >= floor_ms}


def summarise(per_backend: dict, model_dir: Path) -> dict:
    started = {k: v for k, v in per_backend.items() if v}
    first = next(iter(started.values()))
    return {"model_bytes": weight_bytes(model_dir),
            "page_bytes": first["page_bytes"], "ready_ms": first["ready_ms"],
            "first_inference_ms": first["first_inference_ms"], "backend_used": first["backend"],
            "backends": per_backend}


def run(out: Path, site_model: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dist = build(work / "dist")
        shipped_metadata = json.loads((site_model / "metadata.json").read_text())
        reference = reference_model(work, shipped_metadata)
        models = {"shipped": site_model, "reference": reference}
        results: dict = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(**launch_options())
            for name, model_dir in models.items():
                routes = {"/model/": model_dir.resolve(), "/__bench__/image.jpg": IMAGE}
                with serve(dist, routes=routes) as base:
                    per_backend = {b: measure(browser, base, b) for b in BACKENDS}
                results[name] = summarise(per_backend, model_dir)
            results["shipped"]["first_visit_slow_network"] = first_visit_on_a_slow_network(
                browser, dist, {"/model/": site_model.resolve()})
            version = browser.version
            browser.close()
    used = results["shipped"]["backend_used"]
    ref = results["reference"]["backends"].get(used)
    results.update({
        "ratio_to_reference": round(results["shipped"]["backends"][used]["warm_median_ms"] / ref["warm_median_ms"], 3),
        "backend_used": used, "browser_version": version, "warm_runs": WARM_RUNS,
        "reference_model": "MobileNetV2 alpha 1.0, 224x224, float32, random weights, same 7-class head",
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


def print_table(results: dict) -> None:
    print(f"{'model':<10} {'backend':<7} {'ready ms':>9} {'first ms':>9} {'warm median':>12} {'warm p95':>9} {'model bytes':>12}")
    for name in ("shipped", "reference"):
        r = results[name]
        for backend, m in r["backends"].items():
            if m is None:
                print(f"{name:<10} {backend:<7} {'did not start':>9}")
                continue
            print(f"{name:<10} {backend:<7} {m['ready_ms']:>9.0f} {m['first_inference_ms']:>9.1f} "
                  f"{m['warm_median_ms']:>12.2f} {m['warm_p95_ms']:>9.2f} {r['model_bytes']:>12,}")
    print(f"ratio_to_reference ({results['backend_used']} warm median): {results['ratio_to_reference']}  "
          f"Chromium {results['browser_version']}")
    slow = results["shipped"]["first_visit_slow_network"]
    print(f"first visit at {slow['down_mbit_s']} Mbit/s, {slow['round_trip_ms']} ms round trip: ready after "
          f"{slow['ms_to_ready'] / 1000:.1f} s, first result after {slow['ms_to_first_result'] / 1000:.1f} s "
          f"({slow['bytes_sent_by_then']:,} bytes sent by then, at least {slow['transfer_floor_ms'] / 1000:.1f} s "
          "on this link)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.studies.bench", description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--site-model", type=Path, default=ROOT / "site" / "model")
    args = p.parse_args(argv)
    if not (args.site_model / "metadata.json").is_file():
        print(f"error: {args.site_model / 'metadata.json'} not found; export a model first.", file=sys.stderr)
        return 2
    print_table(run(args.out, args.site_model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
