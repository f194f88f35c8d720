"""python -m train.studies.tta --model DIR --out FILE.json: is test-time augmentation worth it? Measured on validation.

For 1, 2, 4 and 8 views (the symmetries of the square, logits averaged) the calibration is refitted on the
validation split and its balanced accuracy / macro AUC recorded. In-browser cost is estimated as views x
the shipped model's warm median from the benchmark (``--bench``). The rule: TTA is switched on only for a
view count that gains >= 0.005 balanced accuracy over one view *and* stays within the latency budget (the
reference model's warm median, the budget ``export.studies.bench`` checks). Switching it on would also need the
browser's classify() to average the same views; it runs one view whatever the rule picks, and the model
card says so when the rule picks more.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from train.calibration.calibrate import calibrate, training_prior
from train.cli import add_run_arguments, reports_data_errors
from train.data.loading import CLASSES
from train.model.fit import validation_metrics
from train.model.predict import VIEW_SETS, load_run, logits_by_view, split_frame

MIN_GAIN = 0.005


def decide(rows: list[dict], budget_ms: float | None) -> int:
    base = next(r for r in rows if r["views"] == 1)["balanced_accuracy"]
    eligible = [r for r in rows if r["views"] > 1 and r["balanced_accuracy"] - base >= MIN_GAIN
                and budget_ms is not None and r["estimated_ms"] is not None and r["estimated_ms"] <= budget_ms]
    return max(eligible, key=lambda r: r["balanced_accuracy"])["views"] if eligible else 1


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.tta", description=__doc__)
    add_run_arguments(p)
    p.add_argument("--bench", type=Path, default=Path("reports/bench.json"))
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    run = load_run(args.model)
    frame = split_frame(run, args.data)
    bench = json.loads(args.bench.read_text()) if args.bench.is_file() else None
    single_ms = budget_ms = None
    if bench:
        used = bench["backend_used"]
        single_ms = bench["shipped"]["backends"][used]["warm_median_ms"]
        budget_ms = bench["reference"]["backends"][used]["warm_median_ms"]
    val = frame[frame["split"] == "val"]
    y_val = val["label"].to_numpy()
    prior = training_prior(np.bincount(frame.loc[frame["split"] == "train", "label"], minlength=len(CLASSES)),
                           run.config["imbalance"])
    per_view = logits_by_view(run, val["path"].tolist(), VIEW_SETS[8])
    rows = []
    for n, names in VIEW_SETS.items():
        logits = np.mean([per_view[v] for v in names], axis=0)
        calibration = calibrate(logits, y_val, prior, run.config.get("min_sensitivity", 0.9),
                                run.config.get("melanoma_floor"))
        metrics = validation_metrics(logits, y_val, calibration)
        rows.append({"views": n, "names": list(names), "balanced_accuracy": metrics["balanced_accuracy"],
                     "macro_auc": metrics["macro_auc"], "prior_strength": calibration["prior_strength"],
                     "estimated_ms": round(n * single_ms, 1) if single_ms else None})
    report = {"n_val": len(val), "rows": rows, "latency_budget_ms": budget_ms, "single_view_ms": single_ms,
              "min_gain": MIN_GAIN, "chosen_views": decide(rows, budget_ms),
              "rule": "on only if balanced accuracy gains >= 0.005 over one view and views x warm median <= "
                      "the reference model's warm median (reports/bench.json)"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for r in rows:
        print(f"{r['views']} views: val balanced accuracy {r['balanced_accuracy']:.4f}, macro AUC {r['macro_auc']:.4f}, "
              f"~{r['estimated_ms']} ms")
    print(f"chosen: {report['chosen_views']} view(s) (budget {budget_ms} ms) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
