"""python -m export.studies.quantization_test --out FILE.json: the shipped weights on the test split.

The uint8 layers of a mixed export are chosen on validation (export/mixed.py), so validation flatters them.
This scores the shipped TF.js model and a float16 export of the same run in Chromium on the test split, in
both conditions (200x150 copies; sharp crops), against the Keras model: top-1 and referral-decision agreement,
balanced accuracy against float16's, and the share of test images the "not a lesion" guard turns away.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from export.metadata import build_metadata
from export.mixed import MIN_REFERRAL_AGREEMENT, MIN_TOP1_AGREEMENT
from export.quantization import score_export, split_conditions
from export.tfjs import convert_run
from train.cli import reports_data_errors
from train.evaluation.evaluate import keras_probabilities

CHECKS = {"top1_agreement": MIN_TOP1_AGREEMENT, "referral_agreement": MIN_REFERRAL_AGREEMENT}  # the shipping rule's
MAX_BALANCED_ACCURACY_CHANGE = 0.005  # against the float16 export
MAX_GUARD_CHANGE = 0.005  # share of images turned away, against float16


def checks(shipped: dict, float16: dict) -> dict[str, bool]:
    """Which of the bars the shipped export's figures in one condition meet."""
    result = {name: shipped[name] >= bar for name, bar in CHECKS.items()}
    result["balanced_accuracy_within_0.005_of_float16"] = bool(
        abs(shipped["balanced_accuracy"] - float16["balanced_accuracy"]) <= MAX_BALANCED_ACCURACY_CHANGE)
    if "guard_rejects" in shipped:
        result["guard_within_0.5_points_of_float16"] = bool(
            abs(shipped["guard_rejects"] - float16["guard_rejects"]) <= MAX_GUARD_CHANGE)
    return result


def summary(report: dict) -> list[str]:
    """One line per condition, then the verdict."""
    lines = []
    for c, s in report["scores"]["shipped"].items():
        f = report["scores"]["float16"][c]
        lines.append(f"{c} ({s['n_images']} test images): top-1 agreement {s['top1_agreement']:.4f}, referral agreement "
                     f"{s['referral_agreement']:.4f}, max |dp| {s['max_abs_diff']:.4f}, balanced accuracy "
                     f"{s['balanced_accuracy']:.4f} (float16 {f['balanced_accuracy']:.4f}), guard turns away "
                     f"{s.get('guard_rejects', float('nan')):.2%} (float16 {f.get('guard_rejects', float('nan')):.2%})")
    return [*lines, f"{'passes' if report['passes'] else 'FAILS'} the test-split bars"]


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.studies.quantization_test", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training run folder")
    p.add_argument("--site-model", type=Path, default=Path("site/model"), help="the shipped TF.js model")
    p.add_argument("--data", type=Path, default=None, help="HAM10000 folder (default: the run's)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    conditions = split_conditions(args.model, args.data, "test")
    threshold = json.loads((args.model / "calibration.json").read_text())["operating_point"]["threshold"]
    keras = {name: keras_probabilities(args.model, paths)[0] for name, (paths, _) in conditions.items()}
    shipped_metadata = json.loads((args.site_model / "metadata.json").read_text())
    guard = (shipped_metadata.get("ood") or {}).get("threshold")
    with tempfile.TemporaryDirectory() as tmp:
        float16_dir = Path(tmp) / "float16"
        convert_run(args.model, float16_dir, "float16")
        (float16_dir / "metadata.json").write_text(json.dumps(build_metadata(args.model, float16_dir, "float16", None)))
        scored = {name: {c: score_export(model_dir, conditions[c], keras[c], threshold, guard) for c in conditions}
                  for name, model_dir in (("shipped", args.site_model), ("float16", float16_dir))}
    report = {"shipped_quantization": shipped_metadata["quantization"], "model_bytes": shipped_metadata["model_bytes"],
              "uint8_layers": shipped_metadata.get("uint8_layers", []), "scores": scored,
              "checks": {c: checks(scored["shipped"][c], scored["float16"][c]) for c in conditions}}
    report["passes"] = all(all(c.values()) for c in report["checks"].values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print("\n".join(summary(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
