"""python -m export: trained Keras model -> TF.js graph model + metadata.json in the site's model folder.

With --quantize auto (the default) float32, float16 and uint8 exports are all scored in Chromium on the
validation split. The smallest ships whose balanced accuracy drops <= 0.005 and macro AUC <= 0.002 versus
float32 *and* which still agrees with the Keras model image by image (top-1 >= 99%, every probability
within 0.02): a model whose aggregate metrics hold but whose individual answers drift from the validated
model is not the model that was validated. The comparison goes to REPORTS/quantization.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from export.metadata import build_metadata
from export.tfjs import (
    QUANTIZATIONS,
    ExportError,
    convert_run,
    copy_model,
    weight_bytes,
)
from train.cli import named_path
from train.data.loading import CLASSES, DataError, load_labelled_images
from train.evaluation.metrics import classification_metrics

MAX_BALANCED_ACCURACY_DROP = 0.005
MAX_AUC_DROP = 0.002
MIN_TOP1_AGREEMENT = 0.99
MAX_PROBABILITY_DIFF = 0.02


def compare_quantizations(train_dir: Path, images: list[str], labels, workdir: Path) -> list[dict]:
    from export.browser_scoring import score_in_browser
    from export.parity import agreement
    from train.evaluation.evaluate import keras_probabilities

    keras_probs, _ = keras_probabilities(train_dir, images)
    rows = []
    for name in QUANTIZATIONS:
        out = workdir / name
        convert_run(train_dir, out, name)
        (out / "metadata.json").write_text(json.dumps(build_metadata(train_dir, out, name, None)))
        probs = score_in_browser(out, images)
        metrics = classification_metrics(labels, probs, CLASSES)
        match = agreement(keras_probs, probs)
        rows.append({"quantization": name, "model_bytes": weight_bytes(out),
                     "balanced_accuracy": metrics["balanced_accuracy"], "macro_auc": metrics["macro_auc"],
                     "accuracy": metrics["accuracy"], "n_images": metrics["n_images"],
                     "top1_agreement_with_keras": match["top1_agreement"],
                     "max_abs_diff_vs_keras": match["max_abs_diff"]})
        print(f"{name}: {rows[-1]['model_bytes']} bytes, balanced accuracy {metrics['balanced_accuracy']:.4f}, "
              f"macro AUC {metrics['macro_auc']:.4f}, top-1 agreement with Keras "
              f"{rows[-1]['top1_agreement_with_keras']:.4f}, max |dp| {rows[-1]['max_abs_diff_vs_keras']:.4f}", flush=True)
    return rows


def choose_quantization(rows: list[dict]) -> str:
    """Smallest export within the allowed metric drops versus float32 that still agrees with Keras."""
    ref = next(r for r in rows if r["quantization"] == "float32")
    ok = [r for r in rows if ref["balanced_accuracy"] - r["balanced_accuracy"] <= MAX_BALANCED_ACCURACY_DROP
          and ref["macro_auc"] - r["macro_auc"] <= MAX_AUC_DROP
          and r["top1_agreement_with_keras"] >= MIN_TOP1_AGREEMENT
          and r["max_abs_diff_vs_keras"] <= MAX_PROBABILITY_DIFF]
    if not ok:
        raise ExportError("No quantization (not even float32) matches the Keras model in the browser; "
                          "check preprocessing parity before shipping.")
    return min(ok, key=lambda r: r["model_bytes"])["quantization"]


def write_quantization_report(rows: list[dict], chosen: str, reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "quantization.json").write_text(json.dumps({"chosen": chosen, "rule": {
        "max_balanced_accuracy_drop": MAX_BALANCED_ACCURACY_DROP, "max_macro_auc_drop": MAX_AUC_DROP,
        "min_top1_agreement_with_keras": MIN_TOP1_AGREEMENT, "max_abs_diff_vs_keras": MAX_PROBABILITY_DIFF},
        "candidates": rows}, indent=2))
    lines = ["| quantization | weight bytes | val balanced accuracy | val macro AUC | val accuracy "
             "| top-1 agreement with Keras | max abs diff vs Keras | shipped |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['quantization']} | {r['model_bytes']:,} | {r['balanced_accuracy']:.4f} | {r['macro_auc']:.4f} "
              f"| {r['accuracy']:.4f} | {r['top1_agreement_with_keras']:.4f} | {r['max_abs_diff_vs_keras']:.4f} "
              f"| {'yes' if r['quantization'] == chosen else ''} |" for r in rows]
    (reports / "quantization.md").write_text(
        f"# Quantization, scored in headless Chromium (TF.js) on the validation split (n={rows[0]['n_images']})\n\n"
        + "\n".join(lines) + "\n\nRule: the smallest export whose balanced accuracy drops <= "
        f"{MAX_BALANCED_ACCURACY_DROP} and macro AUC <= {MAX_AUC_DROP} versus float32, and which agrees with the "
        f"Keras model on >= {MIN_TOP1_AGREEMENT:.0%} of top-1 answers with every probability within "
        f"{MAX_PROBABILITY_DIFF}.\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training output folder")
    p.add_argument("--out", type=Path, default=Path("site/model"), help="the site's model folder")
    p.add_argument("--quantize", choices=("auto", *QUANTIZATIONS), default="auto")
    p.add_argument("--data", type=Path, default=None,
                   help="image folder for the validation split (default: the --data the model was trained on)")
    p.add_argument("--test-metrics", type=named_path, nargs="+", default=[], metavar="CONDITION=FILE",
                   help="metrics.json of each test evaluation condition to ship (e.g. low=... sharp=...)")
    p.add_argument("--reports", type=Path, default=Path("reports"))
    args = p.parse_args(argv)
    model_file = args.model / "model.keras"
    try:
        if not model_file.is_file():
            raise DataError(f"{model_file} not found. Train first: python -m train --data DIR --out {args.model}")
        test_metrics = {}
        for condition, path in args.test_metrics:
            if not path.is_file():
                raise DataError(f"{path} not found; run python -m train.evaluation.evaluate first or drop the option.")
            test_metrics[condition] = json.loads(path.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            if args.quantize == "auto":
                config = json.loads((args.model / "config.json").read_text())
                val = load_labelled_images(args.data or Path(config["data"]), args.model / "val_labels.csv").frame
                rows = compare_quantizations(args.model, val["path"].tolist(), val["label"].to_numpy(), Path(tmp))
                chosen = choose_quantization(rows)
                write_quantization_report(rows, chosen, args.reports)
                copy_model(Path(tmp) / chosen, args.out)
            else:
                chosen = args.quantize
                convert_run(args.model, Path(tmp) / chosen, chosen)
                copy_model(Path(tmp) / chosen, args.out)
        metadata = build_metadata(args.model, args.out, chosen, test_metrics)
        (args.out / "metadata.json").write_text(json.dumps(metadata, indent=2))
    except (DataError, ExportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {chosen} model ({metadata['model_bytes']:,} weight bytes) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
