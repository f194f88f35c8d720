"""The fusion of the image's calibrated probabilities with age, sex and body site.

fused = softmax((log p_image + weight * [log q(c | context) - log q(c | nothing)]) / temperature)

q is a multinomial logistic regression (scikit-learn) on the context alone, fitted on the training split's
metadata; the bracket is the evidence the context adds beyond the class frequencies q learnt, so the image's
class-balance correction (already in p_image) is kept. This is a product of experts: it assumes the photo
and the context are independent given the diagnosis, and in exchange needs no image logits on the training
split at all. Those would have to be out-of-fold (k retrainings of the shipped recipe, 25-60 CPU minutes
each) because the shipped model's own logits on its training images are overconfident; this route costs
nothing and leaves only two numbers (weight, temperature) and the operating point to validation, which
the image-only calibration fits there already.

A row with no context at all is returned unchanged: exactly the image-only result, not an approximation.
Training rows are shown with fields randomly dropped so that q has learnt what partial context says.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression

from train.calibration.calibrate import choose_operating_point, fit_temperature
from train.calibration.calibrate import negative_log_likelihood as logit_log_likelihood
from train.context.encoding import Encoding

DROP_RATE = 0.3  # each field of each training copy is dropped at this rate
COPIES = 4  # the training split's rows shown this many times, each with its own fields dropped
# The same floor as combine.py and the page: a float32 probability that underflowed to 0 must not give -inf.
SMALLEST_PROBABILITY = 1e-12
MAX_WEIGHT = 3.0


def with_dropped_fields(x: np.ndarray, y: np.ndarray, encoding: Encoding, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``x`` once as it is and ``COPIES - 1`` more times with each field zeroed at ``DROP_RATE``."""
    rng = np.random.default_rng(seed)
    copies = [x]
    for _ in range(COPIES - 1):
        copy = x.copy()
        for block in encoding.blocks.values():
            copy[rng.random(len(x)) < DROP_RATE, block] = 0.0
        copies.append(copy)
    return np.vstack(copies), np.tile(y, COPIES)


def fit_context_model(x: np.ndarray, y: np.ndarray, encoding: Encoding, c: float, n_classes: int,
                      seed: int = 0) -> dict:
    """q(class | context) on the training split's context features: plain coefficients for the page."""
    xs, ys = with_dropped_fields(x, y, encoding, seed)
    model = LogisticRegression(C=c, max_iter=5000).fit(xs, ys)
    coef = np.zeros((n_classes, x.shape[1]))
    intercept = np.full(n_classes, -50.0)  # a class the training split lacks stays (practically) impossible
    if len(model.classes_) == 2:  # scikit-learn's binary fit: one row, the second class's logit against the first's 0
        coef[model.classes_[0]], intercept[model.classes_[0]] = 0.0, 0.0
        coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0], model.intercept_[0]
    else:
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
    return {"coefficients": coef.tolist(), "intercept": intercept.tolist(), "c": c}


def context_scores(x: np.ndarray, model: dict) -> np.ndarray:
    """The regression's logits of each row's context."""
    return x @ np.asarray(model["coefficients"]).T + np.asarray(model["intercept"])


def context_probabilities(x: np.ndarray, model: dict) -> np.ndarray:
    """q(c | context), per row: what the context alone says."""
    return softmax(context_scores(x, model), axis=1)


def context_evidence(x: np.ndarray, model: dict) -> np.ndarray:
    """log q(c | context) - log q(c | nothing), per row."""
    return log_softmax(context_scores(x, model), axis=1) - log_softmax(np.asarray(model["intercept"]))


def fused_logits(probs: np.ndarray, x: np.ndarray, model: dict, weight: float) -> np.ndarray:
    return np.log(np.clip(probs, SMALLEST_PROBABILITY, None)) + weight * context_evidence(x, model)


def fuse(probs: np.ndarray, x: np.ndarray, fusion: dict) -> np.ndarray:
    """The fused probabilities; rows without any context are the image's probabilities, untouched."""
    probs = np.asarray(probs, dtype=float)
    out = probs.copy()
    given = np.asarray(x).any(axis=1)
    if given.any():
        z = fused_logits(probs[given], np.asarray(x)[given], fusion, fusion["weight"])
        out[given] = softmax(z / fusion["temperature"], axis=1)
    return out


def negative_log_likelihood(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], SMALLEST_PROBABILITY, None)).mean())


def recalibrate(model: dict, probs: np.ndarray, x: np.ndarray, y: np.ndarray, operating_point: dict) -> dict:
    """Weight, then temperature (both by validation log loss), then the operating point by the image-only
    rule (same target sensitivity and melanoma floor) on the fused validation probabilities."""
    def loss(weight: float) -> float:
        return logit_log_likelihood(fused_logits(probs, x, model, weight), y, 1.0)

    weight = float(minimize_scalar(loss, bounds=(0.0, MAX_WEIGHT), method="bounded").x)
    temperature = fit_temperature(fused_logits(probs, x, model, weight), y)
    fusion = {**model, "weight": weight, "temperature": temperature}
    fusion["operating_point"] = choose_operating_point(fuse(probs, x, fusion), y, operating_point["target_sensitivity"],
                                                       operating_point.get("melanoma_floor"))
    return fusion
