"""python -m train.context --model DIR [--data DIR] [--report DIR]

Fits the patient-context fusion (fusion.py) of a training run: the context model on the training split's age,
sex and body site, its weight, temperature and operating point on the validation split's calibrated
probabilities. Writes DIR/context.json (what the export puts in metadata.json) and REPORT/validation.json
(every candidate, each field alone, the ship rule's verdict). The validation logits are cached in
DIR/val_logits.npz with the model's sha256: a retrained model recomputes them.

Ship rule: the fusion is used by the page only if, on validation, the 95% lesion-bootstrap interval of its
balanced-accuracy gain lies above 0 and no class's sensitivity falls by more than 0.05.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from train.calibration.calibrate import calibrated_probabilities
from train.context.encoding import Encoding, absent_rates, context_matrix, encoding_for, read_context_file
from train.context.fusion import (
    context_probabilities,
    fit_context_model,
    fuse,
    negative_log_likelihood,
    recalibrate,
    with_dropped_fields,
)
from train.context.scoring import comparison, context_figures, decision_point
from train.data.loading import CLASSES, DataError, find_metadata, load_training_data
from train.evaluation.metrics import balanced_accuracy

C_GRID = (0.1, 0.3, 1.0, 3.0)
MAX_RECALL_DROP = 0.05
DEFAULT_REPORT = Path("reports/context")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validation_logits(model_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    """The run's raw logits on its validation images (their sharpest copy, as calibration saw them), cached."""
    cache = model_dir / "val_logits.npz"
    digest = file_sha256(model_dir / "model.keras")
    ids = frame["image_id"].to_numpy(str)
    if cache.is_file():
        saved = np.load(cache)
        if str(saved["model_sha256"]) == digest and np.array_equal(saved["image_ids"], ids):
            return saved["logits"]
    from train.model.predict import load_run, run_logits

    logits = run_logits(load_run(model_dir), frame["path"].tolist())
    np.savez(cache, logits=logits, image_ids=ids, model_sha256=digest,
             recipe=json.dumps(json.loads((model_dir / "config.json").read_text()), sort_keys=True))
    return logits


def ship_verdict(validation: dict) -> dict:
    """The ship rule on the validation comparison of all fields."""
    low = validation["gain_interval"]["balanced_accuracy"][0]
    worst = min(validation["recall_change"].items(), key=lambda kv: kv[1])
    reasons = []
    if low <= 0:
        reasons.append(f"the balanced-accuracy gain's 95% interval reaches {low:+.4f}, not above 0")
    if worst[1] < -MAX_RECALL_DROP:
        reasons.append(f"{worst[0]} sensitivity falls by {-worst[1]:.3f}, more than {MAX_RECALL_DROP}")
    return {"passed": not reasons, "reasons": reasons,
            "rule": "on validation: the balanced-accuracy gain's 95% lesion-bootstrap interval above 0 and no "
                    f"class's sensitivity down by more than {MAX_RECALL_DROP}"}


def candidate(model: dict, probs: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, point: dict) -> dict:
    """A context model recalibrated on validation, with its validation log loss and balanced accuracy (fused),
    and the log loss of its context alone."""
    fusion = recalibrate(model, probs, x_val, y_val, point)
    fused = fuse(probs, x_val, fusion)
    return {"fusion": fusion, "log_loss": negative_log_likelihood(fused, y_val),
            "balanced_accuracy": balanced_accuracy(y_val, fused.argmax(axis=1)),
            "context_only_log_loss": negative_log_likelihood(context_probabilities(x_val, fusion), y_val)}


def boosted_log_loss(x_train: np.ndarray, y_train: np.ndarray, encoding: Encoding, x_val: np.ndarray,
                     y_val: np.ndarray) -> float:
    """Validation log loss of gradient boosting on the context alone: the alternative to the regression."""
    xs, ys = with_dropped_fields(x_train, y_train, encoding)
    boosted = HistGradientBoostingClassifier(random_state=0).fit(xs, ys)
    probs = np.zeros((len(x_val), len(CLASSES)))
    probs[:, boosted.classes_] = boosted.predict_proba(x_val)
    return negative_log_likelihood(probs, y_val)


def split_frames(model_dir: Path, data: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The run's training and validation rows (validation in val_labels.csv order) with their context columns,
    and the data set's whole context table."""
    config = json.loads((model_dir / "config.json").read_text())
    data_dir = Path(data or config["data"])
    override = Path(config["override_images"]) if config.get("override_images") else None
    frame = load_training_data(data_dir, override).frame
    split = pd.read_csv(model_dir / "split.csv")[["image_id", "split"]]
    context = read_context_file(find_metadata(data_dir))[["age", "sex", "localization"]]
    frame = frame.drop(columns=list(context.columns), errors="ignore").merge(split, on="image_id").join(context, on="image_id")
    order = pd.read_csv(model_dir / "val_labels.csv")["image_id"]
    val = frame[frame["split"] == "val"].set_index("image_id", drop=False).loc[order].reset_index(drop=True)
    return frame[frame["split"] == "train"], val, context


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.context", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training output folder")
    p.add_argument("--data", type=Path, default=None, help="HAM10000 folder (default: the one the run trained on)")
    p.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="folder for validation.json")
    args = p.parse_args(argv)
    started = time.time()
    try:
        for name in ("model.keras", "config.json", "calibration.json", "split.csv", "val_labels.csv"):
            if not (args.model / name).is_file():
                raise DataError(f"{args.model / name} not found. Train a model first (python -m train) or pass --model.")
        train, val, table = split_frames(args.model, args.data)
        encoding = encoding_for(train["localization"].dropna())
        x_train, x_val = context_matrix(encoding, train), context_matrix(encoding, val)
        calibration = json.loads((args.model / "calibration.json").read_text())
        probs = calibrated_probabilities(validation_logits(args.model, val), calibration)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    y_train, y_val = train["label"].to_numpy(), val["label"].to_numpy()
    lesions = val["lesion_id"].astype(str).to_numpy()
    point = calibration["operating_point"]
    candidates = {c: candidate(fit_context_model(x_train, y_train, encoding, c, len(CLASSES)), probs, x_val, y_val, point)
                  for c in C_GRID}
    chosen = min(candidates, key=lambda c: candidates[c]["log_loss"])
    fusion = candidates[chosen]["fusion"]
    validation = comparison(y_val, probs, fuse(probs, x_val, fusion), point, decision_point(fusion, point, x_val), lesions)
    verdict = ship_verdict(validation)
    combination = args.model / "combination.json"
    rule = json.loads(combination.read_text())["rule"] if combination.is_file() else None
    report = {
        "chosen_c": chosen,
        "image_only_log_loss": negative_log_likelihood(probs, y_val),
        "candidates": {str(c): {k: v for k, v in r.items() if k != "fusion"} | {"weight": r["fusion"]["weight"]}
                       for c, r in candidates.items()},
        # the alternative context model: no better on validation, and trees would not be a few lines of JS
        "gradient_boosting": {"context_only_log_loss": boosted_log_loss(x_train, y_train, encoding, x_val, y_val)},
        "validation": context_figures(y_val, probs, x_val, fusion, encoding, point, lesions, absent_rates(table), rule),
        "ship": verdict,
    }
    context = {
        "method": "product of experts: softmax((log p_image + weight * (log q(c|context) - log q(c|nothing))) / "
                  "temperature), q a multinomial logistic regression on one-hot age decade, sex and body site "
                  "fitted on the training split's metadata (train/context/fusion.py); no context: the image's result",
        "encoding": encoding.to_json(), **{k: fusion[k] for k in ("coefficients", "intercept", "c", "weight",
                                                                   "temperature", "operating_point")},
        "fitted_on": {"training_images": len(train), "validation_images": len(val),
                      "validation_images_with_context": int(x_val.any(axis=1).sum()),
                      "out_of_fold_cpu_seconds": 0, "seconds": round(time.time() - started, 1)},
        "validation": {k: validation[k] for k in ("image_only", "with_context", "gain", "gain_interval", "recall_change")},
        "ship": verdict,
    }
    (args.model / "context.json").write_text(json.dumps(context, indent=2))
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / "validation.json").write_text(json.dumps(report, indent=2))
    low, high = validation["gain_interval"]["balanced_accuracy"]
    print(f"context model C={chosen}, weight {fusion['weight']:.3f}, temperature {fusion['temperature']:.3f}: validation "
          f"balanced accuracy {validation['image_only']['balanced_accuracy']:.4f} image-only -> "
          f"{validation['with_context']['balanced_accuracy']:.4f} with context (gain 95% interval {low:+.4f} to "
          f"{high:+.4f}); " + ("ships" if verdict["passed"] else "does not ship: " + "; ".join(verdict["reasons"])))
    print(f"wrote {args.model / 'context.json'} and {args.report / 'validation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
