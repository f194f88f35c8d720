"""python -m train.evaluate --images DIR --labels FILE --out DIR [--runtime keras|browser]

Scores a labelled folder with a trained model and writes OUT/metrics.json, a confusion-matrix PNG and a
classification-report PNG. ``keras`` scores the training output folder (model.keras + calibration);
``browser`` scores the shipped TF.js model through the site's own inference module in headless Chromium.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from train.calibrate import calibrated_probabilities, is_malignant, malignancy_score
from train.data import CLASSES, DataError, load_labelled_images
from train.figures import classification_report_figure, confusion_matrix_figure
from train.intervals import cluster_bootstrap
from train.metrics import classification_metrics, sensitivity_specificity

DEFAULT_KERAS_MODEL = Path("models/ham10000")
DEFAULT_BROWSER_MODEL = Path("site/model")


def keras_probabilities(model_dir: Path, paths: list[str]) -> tuple[np.ndarray, dict]:
    """Calibrated probabilities from a training run (model.keras + calibration.json)."""
    from train.predict import load_run, run_logits

    run = load_run(model_dir)
    logits = run_logits(run, paths)
    return calibrated_probabilities(logits, run.calibration), run.calibration


def browser_probabilities(model_dir: Path, paths: list[str]) -> tuple[np.ndarray, dict]:
    from export.browser_scoring import score_in_browser

    metadata_file = model_dir / "metadata.json"
    if not metadata_file.is_file():
        raise DataError(f"{metadata_file} not found. Export a model first (python -m export) or pass --model.")
    metadata = json.loads(metadata_file.read_text())
    probs = score_in_browser(model_dir, paths)
    return probs, {"temperature": metadata["temperature"], "operating_point": metadata["operating_point"]}


def evaluation_metrics(y_true: np.ndarray, probs: np.ndarray, operating_point: dict) -> dict:
    metrics = classification_metrics(y_true, probs, CLASSES)
    flagged = malignancy_score(probs) >= operating_point["threshold"]
    metrics["malignant"] = sensitivity_specificity(is_malignant(y_true), flagged)
    metrics["melanoma"] = sensitivity_specificity(y_true == CLASSES.index("mel"), flagged)
    metrics["operating_point"] = operating_point
    return metrics


def headline_values(metrics: dict) -> dict[str, float]:
    """The figures the targets and the model card quote, flat."""
    return {
        "balanced_accuracy": metrics["balanced_accuracy"],
        "accuracy": metrics["accuracy"],
        "macro_auc": metrics["macro_auc"],
        "melanoma_sensitivity": metrics["melanoma"]["sensitivity"],
        "malignant_sensitivity": metrics["malignant"]["sensitivity"],
        "malignant_specificity": metrics["malignant"]["specificity"],
    }


def confidence_intervals(y_true: np.ndarray, probs: np.ndarray, operating_point: dict, lesion_ids: np.ndarray,
                         n_resamples: int = 1000, level: float = 0.95) -> dict:
    """Lesion-level bootstrap intervals of the headline values (per image when no lesion ids are known)."""
    n_lesions = len(set(lesion_ids))
    intervals = cluster_bootstrap(
        lambda idx: headline_values(evaluation_metrics(y_true[idx], probs[idx], operating_point)),
        lesion_ids, n_resamples=n_resamples, level=level)
    return {"level": level, "method": "percentile bootstrap", "resamples": n_resamples,
            # labels without lesion ids count each image as its own lesion
            "resampled": "lesions" if n_lesions < len(lesion_ids) else "images", "n_resampled": n_lesions, **intervals}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, type=Path, help="folder of labelled images")
    p.add_argument("--labels", required=True, type=Path, help="HAM metadata CSV (image_id,dx) or ISIC one-hot CSV")
    p.add_argument("--out", required=True, type=Path, help="folder for metrics.json and figures")
    p.add_argument("--runtime", choices=("keras", "browser"), default="keras")
    p.add_argument("--model", type=Path, default=None,
                   help=f"model folder (default {DEFAULT_KERAS_MODEL} for keras, {DEFAULT_BROWSER_MODEL} for browser)")
    args = p.parse_args(argv)
    try:
        dataset = load_labelled_images(args.images, args.labels)
        frame = dataset.frame
        started = time.time()
        if args.runtime == "keras":
            probs, calibration = keras_probabilities(args.model or DEFAULT_KERAS_MODEL, frame["path"].tolist())
        else:
            probs, calibration = browser_probabilities(args.model or DEFAULT_BROWSER_MODEL, frame["path"].tolist())
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    y_true = frame["label"].to_numpy()
    metrics = evaluation_metrics(y_true, probs, calibration["operating_point"])
    metrics["confidence_intervals"] = confidence_intervals(y_true, probs, calibration["operating_point"],
                                                           frame["lesion_id"].to_numpy())
    metrics.update(runtime=args.runtime, seconds=round(time.time() - started, 1), excluded=dataset.excluded,
                   temperature=calibration["temperature"], labels_file=str(args.labels))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    title = f"{args.labels.name}, {args.runtime} runtime, n={metrics['n_images']}"
    confusion_matrix_figure(np.array(metrics["confusion_matrix"]), list(CLASSES), args.out / "confusion_matrix.png", title)
    classification_report_figure(metrics["per_class"], args.out / "classification_report.png", title)
    print(f"{metrics['n_images']} images: balanced accuracy {metrics['balanced_accuracy']:.4f}, accuracy "
          f"{metrics['accuracy']:.4f}, macro AUC {metrics['macro_auc']:.4f}, melanoma sensitivity "
          f"{metrics['melanoma']['sensitivity']:.3f}, malignant sensitivity {metrics['malignant']['sensitivity']:.3f} "
          f"/ specificity {metrics['malignant']['specificity']:.3f}, ECE {metrics['ece']:.4f} -> {args.out}")
    low, high = metrics["confidence_intervals"]["balanced_accuracy"]
    print(f"95% interval of balanced accuracy (bootstrap over {metrics['confidence_intervals']['resampled']}): "
          f"{low:.4f}-{high:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
