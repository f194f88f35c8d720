"""Temperature scaling and the malignancy operating point, both fitted on validation only."""
from __future__ import annotations

import numpy as np

from train.data import CLASSES
from train.metrics import sensitivity_specificity, softmax

MALIGNANT: tuple[str, ...] = ("mel", "bcc", "akiec")


def negative_log_likelihood(logits: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    probs = softmax(logits, temperature)
    return float(-np.log(np.clip(probs[np.arange(len(y_true)), y_true], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising validation NLL (log grid, then a finer grid around it)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    best = min(grid, key=lambda t: negative_log_likelihood(logits, y_true, t))
    fine = np.linspace(best / 1.05, best * 1.05, 101)
    return float(min(fine, key=lambda t: negative_log_likelihood(logits, y_true, t)))


def malignancy_score(probs: np.ndarray, classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    return probs[:, [classes.index(c) for c in MALIGNANT]].sum(axis=1)


def is_malignant(y_true: np.ndarray, classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    return np.isin(y_true, [classes.index(c) for c in MALIGNANT])


def choose_operating_point(probs: np.ndarray, y_true: np.ndarray, min_sensitivity: float = 0.90) -> dict:
    """Highest threshold on P(mel)+P(bcc)+P(akiec) whose sensitivity is still >= ``min_sensitivity``.

    The highest such threshold gives the best specificity at the required sensitivity.
    """
    score = malignancy_score(probs)
    positive = is_malignant(y_true)
    if not positive.any():
        raise ValueError("The validation set has no malignant images; cannot choose an operating point.")
    candidates = np.sort(np.unique(score[positive]))[::-1]
    for threshold in candidates:
        rates = sensitivity_specificity(positive, score >= threshold)
        if rates["sensitivity"] >= min_sensitivity:
            return {
                "threshold": float(threshold),
                "target_sensitivity": min_sensitivity,
                "validation_sensitivity": rates["sensitivity"],
                "validation_specificity": rates["specificity"],
                "classes": list(MALIGNANT),
            }
    raise AssertionError("unreachable: the lowest positive score flags every positive")
