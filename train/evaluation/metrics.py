"""Classification metrics, computed by scikit-learn and SciPy; only the top-label calibration error is by hand."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.special
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    recall_score,
    roc_auc_score,
)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return scipy.special.softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one class is present."""
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, score))


def sensitivity_specificity(positive: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    positive, flagged = np.asarray(positive, bool), np.asarray(flagged, bool)
    # both labels named: a resample with only one of them is still a binary problem (NaN where undefined)
    recall = lambda truth, said: float(recall_score(truth, said, labels=[False, True], zero_division=np.nan))  # noqa: E731
    return {"sensitivity": recall(positive, flagged), "specificity": recall(~positive, ~flagged)}


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins. By hand: scikit-learn's calibration_curve bins one class's
    probability against that class, not the top label's confidence against being right."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(y_true)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``y_true``."""
    with warnings.catch_warnings():
        # a class predicted but absent from y_true (common in bootstrap resamples) is left out, as intended;
        # a subset with a single class is a valid (if trivial) case
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        return float(balanced_accuracy_score(y_true, y_pred))


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, classes: tuple[str, ...] | list[str]
) -> dict:
    """Accuracy, balanced accuracy (mean per-class recall over classes present), macro AUC, per class."""
    y_true = np.asarray(y_true)
    y_pred = probs.argmax(axis=1)
    labels = list(range(len(classes)))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    predicted = cm.sum(axis=0)
    negatives = len(y_true) - support
    per_class = {}
    for i, name in enumerate(classes):
        per_class[name] = {
            "recall": float(recall[i]) if support[i] else float("nan"),
            # share of the other classes' images not called this class
            "specificity": float((negatives[i] - (predicted[i] - cm[i, i])) / negatives[i]) if negatives[i] else float("nan"),
            "precision": float(precision[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "auc": binary_auc(y_true == i, probs[:, i]),
        }
    present = [c for c in classes if per_class[c]["support"] > 0]
    aucs = [per_class[c]["auc"] for c in present if not np.isnan(per_class[c]["auc"])]
    return {
        "n_images": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
        "macro_auc": float(np.mean(aucs)) if aucs else float("nan"),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "ece": expected_calibration_error(y_true, probs),
    }
