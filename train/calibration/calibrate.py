"""Calibration fitted on validation only: class-balance correction, temperature, malignancy operating point.

Probabilities are ``softmax((logits + class_bias) / temperature)`` with ``class_bias = -tau * log(prior)``:
the network learnt the class frequencies of its training stream (``prior``), which makes it under-call
rare classes; subtracting tau times their log (logit adjustment, Menon et al. 2021) trades common-class
accuracy for rare-class recall. tau is the value in [0, 2] that maximises validation balanced accuracy, and
the temperature is then fitted (NLL) on the adjusted logits.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from train.data.loading import CLASSES
from train.evaluation.metrics import balanced_accuracy, sensitivity_specificity, softmax

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


PRIOR_STRENGTHS = np.round(np.arange(0.0, 2.0001, 0.125), 3)


def training_prior(counts: np.ndarray, imbalance: str) -> np.ndarray:
    """Class frequencies the training stream showed the network, for each imbalance strategy in fit.py."""
    counts = np.asarray(counts, dtype=float)
    if imbalance == "sampling":
        freq = np.sqrt(counts)
    elif imbalance == "weights":
        freq = (counts > 0).astype(float)  # inverse-frequency weights make every class count equally
    else:
        freq = counts
    return freq / freq.sum()


def class_bias(prior: np.ndarray, strength: float) -> np.ndarray:
    return -strength * np.log(np.clip(prior, 1e-12, None))


def calibrated_probabilities(logits: np.ndarray, calibration: dict) -> np.ndarray:
    """The probabilities every runtime shows: softmax((logits + class_bias) / temperature)."""
    return softmax(np.asarray(logits) + np.asarray(calibration["class_bias"]), calibration["temperature"])


def fit_prior_strength(logits: np.ndarray, y_true: np.ndarray, prior: np.ndarray) -> float:
    """The smallest tau on the grid with the best validation balanced accuracy."""
    scores = [balanced_accuracy(y_true, (logits + class_bias(prior, t)).argmax(axis=1)) for t in PRIOR_STRENGTHS]
    return float(PRIOR_STRENGTHS[int(np.argmax(scores))])


def calibrate(logits: np.ndarray, y_true: np.ndarray, prior: np.ndarray, min_sensitivity: float = 0.90,
              melanoma_floor: float | None = None) -> dict:
    """Fit the class-balance correction, the temperature and the operating point on validation logits."""
    strength = fit_prior_strength(logits, y_true, prior)
    bias = class_bias(prior, strength)
    temperature = fit_temperature(logits + bias, y_true)
    calibration = {"prior_strength": strength, "training_prior": prior.tolist(), "class_bias": bias.tolist(),
                   "temperature": temperature}
    probs = calibrated_probabilities(logits, calibration)
    return {**calibration, "operating_point": choose_operating_point(probs, y_true, min_sensitivity, melanoma_floor)}


def malignancy_score(probs: np.ndarray, classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    return probs[:, [classes.index(c) for c in MALIGNANT]].sum(axis=1)


def is_malignant(y_true: np.ndarray, classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    return np.isin(y_true, [classes.index(c) for c in MALIGNANT])


def melanoma_sensitivity_lower_bound(caught: int, melanomas: int, confidence: float = 0.95) -> float:
    """One-sided ``confidence`` lower bound (Wilson score) of a sensitivity of ``caught``/``melanomas``."""
    return float(binomtest(caught, melanomas).proportion_ci(2 * confidence - 1, method="wilson").low)


def choose_operating_point(probs: np.ndarray, y_true: np.ndarray, min_sensitivity: float = 0.90,
                           melanoma_floor: float | None = None) -> dict:
    """Highest threshold on P(mel)+P(bcc)+P(akiec) whose sensitivity is still >= ``min_sensitivity`` and,
    with ``melanoma_floor``, whose melanoma sensitivity is >= the floor with 95% confidence (the one-sided
    Wilson lower bound on validation): validation holds only ~100 melanomas, so a point estimate that just
    reaches the floor falls below it on new images about half the time.

    The highest such threshold gives the best specificity at the required sensitivity.
    """
    score = malignancy_score(probs)
    positive = is_malignant(y_true)
    melanoma = y_true == CLASSES.index("mel")
    if not positive.any():
        raise ValueError("The validation set has no malignant images; cannot choose an operating point.")
    if melanoma_floor is not None and not melanoma.any():
        raise ValueError("The validation set has no melanoma; cannot hold the operating point to a melanoma floor.")
    candidates = np.sort(np.unique(score[positive]))[::-1]
    for threshold in candidates:
        rates = sensitivity_specificity(positive, score >= threshold)
        caught = int((score[melanoma] >= threshold).sum())
        bound = melanoma_sensitivity_lower_bound(caught, int(melanoma.sum())) if melanoma.any() else None
        if rates["sensitivity"] >= min_sensitivity and (melanoma_floor is None or bound >= melanoma_floor):
            return {
                "threshold": float(threshold),
                "target_sensitivity": min_sensitivity,
                "validation_sensitivity": rates["sensitivity"],
                "validation_specificity": rates["specificity"],
                "melanoma_floor": melanoma_floor,
                "validation_melanoma_sensitivity": caught / int(melanoma.sum()) if melanoma.any() else None,
                "validation_melanoma_lower_bound": bound,
                "classes": list(MALIGNANT),
            }
    raise AssertionError("unreachable: the lowest positive score flags every positive")
