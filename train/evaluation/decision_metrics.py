"""The figures of probabilities decided at an operating point: the classification metrics plus malignant and
melanoma sensitivity/specificity at its threshold, and the flat headline values the targets quote."""
from __future__ import annotations

import numpy as np

from train.calibration.calibrate import is_malignant, malignancy_score
from train.data.loading import CLASSES
from train.evaluation.metrics import classification_metrics, sensitivity_specificity


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
