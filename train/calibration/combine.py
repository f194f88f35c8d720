"""python -m train.calibration.combine --model DIR: several photos of one lesion, one answer.

Chooses on the validation split how to combine the photos of one lesion (the mean of their logits or the
mean of their probabilities; by lesion-level balanced accuracy, then calibration) and measures how far a
combined visit's malignancy score moves between two visits of an unchanged lesion, so the lesion history can
flag a change in combined results. Writes DIR/combination.json; export ships it in metadata.json as
``combination`` and the browser combines by the rule it names (site/js/inference/combine.js).

Both rules are computed from the calibrated probabilities alone: ``log p`` differs from the calibrated logits
``(logits + class_bias) / temperature`` by one constant per photo, which softmax ignores, so
``softmax(mean log p)`` is exactly ``softmax((mean logits + class_bias) / temperature)``: the combined result
goes through the same class-balance correction and temperature as one photo, and through the same operating
point.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.covariance import EmpiricalCovariance
from sklearn.metrics import log_loss

from train.calibration.calibrate import is_malignant, malignancy_score
from train.calibration.change_margin import QUANTILE, change_margin
from train.cli import parse_run_arguments, reports_data_errors
from train.data.loading import CLASSES, DataError
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.metrics import (
    balanced_accuracy,
    classification_metrics,
    sensitivity_specificity,
)

RULES: tuple[str, ...] = ("mean_logits", "mean_probabilities")
# A probability of exactly 0 (float32 underflow in the browser) would make log p infinite; the browser clips
# at the same value.
SMALLEST_PROBABILITY = 1e-12
# Rules whose lesion-level balanced accuracy differs by less than the lesion bootstrap can tell apart (its
# 95% interval of the difference covers 0) are tied; the better calibrated one (lower log loss) is chosen.
TIE_LEVEL = 0.95
VISIT_PHOTOS: tuple[int, ...] = (1, 2, 3, 4)
VISIT_DRAWS = 200


def combine(probs: np.ndarray, rule: str, axis: int = 0) -> np.ndarray:
    """One probability vector from the calibrated probabilities (n_photos, classes) of one lesion's photos
    (``axis`` is the photos' axis, for many lesions at once)."""
    probs = np.asarray(probs, dtype=np.float64)
    if rule == "mean_logits":
        return softmax(np.log(np.clip(probs, SMALLEST_PROBABILITY, None)).mean(axis=axis), axis=-1)
    if rule == "mean_probabilities":
        return probs.mean(axis=axis)
    raise ValueError(f"Unknown combination rule {rule!r}; expected one of {', '.join(RULES)}.")


def combine_groups(probs: np.ndarray, groups: np.ndarray, rule: str) -> np.ndarray:
    """Each image's row replaced by the combination of every image of its group (lesion)."""
    groups = np.asarray(groups)
    out = np.empty_like(np.asarray(probs, dtype=np.float64))
    for group in np.unique(groups):
        rows = groups == group
        out[rows] = combine(probs[rows], rule)
    return out


def lesion_rows(groups: np.ndarray) -> np.ndarray:
    """The first image of each group, in order of appearance: the rows that count each lesion once."""
    _, first = np.unique(np.asarray(groups), return_index=True)
    return np.sort(first)


def multi_photo_mask(groups: np.ndarray) -> np.ndarray:
    """True for the images whose group has more than one image."""
    groups = pd.Series(np.asarray(groups))
    return groups.map(groups.value_counts()).to_numpy() > 1


def rule_scores(combined: np.ndarray, y_true: np.ndarray, groups: np.ndarray, threshold: float) -> dict:
    """How well a rule's ``combined`` probabilities (each image's lesion's) answer per lesion (each counted
    once), over all lesions and over the lesions with several photos (the only ones where the rules differ)."""
    first = lesion_rows(groups)
    multi = multi_photo_mask(groups)

    def scored(rows: np.ndarray) -> dict:
        metrics = classification_metrics(y_true[rows], combined[rows], CLASSES)
        flagged = malignancy_score(combined[rows]) >= threshold
        return {"n_lesions": int(len(rows)), "balanced_accuracy": metrics["balanced_accuracy"],
                "macro_auc": metrics["macro_auc"], "ece": metrics["ece"],
                "log_loss": float(log_loss(y_true[rows], combined[rows], labels=list(range(len(CLASSES))))),
                "malignant": sensitivity_specificity(is_malignant(y_true[rows]), flagged)}

    return {"all_lesions": scored(first), "multi_photo_lesions": scored(first[multi[first]])}


def balanced_accuracy_differences(combined: dict[str, np.ndarray], y_true: np.ndarray, groups: np.ndarray,
                                  best: str) -> dict:
    """For every other rule, the 95% lesion-bootstrap interval of (its - ``best``'s) balanced accuracy over the
    multi-photo lesions, each lesion counted once; ``combined`` maps each rule to its combined probabilities."""
    rows = lesion_rows(groups)
    rows = rows[multi_photo_mask(groups)[rows]]
    y = y_true[rows]
    predicted = {rule: combined[rule][rows].argmax(axis=1) for rule in RULES}
    others = [r for r in RULES if r != best]
    return cluster_bootstrap(
        lambda idx: {r: balanced_accuracy(y[idx], predicted[r][idx]) - balanced_accuracy(y[idx], predicted[best][idx])
                     for r in others}, np.arange(len(rows)), level=TIE_LEVEL)


def choose_rule(scores: dict[str, dict], differences: dict[str, list[float]], best: str) -> str:
    """``best`` (the highest balanced accuracy over multi-photo lesions) unless a rule's difference from it has
    an interval that covers 0: among those tied, the lower log loss."""
    tied = [best] + [r for r, (low, high) in differences.items() if low <= 0 <= high]
    return min(tied, key=lambda r: scores[r]["multi_photo_lesions"]["log_loss"])


def visit_noise(probs: np.ndarray, groups: np.ndarray, threshold: float, rule: str,
                photos: tuple[int, ...] = VISIT_PHOTOS, draws: int = VISIT_DRAWS, seed: int = 0) -> list[dict]:
    """How far the combined malignancy score of a visit of k photos moves between two visits of an unchanged
    lesion, for each k in ``photos``.

    Validation has too few lesions with four or more photos (7) to compare two disjoint visits of two photos,
    so this is derived: each photo's centred log-probabilities are its lesion's centre plus Gaussian noise
    whose covariance is estimated from the within-lesion deviations of every multi-photo lesion (scaled by
    n/(n-1), so they estimate the photo-to-photo spread, not the spread around a mean of n). Two visits of k
    photos are drawn around each lesion's centre, as often as that lesion has photo pairs (the weighting of
    the measured single-photo figures), and combined by ``rule``. k=1 can be checked against the measured
    single-photo pairs.
    """
    groups = np.asarray(groups)
    z = np.log(np.clip(probs, SMALLEST_PROBABILITY, None))
    z = z - z.mean(axis=1, keepdims=True)
    centres, residuals, weights = [], [], []
    for group in np.unique(groups):
        rows = z[groups == group]
        n = len(rows)
        if n < 2:
            continue
        centre = rows.mean(axis=0)
        centres.append(centre)
        residuals.append((rows - centre) * np.sqrt(n / (n - 1)))
        weights.append(n * (n - 1) // 2)
    if not centres:
        raise DataError("No lesion has two images in this split, so visit-to-visit variation cannot be derived.")
    covariance = EmpiricalCovariance(assume_centered=True).fit(np.concatenate(residuals)).covariance_
    lesion_centres = np.repeat(np.array(centres), np.array(weights) * draws, axis=0)
    rng = np.random.default_rng(seed)
    out = []
    for k in photos:
        scores = []
        for _ in range(2):
            noise = rng.multivariate_normal(np.zeros(len(covariance)), covariance, size=(len(lesion_centres), k),
                                            method="eigh")
            visit_probs = softmax(lesion_centres[:, None, :] + noise, axis=2)
            scores.append(malignancy_score(combine(visit_probs, rule, axis=1)))
        a, b = scores
        difference = np.abs(a - b)
        out.append({"photos": k, "margin": float(np.quantile(difference, QUANTILE)), "quantile": QUANTILE,
                    "median_difference": float(np.median(difference)),
                    "crossing_rate": float(np.mean((a >= threshold) != (b >= threshold)))})
    return out


def combination_summary(probs: np.ndarray, y_true: np.ndarray, lesion_ids: pd.Series, threshold: float) -> dict:
    """The rule chosen on these (validation) images, what each rule scored, and the visit-to-visit noise."""
    groups = lesion_ids.to_numpy()
    if not multi_photo_mask(groups).any():
        raise DataError("No lesion in the validation split has two images, so no combination rule can be chosen "
                        "(HAM10000 has many; a data set with one photo per lesion has nothing to combine).")
    combined = {rule: combine_groups(probs, groups, rule) for rule in RULES}
    scores = {rule: rule_scores(combined[rule], y_true, groups, threshold) for rule in RULES}
    best = max(RULES, key=lambda r: scores[r]["multi_photo_lesions"]["balanced_accuracy"])
    differences = balanced_accuracy_differences(combined, y_true, groups, best)
    rule = choose_rule(scores, differences, best)
    measured = change_margin(malignancy_score(probs), lesion_ids.reset_index(drop=True), threshold)
    return {
        "rule": rule,
        "chosen_by": "balanced accuracy over the validation lesions with several photos (each counted once); a "
                     f"rule whose difference from the best has a {TIE_LEVEL:.0%} lesion-bootstrap interval covering 0 "
                     "is tied with it, and of tied rules the one with the lower log loss is chosen",
        "rules": scores,
        "balanced_accuracy_difference_from_best": {"best": best, "intervals": differences},
        "visit_change": visit_noise(probs, groups, threshold, rule),
        "visit_change_method": "derived, not measured: validation has 7 lesions with 4 or more photos, too few "
                               "for two disjoint visits of 2. Each photo's centred log-probabilities = its "
                               "lesion's centre + Gaussian noise (covariance of the within-lesion deviations of "
                               f"the {measured['n_lesions']} multi-photo validation lesions); two visits of k "
                               f"photos drawn {VISIT_DRAWS} times per photo pair of each lesion, combined by the "
                               "rule; margin = the 95th percentile of the combined score's difference",
        "single_photo_measured": {k: measured[k] for k in ("margin", "median_difference", "crossing_rate", "n_pairs")},
        "n_validation_images": int(len(y_true)),
    }


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    from train.model.predict import validation_probabilities

    args = parse_run_arguments("python -m train.calibration.combine", __doc__, argv)
    run, val, probs = validation_probabilities(args.model, args.data)
    summary = combination_summary(probs, val["label"].to_numpy(), val["lesion_id"],
                                  run.calibration["operating_point"]["threshold"])
    (args.model / "combination.json").write_text(json.dumps(summary, indent=2))
    for rule, s in summary["rules"].items():
        m = s["multi_photo_lesions"]
        print(f"{rule}: {m['n_lesions']} multi-photo validation lesions, balanced accuracy {m['balanced_accuracy']:.4f}, "
              f"log loss {m['log_loss']:.4f}, ECE {m['ece']:.4f}")
    measured = summary["single_photo_measured"]
    print(f"chosen: {summary['rule']}; single photo measured margin {measured['margin']:.3f} / crossing "
          f"{measured['crossing_rate']:.3f}; derived: " + ", ".join(
              f"{v['photos']} photo(s) {v['margin']:.3f} / {v['crossing_rate']:.3f}" for v in summary["visit_change"])
          + f" -> {args.model / 'combination.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
