"""python -m train.studies.paired BASE CANDIDATE --out FILE.json: is a candidate run better than the base on validation?

Two runs of one recipe already differ by 0.01-0.04 in validation balanced accuracy, and a run's kept epoch is
the best of many noisy ones. Two separate intervals overlap almost always, yet both models face the same
hard images, so their errors are correlated: the interval of the *difference*, scored image by image and
resampled by lesion (train/evaluation/intervals.py), is much narrower. It covers which images were drawn, not which
seed trained the models: two seeds of one recipe can differ beyond it, so a change must also clear the
seed-to-seed difference (``make seed-trial``).

Both runs are scored as shipped (calibrated probabilities, each at its own operating point) on the base
run's validation images; the runs must share the split. Beside accuracy, the photo-to-photo figures of
train.calibration.change_margin: the 95th percentile of the malignancy score's difference between two photos of
one lesion (``photo_margin``) and the share of such pairs on both sides of the operating point
(``crossing_rate``), resampled with the lesions they belong to.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from train.calibration.calibrate import (
    calibrated_probabilities,
    is_malignant,
    malignancy_score,
)
from train.calibration.change_margin import pair_figures, same_lesion_pairs
from train.cli import reports_data_errors
from train.data.loading import CLASSES, DataError
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.metrics import classification_metrics, sensitivity_specificity
from train.model.predict import Run, load_run, run_logits, run_split_file, split_frame


def shipped_scores(y_true: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """The figures a run is judged by: balanced accuracy and macro AUC of its calibrated probabilities, and
    malignant specificity and melanoma sensitivity at its operating point."""
    metrics = classification_metrics(y_true, probs, CLASSES)
    flagged = malignancy_score(probs) >= threshold
    melanoma = y_true == CLASSES.index("mel")
    return {"balanced_accuracy": metrics["balanced_accuracy"], "macro_auc": metrics["macro_auc"],
            "malignant_specificity": sensitivity_specificity(is_malignant(y_true), flagged)["specificity"],
            "melanoma_sensitivity": float(flagged[melanoma].mean()) if melanoma.any() else float("nan")}


def photo_to_photo(probs: np.ndarray, pairs: np.ndarray, threshold: float,
                   times: np.ndarray | None = None) -> dict[str, float]:
    """A run's photo-to-photo figures on same-lesion ``pairs``: its 95th-percentile margin and crossing rate."""
    figures = pair_figures(malignancy_score(probs), pairs, threshold, times)
    return {"photo_margin": figures["margin"], "crossing_rate": figures["crossing_rate"]}


def paired_differences(y_true: np.ndarray, base: np.ndarray, candidate: np.ndarray, base_threshold: float,
                       candidate_threshold: float,
                       lesion_ids: np.ndarray | None = None) -> Callable[[np.ndarray], dict[str, float]]:
    """``statistics(indices)`` for the bootstrap: candidate minus base on the same images; with ``lesion_ids``
    the photo-to-photo figures too, each pair counted as often as the resample drew its lesion."""
    pairs = same_lesion_pairs(pd.Series(lesion_ids)) if lesion_ids is not None else None
    if pairs is not None and not len(pairs):
        pairs = None  # no lesion with two photos: nothing photo-to-photo to compare
    if pairs is not None:
        _, codes = np.unique(lesion_ids, return_inverse=True)
        sizes = np.bincount(codes)

    def statistics(idx: np.ndarray) -> dict[str, float]:
        a = shipped_scores(y_true[idx], base[idx], base_threshold)
        b = shipped_scores(y_true[idx], candidate[idx], candidate_threshold)
        if pairs is not None:
            # a resample holds whole lesions, each drawn 0..k times: its pairs count as often
            times = (np.bincount(codes[idx], minlength=len(sizes)) // sizes)[codes[pairs[:, 0]]]
            a |= photo_to_photo(base, pairs, base_threshold, times)
            b |= photo_to_photo(candidate, pairs, candidate_threshold, times)
        return {name: b[name] - a[name] for name in a}

    return statistics


def same_split(base: Run, candidate: Run) -> None:
    if run_split_file(base).read_text() != run_split_file(candidate).read_text():
        raise DataError(f"{base.model_dir} and {candidate.model_dir} were not trained on the same split.csv; "
                        "a paired comparison needs the same validation images (train with --split BASE/split.csv).")


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.paired", description=__doc__)
    p.add_argument("base", type=Path, help="training run folder to compare against (e.g. the shipped model)")
    p.add_argument("candidate", type=Path, help="training run folder of the change")
    p.add_argument("--out", type=Path, required=True, help="JSON file for the differences and their intervals")
    p.add_argument("--resamples", type=int, default=1000)
    args = p.parse_args(argv)
    base, candidate = load_run(args.base), load_run(args.candidate)
    same_split(base, candidate)
    frame = split_frame(base)
    val = frame[frame["split"] == "val"]
    paths, y_true = val["path"].tolist(), val["label"].to_numpy()
    runs = {"base": base, "candidate": candidate}
    probs = {name: calibrated_probabilities(run_logits(run, paths), run.calibration) for name, run in runs.items()}
    thresholds = {name: run.calibration["operating_point"]["threshold"] for name, run in runs.items()}
    lesion_ids = val["lesion_id"].to_numpy()
    statistics = paired_differences(y_true, probs["base"], probs["candidate"], thresholds["base"],
                                    thresholds["candidate"], lesion_ids)
    pairs = same_lesion_pairs(pd.Series(lesion_ids))
    report = {
        "base": str(args.base), "candidate": str(args.candidate), "n_images": len(paths),
        "n_lesions": int(val["lesion_id"].nunique()), "n_photo_pairs": len(pairs),
        "scores": {name: shipped_scores(y_true, probs[name], thresholds[name])
                   | (photo_to_photo(probs[name], pairs, thresholds[name]) if len(pairs) else {}) for name in probs},
        "difference": statistics(np.arange(len(paths))),
        "interval": cluster_bootstrap(statistics, lesion_ids, n_resamples=args.resamples),
        "interval_method": "95% percentile bootstrap of candidate - base, resampling validation lesions",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for name, diff in report["difference"].items():
        low, high = report["interval"][name]
        print(f"{name}: base {report['scores']['base'][name]:.4f}, candidate {report['scores']['candidate'][name]:.4f}, "
              f"difference {diff:+.4f} (95% CI {low:+.4f} to {high:+.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
