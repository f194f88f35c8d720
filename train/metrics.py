"""Classification metrics in plain numpy, so they can be checked by hand on tiny examples."""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum statistic (ties count one half); NaN if one class."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = np.asarray(score)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def sensitivity_specificity(positive: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    positive, flagged = np.asarray(positive, bool), np.asarray(flagged, bool)
    tp, fn = int((positive & flagged).sum()), int((positive & ~flagged).sum())
    tn, fp = int((~positive & ~flagged).sum()), int((~positive & flagged).sum())
    return {
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
    }


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
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
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, classes: tuple[str, ...] | list[str]
) -> dict:
    """Accuracy, balanced accuracy (mean per-class recall over classes present), macro AUC, per class."""
    y_true = np.asarray(y_true)
    y_pred = probs.argmax(axis=1)
    k = len(classes)
    cm = confusion_matrix(y_true, y_pred, k)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    negatives = len(y_true) - support
    per_class = {}
    for i, name in enumerate(classes):
        recall = cm[i, i] / support[i] if support[i] else float("nan")
        precision = cm[i, i] / predicted[i] if predicted[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if support[i] and precision + recall else 0.0
        per_class[name] = {
            "recall": float(recall),
            # share of the other classes' images not called this class
            "specificity": float((negatives[i] - (predicted[i] - cm[i, i])) / negatives[i]) if negatives[i] else float("nan"),
            "precision": float(precision),
            "f1": float(f1),
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
