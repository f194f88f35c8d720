"""Class-balance correction, temperature and the test-time-augmentation rule, on constructed examples."""
from __future__ import annotations

import numpy as np
import pytest

from train.calibration.calibrate import (
    calibrate,
    calibrated_probabilities,
    class_bias,
    fit_prior_strength,
    training_prior,
)
from train.studies.tta import decide


def test_training_prior_follows_the_imbalance_strategy():
    counts = np.array([100, 25, 0, 400])
    np.testing.assert_allclose(training_prior(counts, "sampling"), np.array([10, 5, 0, 20]) / 35)
    np.testing.assert_allclose(training_prior(counts, "weights"), np.array([1, 1, 0, 1]) / 3)
    np.testing.assert_allclose(training_prior(counts, "none"), counts / 525)


def under_calling_model(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """7-class logits of a model that learnt a 90/10 nv/mel prior: melanomas score just below nevi too often.
    The other classes never occur and score far below."""
    rng = np.random.default_rng(seed)
    mel, nv = 4, 5
    y = np.where(rng.random(n) < 0.2, mel, nv)
    prior = np.full(7, 1e-3)
    prior[[mel, nv]] = [0.1, 0.9]
    logits = np.full((n, 7), -40.0)
    logits[:, nv] = 0.0
    logits[:, mel] = np.where(y == mel, 1.0, -1.0) + rng.normal(0, 1.0, n) + np.log(prior[mel] / prior[nv])
    return logits, y, prior / prior.sum()


def balanced_accuracy(y, pred):
    return np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)])


def test_prior_correction_recovers_the_rare_class():
    logits, y, prior = under_calling_model()
    strength = fit_prior_strength(logits, y, prior)
    assert strength > 0
    corrected = (logits + class_bias(prior, strength)).argmax(1)
    assert balanced_accuracy(y, corrected) > balanced_accuracy(y, logits.argmax(1)) + 0.1


def test_calibration_is_one_consistent_rule():
    logits, y, prior = under_calling_model()
    calibration = calibrate(logits, y, prior, min_sensitivity=0.9)
    probs = calibrated_probabilities(logits, calibration)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    expected = np.exp((logits + calibration["class_bias"]) / calibration["temperature"])
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True))
    assert calibration["temperature"] > 0
    assert len(calibration["class_bias"]) == 7
    assert calibration["operating_point"]["validation_sensitivity"] >= 0.9


@pytest.mark.parametrize("gain,ms,budget,chosen", [
    (0.010, 20.0, 50.0, 2),   # worth it and affordable
    (0.004, 20.0, 50.0, 1),   # too small a gain
    (0.010, 30.0, 50.0, 1),   # two views would take 60 ms > 50 ms
    (0.010, 20.0, None, 1),   # no benchmark: latency unknown, stay off
])
def test_tta_is_on_only_for_a_real_gain_within_the_latency_budget(gain, ms, budget, chosen):
    rows = [{"views": 1, "balanced_accuracy": 0.70, "estimated_ms": ms},
            {"views": 2, "balanced_accuracy": 0.70 + gain, "estimated_ms": 2 * ms}]
    assert decide(rows, budget) == chosen
