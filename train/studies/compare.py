"""python -m train.studies.compare RUN_DIR... --out FILE.md: validation results of training runs side by side.

Reads each run's config.json, val_metrics.json, calibration.json (the malignancy operating point's
specificity) and timings.json, as written by ``python -m train``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from train.data.loading import DataError

CONFIG_KEYS = ("alpha", "size", "imbalance", "fine_tune_from", "head_epochs", "fine_tune_epochs", "fine_tune_lr",
               "schedule")


def run_row(run: Path) -> dict:
    try:
        config = json.loads((run / "config.json").read_text())
        metrics = json.loads((run / "val_metrics.json").read_text())
    except FileNotFoundError as err:
        raise DataError(f"{run} is not a finished training run ({err.filename} missing).") from err
    timings_file = run / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    calibration_file = run / "calibration.json"
    point = json.loads(calibration_file.read_text())["operating_point"] if calibration_file.is_file() else {}
    return {"run": str(run), **{k: config.get(k) for k in CONFIG_KEYS},
            "val_balanced_accuracy": metrics["balanced_accuracy"], "val_macro_auc": metrics["macro_auc"],
            "val_accuracy": metrics["accuracy"], "val_mel_recall": metrics["per_class"]["mel"]["recall"],
            "val_malignant_specificity": point.get("validation_specificity"),
            "fine_tune_epochs_run": timings.get("fine_tune_epochs_run"),
            "fine_tune_images_per_second": timings.get("fine_tune_images_per_second")}


def markdown(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    best = max(rows, key=lambda r: r["val_balanced_accuracy"])
    return "\n".join(lines) + f"\n\nBest validation balanced accuracy: {best['run']} ({best['val_balanced_accuracy']:.4f}).\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.compare", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--title", default="Training runs on the validation split")
    args = p.parse_args(argv)
    try:
        rows = [run_row(r) for r in args.runs]
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = f"# {args.title}\n\n" + markdown(rows)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
