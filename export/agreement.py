"""How far two sets of probabilities for the same images agree: what parity checks (Keras against the browser)
and what the quantization rule judges (an export against the full-precision model)."""
from __future__ import annotations

import numpy as np

from train.calibration.calibrate import malignancy_score

TIE = 1e-6


def agreement(keras_probs: np.ndarray, browser_probs: np.ndarray) -> dict:
    """Top-1 agreement (the browser's top class is also Keras' top class, up to exact ties), the most Keras
    probability any browser top pick gives up (a float16 model may flip near-ties), and |dp|."""
    picked = keras_probs[np.arange(len(keras_probs)), browser_probs.argmax(1)]
    diff = np.abs(keras_probs - browser_probs)
    return {
        "n_images": len(keras_probs),
        "top1_agreement": float((picked >= keras_probs.max(1) - TIE).mean()),
        "largest_top1_gap": float((keras_probs.max(1) - picked).max()),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }


def answer_agreement(reference: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """What a user would see change: the top class, the referral decision (malignancy score against the
    operating point) and the largest change of any probability, against ``reference`` probabilities. Like
    the top-1 agreement, a decision at an exact tie counts as kept."""
    match = agreement(reference, probs)
    before, after = malignancy_score(reference), malignancy_score(probs)
    # an image scored at the threshold itself (the operating point is a validation image's score) has no
    # decision to keep: float rounding alone flips it
    referral = ((before >= threshold) == (after >= threshold)) | (np.abs(before - threshold) <= TIE)
    return {"top1_agreement": match["top1_agreement"], "referral_agreement": float(referral.mean()),
            "max_abs_diff": match["max_abs_diff"]}
