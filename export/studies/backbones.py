"""python -m export.studies.backbones RUN... --shipped RUN --out DIR: backbone candidates side by side.

For each training run (``python -m train`` output): validation balanced accuracy and macro AUC (same split,
seed and calibration rule), weight bytes after the shipped quantization, warm in-browser latency (WASM,
the built site, same page and code as ``export.studies.bench``), and CPU training time. Writes
OUT/backbones.{json,md} and OUT/pareto.png (accuracy against latency).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from build import build
from export.browser import launch_options, serve
from export.metadata import build_metadata
from export.studies.bench import IMAGE, measure
from export.tfjs import convert_run, weight_bytes
from train.data.loading import DataError

MAX_GAP = 0.01  # the shipped model must be within this of the best candidate's balanced accuracy


def candidate_name(config: dict, short: bool = False) -> str:
    """'MobileNetV2 alpha A @S' plus what sets the run apart; ``short`` for the figure's key ('A @S ...')."""
    if not config.get("fine_tune_epochs"):
        kind = " (TM)" if short else " frozen + dense head (Teachable-Machine style)"
    else:
        kind = (" mask-guided" if short else ", lesion-mask guided") if config.get("mask_weight") else ""
        if short:  # the key has no recipe column to tell same-size runs apart
            kind += f" from {config.get('fine_tune_from') or 'layer 1'}" + (f", seed {config['seed']}" if "seed" in config else "")
    return f"{'' if short else 'MobileNetV2 alpha '}{config['alpha']} @{config['size']}{kind}"


def recipe(config: dict, epochs_run: int | None = None) -> str:
    """How the run was fine-tuned; runs from before an option existed read as without it (plateau schedule,
    no EMA, no mask guidance, checkpoint on raw balanced accuracy)."""
    if not config.get("fine_tune_epochs"):
        return f"head only, {config['head_epochs']} epochs"
    schedule = config.get("schedule", "plateau") + (" + weight EMA" if config.get("ema") else "")
    if config.get("mask_weight"):
        schedule += f" + lesion-mask guidance {config['mask_weight']:g}"
    stopped = f" (early-stopped after {epochs_run})" if epochs_run and epochs_run < config["fine_tune_epochs"] else ""
    selected = ", checkpoint on corrected accuracy" if config.get("monitor") == "adjusted" else ""
    seed = f", seed {config['seed']}" if "seed" in config else ""
    return (f"from {config.get('fine_tune_from') or 'the first layer'}, {schedule}, "
            f"{config['fine_tune_epochs']} epochs{stopped}{selected}{seed}")


def run_record(run: Path) -> dict:
    try:
        config = json.loads((run / "config.json").read_text())
        metrics = json.loads((run / "val_metrics.json").read_text())
        timings = json.loads((run / "timings.json").read_text())
    except FileNotFoundError as err:
        raise DataError(f"{run} is not a finished training run ({err.filename} missing).") from err
    return {"run": str(run), "name": candidate_name(config), "label": candidate_name(config, short=True), "alpha": config["alpha"], "size": config["size"],
            "fine_tune_epochs": config["fine_tune_epochs"], "recipe": recipe(config, timings.get("fine_tune_epochs_run")),
            "val_balanced_accuracy": metrics["balanced_accuracy"],
            "val_macro_auc": metrics["macro_auc"], "training_minutes": timings["total_seconds"] / 60,
            # A run that loaded phase 1 from an earlier identical run did not time it.
            "head_timed": "head_seconds" in timings or not config["head_epochs"],
            "fine_tune_images_per_second": timings.get("fine_tune_images_per_second")}


def training_time(row: dict) -> str:
    minutes = f"{row['training_minutes']:.0f} min"
    return minutes if row["head_timed"] else f"{minutes} + phase 1 (resumed, not timed)"


def measure_candidates(rows: list[dict], quantization: str) -> None:
    """Adds model_bytes and warm_median_ms (WASM) to every row, in one browser session."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        dist = build(Path(tmp) / "dist")
        browser = p.chromium.launch(**launch_options())
        for i, row in enumerate(rows):
            model_dir = Path(tmp) / f"candidate{i}"
            convert_run(Path(row["run"]), model_dir, quantization)
            (model_dir / "metadata.json").write_text(json.dumps(build_metadata(Path(row["run"]), model_dir, quantization, None)))
            with serve(dist, routes={"/model/": model_dir, "/__bench__/image.jpg": IMAGE}) as base:
                timing = measure(browser, base, "wasm")
            row.update(model_bytes=weight_bytes(model_dir), warm_median_ms=timing["warm_median_ms"],
                       warm_p95_ms=timing["warm_p95_ms"], backend=timing["backend"])
            print(f"{row['name']}: val balanced accuracy {row['val_balanced_accuracy']:.4f}, "
                  f"{row['model_bytes']:,} bytes, {row['warm_median_ms']:.1f} ms", flush=True)
        browser.close()


def pareto_figure(rows: list[dict], shipped: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # The key gets its own panel: inside the axes it hid whichever points fell under it.
    fig, (ax, key_panel) = plt.subplots(1, 2, figsize=(10, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    front = pareto_front(rows)
    # Points are numbered and named in a key: runs of one architecture sit too close for labels beside them.
    key = []
    for number, r in enumerate(rows, 1):
        ax.scatter(r["warm_median_ms"], r["val_balanced_accuracy"], s=30 + r["model_bytes"] / 4e4,
                   color="tab:red" if r is shipped else ("tab:blue" if r in front else "tab:gray"), alpha=0.8)
        ax.annotate(str(number), (r["warm_median_ms"], r["val_balanced_accuracy"]), fontsize=8,
                    textcoords="offset points", xytext=(5, 5))
        key.append(f"{number}: {r['label']}, {r['model_bytes'] / 1e6:.1f} MB, {training_time(r)}")
    key_panel.axis("off")
    key_panel.text(0, 0.5, "\n".join(key), fontsize=7, ha="left", va="center", transform=key_panel.transAxes)
    ordered = sorted(front, key=lambda r: r["warm_median_ms"])
    ax.plot([r["warm_median_ms"] for r in ordered], [r["val_balanced_accuracy"] for r in ordered], "--", color="tab:blue",
            label="Pareto front")
    ax.set_xlabel("warm in-browser latency, WASM median (ms)")
    ax.set_ylabel("validation balanced accuracy")
    ax.set_title("MobileNetV2 alpha @ input size (marker area ~ weight bytes; red: shipped)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def pareto_front(rows: list[dict]) -> list[dict]:
    """Candidates no other candidate beats on both accuracy and latency."""
    return [r for r in rows if not any(o["val_balanced_accuracy"] > r["val_balanced_accuracy"]
                                       and o["warm_median_ms"] <= r["warm_median_ms"] for o in rows)]


def decision(rows: list[dict], shipped: dict, budget_ms: float | None = None) -> str:
    best = max(rows, key=lambda r: r["val_balanced_accuracy"])
    gap = best["val_balanced_accuracy"] - shipped["val_balanced_accuracy"]
    fastest = min(rows, key=lambda r: r["warm_median_ms"])
    text = (f"{shipped['name']} ships: validation balanced accuracy {shipped['val_balanced_accuracy']:.4f}, "
            + ("the best of the candidates" if gap <= 0 else
               f"{gap:.4f} below the best ({best['name']}; up to {MAX_GAP} is given for its recipe: {shipped['recipe']})")
            + f", {shipped['model_bytes']:,} weight bytes, {shipped['warm_median_ms']:.1f} ms warm in the browser.")
    if fastest is not shipped:
        text += (f" The fastest, {fastest['name']} ({fastest['warm_median_ms']:.1f} ms), gives up "
                 f"{shipped['val_balanced_accuracy'] - fastest['val_balanced_accuracy']:.4f} balanced accuracy.")
    if budget_ms is not None:
        over = [r["name"] for r in rows if r["warm_median_ms"] > budget_ms]
        text += (f" Latency budget (the reference MobileNetV2 1.0 @224 float32, {budget_ms:.1f} ms): "
                 + (f"exceeded by {', '.join(over)}." if over else "every candidate is within it."))
    return text


def markdown(rows: list[dict], text: str) -> str:
    lines = ["| candidate | fine-tuning | run | val balanced accuracy | val macro AUC | weight bytes "
             "| warm WASM median (ms) | CPU training | fine-tune images/s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ips = f"{r['fine_tune_images_per_second']:.1f}" if r["fine_tune_images_per_second"] else "-"
        lines.append(f"| {r['name']} | {r['recipe']} | {r['run']} | {r['val_balanced_accuracy']:.4f} | {r['val_macro_auc']:.4f} "
                     f"| {r['model_bytes']:,} | {r['warm_median_ms']:.1f} | {training_time(r)} | {ips} |")
    return "# Backbone comparison (validation split)\n\n" + "\n".join(lines) + f"\n\n{text}\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.studies.backbones", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="training run folders (the shipped one included)")
    p.add_argument("--shipped", type=Path, default=Path("models/ham10000"))
    p.add_argument("--quantization", default=None, help="default: the shipped model's (site/model/metadata.json)")
    p.add_argument("--bench", type=Path, default=Path("reports/bench.json"),
                   help="benchmark whose reference warm median is the latency budget")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        rows = [run_record(r) for r in args.runs]
        shipped = next((r for r in rows if Path(r["run"]).resolve() == args.shipped.resolve()), None)
        if shipped is None:
            raise DataError(f"The shipped run {args.shipped} is not among the runs given.")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    quantization = args.quantization or json.loads(Path("site/model/metadata.json").read_text())["quantization"]
    measure_candidates(rows, quantization)
    budget_ms = None
    if args.bench.is_file():
        bench = json.loads(args.bench.read_text())
        budget_ms = bench["reference"]["backends"]["wasm"]["warm_median_ms"]
    text = decision(rows, shipped, budget_ms)
    best = max(r["val_balanced_accuracy"] for r in rows)
    report = {"rows": rows, "shipped": shipped["run"], "quantization": quantization, "decision": text,
              "latency_budget_ms": budget_ms,
              "shipped_within_of_best": best - shipped["val_balanced_accuracy"] <= MAX_GAP, "max_gap": MAX_GAP}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backbones.json").write_text(json.dumps(report, indent=2))
    (args.out / "backbones.md").write_text(markdown(rows, text))
    pareto_figure(rows, shipped, args.out / "pareto.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
